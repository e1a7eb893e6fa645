"""The compiled one-term PIRLS gives the general PIRLS's answer (same rules, same optimum)."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel.glmm.pirls as pirls_mod
from multilevel.glmm.family import get_family
from multilevel.glmm.pirls import GLMMProblem, pirls
from multilevel.lmm import TermBlock, ThetaLayout


def problem(family, link, seed=3):
    rng = np.random.default_rng(seed)
    n, nlev = 400, 25
    g = rng.integers(0, nlev, n)
    g[:nlev] = np.arange(nlev)
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    b = rng.normal(scale=0.8, size=nlev)
    eta = -0.3 + 0.7 * x + b[g]
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
        wt = np.ones(n)
    else:
        trials = rng.integers(1, 6, n).astype(float)
        y = rng.binomial(trials.astype(int), 1 / (1 + np.exp(-eta))) / trials
        wt = trials
    fam = get_family(family, link)
    term = TermBlock(g.astype(np.intp), np.ones((n, 1)), nlev)
    off = rng.normal(scale=0.1, size=n)
    return GLMMProblem(X, y, wt, off, (term,), fam, ThetaLayout((1,)))


@pytest.mark.parametrize(
    "family,link", [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"),
                    ("poisson", "log")]
)
@pytest.mark.parametrize("theta", [0.05, 0.8, 2.5])
def test_compiled_equals_general(monkeypatch, family, link, theta):
    prob = problem(family, link)
    beta = np.array([-0.2, 0.6])
    fast = pirls(prob, np.array([theta]), beta)
    monkeypatch.setattr(pirls_mod, "family_code", lambda fam: None)
    slow = pirls(prob, np.array([theta]), beta)
    assert fast.converged and slow.converged
    assert fast.laplace == pytest.approx(slow.laplace, rel=1e-11)
    np.testing.assert_allclose(fast.u, slow.u, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fast.mu, slow.mu, rtol=1e-9)
    np.testing.assert_allclose(fast.factor.l11, slow.factor.l11, rtol=1e-9)
    # a warm start from the answer stays there
    again = pirls(prob, np.array([theta]), beta, u0=fast.u)
    assert again.laplace == pytest.approx(slow.laplace, rel=1e-11)


@pytest.mark.parametrize(
    "family,link", [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"),
                    ("poisson", "log")]
)
def test_observation_kernels_equal_the_family(family, link):
    from multilevel.glmm.pirls_compiled import family_code, mu_deviance, working

    prob = problem(family, link, seed=9)
    fam = prob.family
    eta = np.random.default_rng(2).normal(scale=1.5, size=prob.y.shape[0])
    code = family_code(fam)
    mu, dev = mu_deviance(eta, prob.y, prob.prior_weights, code)
    np.testing.assert_allclose(mu, fam.link.linkinv(eta), rtol=1e-13)
    assert dev == pytest.approx(np.sum(fam.dev_resids(prob.y, mu, prob.prior_weights)),
                                rel=1e-12)
    w, r = working(eta, mu, prob.y, prob.prior_weights, code)
    me = fam.link.mu_eta(eta)
    np.testing.assert_allclose(w, prob.prior_weights * me**2 / fam.variance(mu), rtol=1e-12)
    np.testing.assert_allclose(r, (prob.y - mu) / me, rtol=1e-12, atol=1e-14)
    # η far out: μ at the edge of the family's range (or clipped inside it) as the NumPy path
    # has it, and no exception; a μ outside the range gives a NaN deviance (step-halving)
    big = np.full_like(eta, 800.0)
    mu_b, dev_b = mu_deviance(big, prob.y, prob.prior_weights, code)
    ref_mu = fam.link.linkinv(big)
    np.testing.assert_allclose(mu_b, ref_mu, rtol=1e-13)
    if fam.valid_mu(ref_mu):
        with np.errstate(all="ignore"):
            want = np.sum(fam.dev_resids(prob.y, ref_mu, prob.prior_weights))
        assert dev_b == pytest.approx(want, rel=1e-12, nan_ok=True)
    else:
        assert np.isnan(dev_b)
