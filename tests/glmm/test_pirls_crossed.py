"""The compiled multi-term PIRLS gives the general PIRLS's answer (same rules, same numbers)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import multilevel as ml
from multilevel.glmm import pirls_crossed
from multilevel.glmm.family import get_family
from multilevel.glmm.fit import _problem
from multilevel.glmm.pirls import GLMMProblem, pirls
from multilevel.lmm import TermBlock, ThetaLayout


def general(prob: GLMMProblem) -> GLMMProblem:
    """The same problem, forced onto the general (NumPy) path."""
    out = GLMMProblem(prob.X, prob.y, prob.prior_weights, prob.offset, prob.terms, prob.family,
                      prob.layout)  # fmt: skip
    out.__dict__["crossed_plan"] = None
    return out


def simulated(family: str, link: str, nterms: int = 3, seed: int = 5) -> GLMMProblem:
    """A crossed design (first term most levels), with a slope-only term when nterms = 3."""
    rng = np.random.default_rng(seed)
    n, sizes = 900, (60, 15, 8)[:nterms]
    idx = [rng.integers(0, s, n) for s in sizes]
    for i, s in zip(idx, sizes, strict=True):
        i[:s] = np.arange(s)
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x, rng.normal(size=n)])
    zs = [np.ones(n), np.ones(n), x][:nterms]
    eta = -0.4 + 0.5 * x
    for i, s, z, sd in zip(idx, sizes, zs, (0.9, 0.6, 0.4), strict=False):
        eta = eta + z * rng.normal(scale=sd, size=s)[i]
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
        wt = np.ones(n)
    else:
        trials = rng.integers(1, 5, n).astype(float)
        p = 1 / (1 + np.exp(-eta))
        y = rng.binomial(trials.astype(int), p) / trials
        wt = trials
    terms = tuple(
        TermBlock(i.astype(np.intp), z[:, None], s) for i, z, s in zip(idx, zs, sizes, strict=True)
    )
    off = rng.normal(scale=0.1, size=n)
    return GLMMProblem(X, y, wt, off, terms, get_family(family, link),
                       ThetaLayout((1,) * nterms))  # fmt: skip


@pytest.fixture(scope="module")
def verbagg() -> GLMMProblem:
    data = ml.datasets.load("VerbAgg")
    prob, _ = _problem("r2 ~ Anger + Gender + btype + situ + (1|id) + (1|item)", data,
                       get_family("binomial"), None, None, None, "omit")  # fmt: skip
    return prob


def assert_same(fast, slow, rtol=1e-12):
    assert fast.converged and slow.converged
    assert fast.iterations == slow.iterations
    assert fast.laplace == pytest.approx(slow.laplace, rel=rtol)
    assert fast.minus2loglik == pytest.approx(slow.minus2loglik, rel=rtol)
    assert fast.deviance == pytest.approx(slow.deviance, rel=1e-10)
    assert fast.factor.logdet_l() == pytest.approx(slow.factor.logdet_l(), rel=1e-11, abs=1e-10)
    np.testing.assert_allclose(fast.u, slow.u, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(fast.beta, slow.beta, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(fast.mu, slow.mu, rtol=1e-10, atol=1e-13)
    ff, fs = fast.factor, slow.factor
    np.testing.assert_allclose(ff.l11, fs.l11, rtol=1e-11)
    np.testing.assert_allclose(ff.p1, fs.p1, rtol=1e-11)
    np.testing.assert_allclose(ff.theta, fs.theta)
    assert len(ff.l_blocks) == len(fs.l_blocks)
    for a, b in zip(ff.l_sparse, fs.l_sparse, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a.toarray(), b.toarray(), rtol=1e-10, atol=1e-13)
    assert ff.l_dense.keys() == fs.l_dense.keys()
    for key in ff.l_dense:
        np.testing.assert_allclose(ff.l_dense[key], fs.l_dense[key], rtol=1e-10, atol=1e-13)
    for a, b in zip(ff.l_x, fs.l_x, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ff.l_xx, fs.l_xx)


@pytest.mark.parametrize("theta", [[1.3, 0.5], [0.0, 0.4], [2.5, 0.0], [0.05, 3.0]])
def test_verbagg_laplace_state(verbagg, theta):
    beta = np.array([0.2, 0.057, 0.32, -1.06, -2.1, -1.055])
    assert verbagg.crossed_plan is not None
    fast = pirls(verbagg, np.array(theta), beta)
    slow = pirls(general(verbagg), np.array(theta), beta)
    assert_same(fast, slow)
    # warm start from the answer stays there
    again = pirls(verbagg, np.array(theta), beta, u0=fast.u)
    assert again.laplace == pytest.approx(slow.laplace, rel=1e-12)


@pytest.mark.parametrize("theta", [[1.3, 0.5], [0.3, 1.2]])
def test_verbagg_nagq0_state(verbagg, theta):
    fast = pirls(verbagg, np.array(theta), None)
    slow = pirls(general(verbagg), np.array(theta), None)
    assert_same(fast, slow)
    u0, b0 = fast.u * 0.9, fast.beta + 0.05
    assert_same(pirls(verbagg, np.array(theta), None, u0, b0),
                pirls(general(verbagg), np.array(theta), None, u0, b0))  # fmt: skip


@pytest.mark.parametrize(
    "family,link,nterms",
    [("poisson", "log", 3), ("binomial", "probit", 2), ("binomial", "probit", 3),
     ("binomial", "cloglog", 3), ("binomial", "logit", 3)],
)
@pytest.mark.parametrize("scale", [0.3, 1.0, 2.0])
def test_simulated_states(family, link, nterms, scale):
    prob = simulated(family, link, nterms)
    assert prob.crossed_plan is not None
    theta = scale * np.array([0.9, 0.6, 0.4][:nterms])
    beta = np.array([-0.4, 0.5, 0.1])
    assert_same(pirls(prob, theta, beta), pirls(general(prob), theta, beta))
    assert_same(pirls(prob, theta, None), pirls(general(prob), theta, None))


def test_iteration_limit_and_status_agree():
    prob = simulated("poisson", "log", 3)
    theta, beta = np.array([0.9, 0.6, 0.4]), np.array([-0.4, 0.5, 0.1])
    fast = pirls(prob, theta, beta, maxiter=2)
    slow = pirls(general(prob), theta, beta, maxiter=2)
    assert not fast.converged and not slow.converged
    assert fast.iterations == slow.iterations == 2
    assert fast.laplace == pytest.approx(slow.laplace, rel=1e-12)


def test_plan_only_where_it_applies(monkeypatch):
    prob = simulated("poisson", "log", 3)
    sizes = prob.crossed_plan.sizes
    assert sizes == (15, 8)
    vector = TermBlock(prob.terms[1].index, np.column_stack([np.ones(900), prob.X[:, 1]]), 15)
    two = GLMMProblem(prob.X, prob.y, prob.prior_weights, prob.offset,
                      (prob.terms[0], vector), prob.family, ThetaLayout((1, 2)))  # fmt: skip
    assert two.crossed_plan is None  # a vector-valued term: general path
    gamma = GLMMProblem(prob.X, prob.y + 0.5, prob.prior_weights, prob.offset, prob.terms,
                        get_family("Gamma", "log"), prob.layout)  # fmt: skip
    assert gamma.crossed_plan is None
    monkeypatch.setattr(pirls_crossed, "MAX_LATER", 20)
    big = GLMMProblem(prob.X, prob.y, prob.prior_weights, prob.offset, prob.terms, prob.family,
                      prob.layout)  # fmt: skip
    assert big.crossed_plan is None  # 23 later levels


@pytest.mark.parametrize("family,link", [("poisson", "log"), ("binomial", "logit")])
def test_dense_and_sparse_downdates_agree(family, link):
    prob = simulated(family, link, 3, seed=11)
    theta, beta = np.array([0.8, 0.5, 0.3]), np.array([-0.4, 0.5, 0.1])
    slow = pirls(general(prob), theta, beta)
    for dense in (True, False):
        other = general(prob)
        other.__dict__["crossed_plan"] = replace(prob.crossed_plan, dense=dense)
        assert_same(pirls(other, theta, beta), slow)
        assert_same(pirls(other, theta, None), pirls(general(prob), theta, None))


@pytest.mark.parametrize("family,link", [("poisson", "log"), ("binomial", "logit")])
def test_saturated_constant_is_loglik_minus_deviance(family, link):
    prob = simulated(family, link, 2, seed=4)
    fam = prob.family
    plan = prob.crossed_plan
    assert plan.saturated is not None
    rng = np.random.default_rng(0)
    for _ in range(3):
        mu = fam.link.linkinv(rng.normal(scale=1.5, size=prob.y.shape[0]))
        dev = np.sum(fam.dev_resids(prob.y, mu, prob.prior_weights))
        m2ll = np.sum(fam.loglik_terms(prob.y, mu, prob.prior_weights, dev))
        assert dev + plan.saturated == pytest.approx(m2ll, rel=1e-13)


def test_non_integer_trials_use_the_likelihood():
    prob = simulated("binomial", "logit", 3, seed=6)
    weighted = GLMMProblem(prob.X, prob.y, prob.prior_weights * 0.7, prob.offset, prob.terms,
                           prob.family, prob.layout)  # fmt: skip
    assert weighted.crossed_plan is not None and weighted.crossed_plan.saturated is None
    theta, beta = np.array([0.9, 0.6, 0.4]), np.array([-0.4, 0.5, 0.1])
    assert_same(pirls(weighted, theta, beta), pirls(general(weighted), theta, beta))
    assert_same(pirls(weighted, theta, None), pirls(general(weighted), theta, None))


def test_nested_terms():
    """(1 | school:class) + (1 | school): every first-term level meets one later level."""
    rng = np.random.default_rng(8)
    nschool, per, n = 20, 6, 1500
    cls = rng.integers(0, nschool * per, n)
    cls[: nschool * per] = np.arange(nschool * per)
    school = cls // per
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    eta = 0.3 + 0.4 * X[:, 1] + rng.normal(scale=0.5, size=nschool * per)[cls]
    eta += rng.normal(scale=0.7, size=nschool)[school]
    y = rng.poisson(np.exp(eta)).astype(float)
    terms = (TermBlock(cls.astype(np.intp), np.ones((n, 1)), nschool * per),
             TermBlock(school.astype(np.intp), np.ones((n, 1)), nschool))  # fmt: skip
    prob = GLMMProblem(X, y, np.ones(n), np.zeros(n), terms, get_family("poisson"),
                       ThetaLayout((1, 1)))  # fmt: skip
    assert prob.crossed_plan is not None and not prob.crossed_plan.dense
    for theta in ([0.5, 0.7], [0.0, 1.0], [1.0, 0.0]):
        th = np.array(theta)
        assert_same(pirls(prob, th, np.array([0.3, 0.4])),
                    pirls(general(prob), th, np.array([0.3, 0.4])))  # fmt: skip
        assert_same(pirls(prob, th, None), pirls(general(prob), th, None))
