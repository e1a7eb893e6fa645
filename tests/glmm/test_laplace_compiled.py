"""The compiled one-term objectives (Laplace, AGQ, nAGQ = 0) give the NumPy path's values."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FormulaError
from multilevel.glmm.family import get_family
from multilevel.glmm.objective import GLMMObjective
from multilevel.glmm.pirls import GLMMProblem
from multilevel.lmm import TermBlock, ThetaLayout

FAMILIES = [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"),
            ("poisson", "log")]


def problem(family, link, *, weights=False, offset=True, slope=False, seed=5):
    rng = np.random.default_rng(seed)
    n, nlev = 300, 20
    g = rng.integers(0, nlev, n)
    g[:nlev] = np.arange(nlev)
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x, rng.normal(size=n)])
    b = rng.normal(scale=0.8, size=nlev)
    eta = -0.3 + 0.7 * x + b[g]
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
        wt = np.ones(n)
    else:
        trials = rng.integers(1, 6, n).astype(float)
        y = rng.binomial(trials.astype(int), 1 / (1 + np.exp(-eta))) / trials
        wt = trials
    if weights:  # prior weights (non-integer: the binomial's trials are then rounded)
        wt = wt * rng.uniform(0.5, 2.0, n)
    z = rng.uniform(0.5, 1.5, (n, 1)) if slope else np.ones((n, 1))
    term = TermBlock(g.astype(np.intp), z, nlev)
    off = rng.normal(scale=0.2, size=n) if offset else np.zeros(n)
    return GLMMProblem(X, y, wt, off, (term,), get_family(family, link), ThetaLayout((1,)))


def pair(prob, nagq):
    fast = GLMMObjective(prob, nagq)
    slow = GLMMObjective(prob, nagq)
    slow._compiled = None
    assert fast._compiled is not None
    return fast, slow


@pytest.mark.parametrize("family,link", FAMILIES)
@pytest.mark.parametrize("nagq", [1, 2, 5, 25])
@pytest.mark.parametrize("weights,offset,slope", [(False, False, False), (True, True, False),
                                                  (False, True, True)])
def test_objective_equals_numpy_path(family, link, nagq, weights, offset, slope):
    prob = problem(family, link, weights=weights, offset=offset, slope=slope)
    fast, slow = pair(prob, nagq)
    rng = np.random.default_rng(1)
    # a sequence of calls, each warm-started from the previous modes, as in the optimizer
    beta = np.array([-0.2, 0.6, 0.0])
    for theta in (0.8, 0.0, 0.05, 2.5, 1.1):
        params = np.concatenate([[theta], beta + rng.normal(scale=0.1, size=3)])
        a, b = fast(params), slow(params)
        assert a == pytest.approx(b, rel=1e-10)
        np.testing.assert_allclose(fast._u, slow._u, rtol=1e-7, atol=1e-9)
    # the state at the same parameters gives the same Laplace value
    if nagq == 1:
        assert fast.state(params).laplace == pytest.approx(a, rel=1e-10)


@pytest.mark.parametrize("family,link", FAMILIES)
@pytest.mark.parametrize("weights", [False, True])
def test_joint_objective_equals_numpy_path(family, link, weights):
    """nAGQ = 0: PIRLS over u and β from the GLM-style start, then warm starts."""
    prob = problem(family, link, weights=weights)
    fast, slow = pair(prob, 0)
    for theta in (0.8, 0.0, 0.05, 2.5, 0.3):
        a, b = fast(np.array([theta])), slow(np.array([theta]))
        assert a == pytest.approx(b, rel=1e-10)
        np.testing.assert_allclose(fast._beta, slow._beta, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(fast._u, slow._u, rtol=1e-7, atol=1e-9)
    st = fast.state(np.array([0.3]))
    assert st.laplace == pytest.approx(a, rel=1e-10)


def test_joint_falls_back_on_a_singular_system():
    prob = problem("binomial", "logit")
    X = np.column_stack([prob.X, prob.X[:, 1]])  # a repeated column: no Cholesky
    bad = GLMMProblem(X, prob.y, prob.prior_weights, prob.offset, prob.terms, prob.family,
                      prob.layout)
    obj = GLMMObjective(bad, 0)
    assert obj._compiled is not None
    assert obj._compiled.joint(0.5, None, None) is None
    obj(np.array([0.5]))  # the general path answers (whatever it makes of it)


def test_not_compiled_elsewhere():
    prob = problem("binomial", "logit")
    for fam in (get_family("binomial", "cauchit"), get_family("poisson", "sqrt"),
                get_family("negative.binomial"), get_family("Gamma", "log")):
        assert GLMMObjective(prob.with_family(fam), 1)._compiled is None
    two = GLMMProblem(prob.X, prob.y, prob.prior_weights, prob.offset, prob.terms * 2,
                      prob.family, ThetaLayout((1, 1)))
    assert GLMMObjective(two, 1)._compiled is None


def test_binomial_all_zero_trials_rows():
    """Rows with zero trials contribute nothing (as loglik_terms' m > 0 rule)."""
    prob = problem("binomial", "logit", offset=False)
    wt = prob.prior_weights.copy()
    wt[::7] = 0.0
    zero = GLMMProblem(prob.X, prob.y, wt, prob.offset, prob.terms, prob.family, prob.layout)
    for nagq in (1, 9):
        fast, slow = pair(zero, nagq)
        params = np.array([0.7, -0.2, 0.6, 0.1])
        assert fast(params) == pytest.approx(slow(params), rel=1e-10)


def _fit(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(formula, data, family="binomial", **kw)


def test_cbind_direct_columns_agree_with_the_evaluator():
    cbpp = ml.datasets.load("cbpp")
    a = _fit("cbind(incidence, size - incidence) ~ period + (1|herd)", cbpp)
    cb = cbpp.assign(fail=cbpp["size"] - cbpp["incidence"])
    b = _fit("cbind(incidence, fail) ~ period + (1|herd)", cb)
    # I() keeps the expression evaluator (no direct path): the same fit
    c = _fit("cbind(incidence, I(size - incidence)) ~ period + (1|herd)", cbpp)
    ints = cbpp.assign(incidence=cbpp["incidence"].astype(int), size=cbpp["size"].astype(int))
    d = _fit("cbind(incidence, size - incidence) ~ period + (1|herd)", ints)
    for m in (b, c, d):
        assert m.objective == a.objective
        np.testing.assert_array_equal(m.fixef, a.fixef)


def test_cbind_errors():
    cbpp = ml.datasets.load("cbpp")
    neg = cbpp.assign(size=cbpp["size"] - 30.0)
    with pytest.raises(DataError, match="must be >= 0"):
        _fit("cbind(incidence, size - incidence) ~ period + (1|herd)", neg)
    from multilevel.fit import parsed_formula
    from multilevel.glmm.response import glmm_response

    resp = parsed_formula("cbind(incidence, size - incidence) ~ period + (1|herd)").response
    nan = cbpp.assign(size=cbpp["size"].where(cbpp.index != 3))
    with pytest.raises(DataError, match="'size - incidence' has missing or infinite values"):
        glmm_response(resp, nan, get_family("binomial"))
    # a factor or logical operand goes through the evaluator and its errors
    fac = cbpp.assign(size=pd.Categorical(cbpp["size"]))
    with pytest.raises(FormulaError, match="cannot evaluate 'size - incidence'"):
        glmm_response(resp, fac, get_family("binomial"))


@pytest.mark.parametrize("family,link", FAMILIES)
def test_rx_vcov_schur_equals_the_general_system(family, link):
    from multilevel.glmm.fit import _rx_vcov
    from multilevel.lmm import estimates, update_factor

    prob = problem(family, link, weights=True, slope=True)
    obj = GLMMObjective(prob, 1)
    st = obj.state(np.array([0.9, -0.2, 0.6, 0.1]))
    fam = prob.family
    wts = prob.prior_weights * fam.link.mu_eta(st.eta) ** 2 / fam.variance(st.mu)
    system = prob.structure_ub.assemble(np.zeros(prob.y.shape[0]), wts)
    want = estimates(system, update_factor(system, st.factor.theta), reml=False).vcov_unscaled
    np.testing.assert_allclose(_rx_vcov(prob, st), want, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("nagq", [0, 1, 9])
def test_modes_equal_the_state(nagq):
    prob = problem("binomial", "logit", weights=True)
    params = np.array([0.7]) if nagq == 0 else np.array([0.7, -0.2, 0.6, 0.1])
    fast, slow = pair(prob, nagq)
    u, beta = fast.modes(params)
    st = slow.state(params)
    np.testing.assert_allclose(u, st.u, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(beta, st.beta, rtol=1e-7, atol=1e-9)
    u2, beta2 = slow.modes(params)  # without the compiled path: the state's
    np.testing.assert_allclose(u2, st.u, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(beta2, st.beta, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("nagq", [0, 1, 25])
def test_fit_equals_the_numpy_path(monkeypatch, nagq):
    """Whole fits (both optimizer stages, the convergence check's Hessian) agree."""
    import multilevel.glmm.objective as objective_mod

    cbpp = ml.datasets.load("cbpp")
    formula = "cbind(incidence, size - incidence) ~ period + (1|herd)"
    fast = _fit(formula, cbpp, nagq=nagq)
    monkeypatch.setattr(objective_mod.ScalarObjective, "build", classmethod(lambda c, p: None))
    slow = _fit(formula, cbpp, nagq=nagq)
    assert fast.objective == pytest.approx(slow.objective, rel=1e-10)
    np.testing.assert_allclose(fast.fixef, slow.fixef, rtol=1e-5)
    np.testing.assert_allclose(fast.theta, slow.theta, rtol=1e-5)
    np.testing.assert_allclose(fast.se, slow.se, rtol=1e-4)


@pytest.mark.parametrize("code", [0, 1])
def test_shared_exponentials_equal_the_direct_formula(code):
    """The z ≡ 1 quadrature (exponentials per level and node) against the per-node formula,
    with η far out where the products over- or underflow and the direct formula answers."""
    from multilevel.glmm import scalar_kernels as k

    rng = np.random.default_rng(4)
    n, nlev = 200, 8
    index = np.arange(n) % nlev
    eta = rng.normal(scale=3.0, size=n)
    eta[:6] = [750.0, -750.0, 40.0, -40.0, 705.0, -705.0]
    if code == 1:
        y = rng.poisson(2.0, n).astype(float)
        wt, trials, succ = rng.uniform(0.5, 2.0, n), np.zeros(n), np.zeros(n)
    else:
        trials = rng.integers(0, 5, n).astype(float)
        succ = np.floor(trials * rng.uniform(size=n))
        y, wt = np.where(trials > 0, succ / np.maximum(trials, 1), 0.0), trials
    const = rng.normal(size=n)
    zl = np.full(n, 1.7)
    ldiag = rng.uniform(1.0, 3.0, nlev)
    nodes = np.polynomial.hermite_e.hermegauss(25)[0]
    got = np.zeros((nlev, 25))
    k.quadrature_unit_z(eta, zl, index, ldiag, nodes, y, wt, trials, succ, const, code, got)
    want = np.zeros((nlev, 25))
    for i in range(n):
        for j, t in enumerate(nodes):
            want[index[i], j] += k.m2ll_eta(y[i], wt[i], trials[i], succ[i], const[i],
                                            eta[i] + t * zl[i] / ldiag[index[i]], code)
    np.testing.assert_allclose(got, want, rtol=1e-12)
