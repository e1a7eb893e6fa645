"""Bayesian fits against the likelihood fits: sleepstudy, cbpp, and few groups (issue 6)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

pytest.importorskip("numpyro")
jax = pytest.importorskip("jax")

SLEEP = "Reaction ~ Days + (Days | Subject)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(*args, **kwargs)


def few_groups(seed: int, groups: int = 5, per: int = 8, tau: float = 0.5) -> pd.DataFrame:
    """y = 1 + x/2 + group effect (SD tau) + noise (SD 1), ``groups`` groups of ``per``."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=g.size)
    y = 1.0 + 0.5 * x + rng.normal(0.0, tau, groups)[g] + rng.normal(0.0, 1.0, g.size)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical([f"g{k}" for k in g])})


@pytest.fixture(scope="module")
def sleep():
    data = ml.datasets.load("sleepstudy")
    # the defaults: 4 chains, 1000 warmup, 1000 draws
    bayes = quiet(SLEEP, data, method="bayes", seed=20240601, progress=False)
    return bayes, quiet(SLEEP, data)


def test_sleepstudy_matches_reml(sleep):
    bayes, reml = sleep
    med = bayes.draws.median()
    fixed = med[list(reml.fixef.index)]
    assert np.all(np.abs(fixed / reml.fixef - 1.0) < 0.02)
    vc = reml.varcorr
    for name in ("(Intercept)", "Days"):
        target = float(vc[(vc.var1 == name) & vc.var2.isna()].sdcor.iloc[0])
        assert abs(med[f"sd_Subject__{name}"] / target - 1.0) < 0.15
    assert abs(med["sigma"] / reml.sigma - 1.0) < 0.05
    assert bayes.divergences == 0
    assert bayes.posterior_summary()["r_hat"].max() < 1.01
    assert bayes.diagnostics["ess_bulk"].min() > 400


def test_float64_and_jax_left_alone(sleep):
    bayes, _ = sleep
    assert bayes.posterior.beta.dtype == np.float64
    assert bayes.draws["Days"].dtype == np.float64
    assert not jax.config.jax_enable_x64  # sampled in float64 inside a scope only
    assert bayes.sampler.step_size.dtype == np.float64


def test_result_api(sleep):
    bayes, reml = sleep
    assert list(bayes.fixef.index) == ["(Intercept)", "Days"]
    assert bayes.nobs == 180 and bayes.ngroups == {"Subject": 18} and bayes.ndraws == 4000
    summ = bayes.posterior_summary(level=0.9)
    assert list(summ.columns) == ["mean", "sd", "lower", "upper", "r_hat", "ess_bulk"]
    assert "cor_Subject__(Intercept)__Days" in summ.index and "sigma" in summ.index
    assert summ.loc["Days", "mean"] == pytest.approx(bayes.fixef["Days"])
    assert len(bayes.posterior_summary(ranef=True)) == len(summ) + 36
    draws = bayes.draws
    assert draws.shape[0] == 4000 and {"chain", "draw", "r_Subject[308,Days]"} <= set(draws)
    ci = bayes.conf_int(0.9)
    assert list(ci.columns) == ["lower", "upper"]
    assert np.allclose(ci["lower"], summ.loc[ci.index, "lower"])
    assert bayes.se["Days"] == pytest.approx(summ.loc["Days", "sd"])
    assert bayes.vcov.shape == (2, 2)
    vc = bayes.varcorr
    assert list(vc.columns) == ["grp", "var1", "var2", "vcov", "sdcor"] and vc.var2[0] is None
    assert vc.grp.tolist() == ["Subject", "Subject", "Subject", "Residual"]
    re = bayes.ranef["Subject"]
    assert re.shape == (18, 2)
    assert np.corrcoef(re["Days"], reml.ranef["Subject"]["Days"])[0, 1] > 0.99
    text = bayes.summary()
    assert "Group-level effects" in text and "Divergences: 0" in text
    assert "BayesResult" in repr(bayes)
    priors = bayes.prior_summary()
    assert set(priors["class"]) == {"Intercept", "b", "sd", "cor", "sigma"}
    assert (priors["source"] == "default").all()


def test_predictions(sleep):
    bayes, reml = sleep
    data = ml.datasets.load("sleepstudy")
    fit = bayes.predict()
    assert np.corrcoef(fit, reml.fitted)[0, 1] > 0.999
    assert np.allclose(bayes.fitted, fit)
    assert np.allclose(bayes.residuals, data["Reaction"] - fit)
    band = bayes.predict(data.head(3), level=0.9)
    assert list(band.columns) == ["fit", "lower", "upper"]
    assert np.all((band.lower < band.fit) & (band.fit < band.upper))
    pop = bayes.predict(data.head(2), re_form="~0")
    assert pop.iloc[0] == pytest.approx(bayes.fixef["(Intercept)"], rel=1e-8)
    new = data.head(2).assign(Subject="new")
    with pytest.raises(ml.DataError):
        bayes.predict(new)
    a = bayes.posterior_epred(new, allow_new_levels=True, ndraws=200, seed=1)
    b = bayes.posterior_epred(new, allow_new_levels=True, ndraws=200, seed=1)
    assert a.shape == (200, 2) and np.array_equal(a, b)
    yrep = bayes.posterior_predict(ndraws=100, seed=2)
    assert yrep.shape == (100, 180)
    assert abs(yrep.std() / data["Reaction"].std() - 1.0) < 0.2


def test_reporting(sleep):
    bayes, _ = sleep
    tidy = bayes.tidy(conf_int=True, conf_level=0.9)
    fixed = tidy[tidy.effect == "fixed"].set_index("term")
    assert np.allclose(fixed["conf.low"], bayes.conf_int(0.9)["lower"])
    assert "statistic" not in tidy.columns
    out = bayes.to_dict()
    assert out["kind"] == "bayes" and out["method"] == "NUTS"
    assert out["family"] == "gaussian"
    stored = ml.from_json(bayes.to_json())
    assert ml.table(stored, se="ci") == ml.table(bayes, se="ci")
    assert "credible" in ml.table(bayes, se="ci")


def test_to_arviz(sleep):
    az = pytest.importorskip("arviz")
    bayes, _ = sleep
    idata = bayes.to_arviz()
    assert idata.posterior["b"].shape == (4, 1000, 2)
    assert idata.posterior["r_Subject"].shape == (4, 1000, 18, 2)
    assert int(idata.sample_stats["diverging"].sum()) == 0
    rhat = az.rhat(idata, var_names=["b"], method="rank")["b"].values
    ours = bayes.posterior_summary().loc[["(Intercept)", "Days"], "r_hat"].to_numpy()
    assert np.allclose(rhat, ours, atol=2e-3)


def test_seeded_fits_are_reproducible(sleep):
    bayes, _ = sleep
    # chain c depends on (seed, c) only; the compiled sampler is reused (same warmup)
    again = quiet(SLEEP, ml.datasets.load("sleepstudy"), method="bayes", seed=20240601,
                  progress=False, chains=1, draws=100)
    assert np.array_equal(again.posterior.beta, bayes.posterior.beta[:1, :100])


def test_cbpp_matches_laplace():
    cbpp = ml.datasets.load("cbpp")
    laplace = quiet(CBPP, cbpp, family="binomial")
    bayes = quiet(CBPP, cbpp, family="binomial", method="bayes", chains=2, draws=500,
                  warmup=500, seed=11, progress=False)
    med = bayes.draws[list(laplace.fixef.index)].median()
    assert np.all(np.abs(med / laplace.fixef - 1.0) < 0.05)
    assert bayes.divergences == 0
    assert bayes.family.name == "binomial" and bayes.link == "logit"
    mu = bayes.predict()
    assert np.all((mu > 0) & (mu < 1))
    yrep = bayes.posterior_predict(ndraws=50, seed=1)
    trials = cbpp["size"].to_numpy()
    assert np.allclose(np.round(yrep * trials), yrep * trials)  # proportions of the trials


def test_few_groups_posterior_is_proper_and_away_from_zero():
    data = few_groups(1)
    reml = quiet("y ~ x + (1 | g)", data)
    assert reml.singular and reml.varcorr.sdcor.iloc[0] < 1e-4
    # few groups: a higher target acceptance for the heavy posterior tail of the SD
    bayes = quiet("y ~ x + (1 | g)", data, method="bayes", seed=1, progress=False,
                  target_accept=0.99)
    assert bayes.divergences == 0
    sd = bayes.draws["sd_g__(Intercept)"]
    lo, med, hi = np.quantile(sd, [0.05, 0.5, 0.95])
    assert 0.0 < lo and np.isfinite(hi) and hi < 5.0  # proper: a finite, bounded posterior
    assert med > 0.1  # away from zero: REML's estimate is 0, the truth 0.5, sigma about 1
    assert bayes.posterior_summary().loc["sd_g__(Intercept)", "r_hat"] < 1.01
