"""simulate, bootstrap and prediction intervals of GLMMs, checked against the fitted model.

Seeded; tolerances are several Monte Carlo standard errors, so the checks fail only if the
simulated distribution is wrong (a wrong variance or a missing random effect), not by chance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

import multilevel as ml
from multilevel.glmm.family import get_family
from multilevel.inference.glmm_simulate import family_draws
from tests.conftest import load_dataset
from tests.inference.conftest import quiet_fit

NSIM = 4000


@pytest.fixture(scope="module")
def cbpp_fit():
    return quiet_fit("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     ml.datasets.load("cbpp"), family="binomial")


@pytest.fixture(scope="module")
def grouse_fit():
    return quiet_fit("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", load_dataset("grouseticks"),
                     family="poisson")


def _zmax(sample_mean, mean, var, n):
    return float(np.max(np.abs(sample_mean - mean) / np.sqrt(var / n)))


@pytest.mark.parametrize(
    ("family", "weights", "disp", "var"),
    [
        ("binomial", 7.0, 1.0, lambda mu, w, phi: mu * (1 - mu) / w),
        ("poisson", 1.0, 1.0, lambda mu, w, phi: mu),
        ("negative.binomial", 1.0, 1.0, lambda mu, w, phi: mu + mu**2 / 2.5),
        ("Gamma", 2.0, 0.3, lambda mu, w, phi: phi * mu**2 / w),
        ("inverse.gaussian", 1.0, 0.2, lambda mu, w, phi: phi * mu**3 / w),
    ],
)
def test_family_draw_moments(family, weights, disp, var):
    fam = get_family(family, theta=2.5 if family == "negative.binomial" else None)
    mu = np.array([0.2, 0.5, 0.7]) if family == "binomial" else np.array([0.5, 2.0, 6.0])
    rng = np.random.default_rng(11)
    draws = family_draws(fam, np.broadcast_to(mu, (20000, 3)), weights, disp, rng)
    n = draws.shape[0]
    v = var(mu, weights, disp)
    assert _zmax(draws.mean(axis=0), mu, v, n) < 4.5
    # sample variances within 5 SEs (fourth moments bounded by a generous 10 v²)
    assert np.all(np.abs(draws.var(axis=0, ddof=1) / v - 1) < 5 * np.sqrt(10 / n) + 0.02)
    if family == "binomial":
        np.testing.assert_allclose(draws * weights, np.round(draws * weights), atol=1e-12)


def test_simulate_binomial_conditional(cbpp_fit):
    m = cbpp_fit
    sims = m.simulate(NSIM, seed=1, re_form=None)
    assert sims.shape == (m.nobs, NSIM)
    trials = m.problem.prior_weights
    counts = sims.to_numpy() * trials[:, None]
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    assert np.all((counts >= 0) & (counts <= trials[:, None]))
    mu = m.fitted.to_numpy()
    assert _zmax(sims.mean(axis=1), mu, mu * (1 - mu) / trials, NSIM) < 4.5
    ratio = sims.var(axis=1, ddof=1).to_numpy() / (mu * (1 - mu) / trials)
    assert abs(np.mean(ratio) - 1) < 0.03


def test_simulate_binomial_new_effects(cbpp_fit):
    m = cbpp_fit
    sims = m.simulate(NSIM, seed=2).to_numpy()
    # E[y] = ∫ expit(η + τ z) φ(z) dz with the population-level η
    eta = m.predict(re_form="~0", type="link").to_numpy()
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    weights = weights / weights.sum()
    tau = float(m.theta[0])
    mean = special.expit(eta[:, None] + tau * nodes[None, :]) @ weights
    second = special.expit(eta[:, None] + tau * nodes[None, :]) ** 2 @ weights
    trials = m.problem.prior_weights
    var = (mean - second) / trials + (second - mean**2)  # E[Var(y|b)] + Var(E[y|b])
    assert _zmax(sims.mean(axis=1), mean, var, NSIM) < 4.5
    # random effects are shared within a herd: rows of one herd are correlated
    herd = m.design.terms[0].grouping.codes
    first = np.flatnonzero(herd == 0)[:2]
    assert np.corrcoef(sims[first[0]], sims[first[1]])[0, 1] > 0.1


def test_simulate_poisson_new_effects(grouse_fit):
    m = grouse_fit
    sims = m.simulate(NSIM, seed=3, re_form="~0").to_numpy()
    eta = m.predict(re_form="~0", type="link").to_numpy()
    s2 = float(m.theta[0]) ** 2
    mean = np.exp(eta + s2 / 2)
    var = mean + np.exp(2 * eta + s2) * np.expm1(s2)
    # lognormal tails: compare the rows with moderate means on the mean only
    assert _zmax(sims.mean(axis=1), mean, var, NSIM) < 5.0
    np.testing.assert_array_equal(sims, np.round(sims))


def test_simulate_gamma_conditional():
    m = quiet_fit("ygamma ~ x + (1 | g)", load_dataset("positive"), family="Gamma", link="log")
    sims = m.simulate(NSIM, seed=4, re_form=None).to_numpy()
    mu = m.fitted.to_numpy()
    phi = m.sigma**2
    assert _zmax(sims.mean(axis=1), mu, phi * mu**2, NSIM) < 4.5
    ratio = sims.var(axis=1, ddof=1) / (phi * mu**2)
    assert abs(np.mean(ratio) - 1) < 0.03


def test_simulate_seeded_and_rejects_bad_nsim(cbpp_fit):
    a = cbpp_fit.simulate(3, seed=7)
    assert a.equals(cbpp_fit.simulate(3, seed=7))
    assert not a.equals(cbpp_fit.simulate(3, seed=8))
    with pytest.raises(ml.ModelError):
        cbpp_fit.simulate(0)


def test_bootstrap_glmm(cbpp_fit):
    m = cbpp_fit
    boot = ml.bootstrap(m, 60, seed=5, progress=False)
    assert list(boot.t0.index) == ["sd_(Intercept)|herd", *m.fixef.index]
    assert boot.nfailed == 0
    # bootstrap SEs of the fixed effects near the Hessian-based SEs (SE of an SD from 60
    # replicates is about 9%)
    ratio = boot.se[m.fixef.index] / m.se
    assert np.all((ratio > 0.7) & (ratio < 1.35))
    ci = boot.confint()
    assert np.all(ci["lower"] < boot.t0) and np.all(boot.t0 < ci["upper"])
    # same seed, same replicates
    a = ml.bootstrap(m, 3, seed=5, progress=False)
    pd.testing.assert_frame_equal(a.replicates, ml.bootstrap(m, 3, seed=5,
                                                             progress=False).replicates)


def test_bootstrap_statistic_uses_refit_se(cbpp_fit):
    boot = ml.bootstrap(cbpp_fit, 4, seed=6, progress=False, statistic=lambda r: r.se)
    assert boot.replicates.notna().all().all()
    assert np.all(np.abs(boot.replicates.mean() / cbpp_fit.se - 1) < 0.3)


def test_confint_boot_glmm(cbpp_fit):
    ci = cbpp_fit.confint(method="boot", nsim=20, seed=9, progress=False, parm="beta_")
    assert list(ci.index) == list(cbpp_fit.fixef.index)
    assert np.all(ci["lower"] < ci["upper"])


def test_refit_recovers_fit(cbpp_fit):
    from multilevel.inference.glmm_refit import refit_glmm

    again = refit_glmm(cbpp_fit, y=cbpp_fit.problem.y)
    assert again.objective == pytest.approx(cbpp_fit.objective, rel=1e-9)
    np.testing.assert_allclose(again.beta, cbpp_fit.beta, atol=1e-4)
    np.testing.assert_allclose(again.se, cbpp_fit.se, rtol=1e-3)


def test_predict_intervals(cbpp_fit, grouse_fit):
    m = cbpp_fit
    conf = m.predict(interval="confidence", seed=1, nsim=2000)
    assert list(conf.columns) == ["fit", "lower", "upper"]
    assert np.all((conf["lower"] < conf["fit"]) & (conf["fit"] < conf["upper"]))
    assert np.all((conf["lower"] > 0) & (conf["upper"] < 1))
    link = m.predict(interval="confidence", type="link", seed=1, nsim=2000)
    np.testing.assert_allclose(special.expit(link["fit"]), conf["fit"], rtol=1e-12)
    pred = m.predict(interval="prediction", seed=1, nsim=2000)
    assert np.all(pred["upper"] - pred["lower"] >= conf["upper"] - conf["lower"] - 1e-12)
    # population-level confidence intervals: width from cov(β̂) alone, close to the delta
    # method's on the link scale
    pop = m.predict(re_form="~0", interval="confidence", type="link", seed=2, nsim=4000)
    se = np.sqrt(np.einsum("ij,jk,ik->i", m.design.X, m.vcov.to_numpy(), m.design.X))
    np.testing.assert_allclose((pop["upper"] - pop["lower"]) / (2 * 1.959964 * se), 1.0,
                               atol=0.08)
    with pytest.raises(ml.ModelError, match="trials"):
        m.predict(newdata=m.data.head(3), interval="prediction")
    nd = load_dataset("grouseticks").head(4).assign(LOCATION="new")
    new = grouse_fit.predict(newdata=nd, allow_new_levels=True, interval="prediction", seed=3)
    assert np.all(new["lower"] <= new["fit"]) and np.all(new["fit"] <= new["upper"])
