"""Bayesian fits: priors, likelihoods, diagnostics, options and errors (mostly without sampling)."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml
from multilevel.bayes import diagnostics as diag
from multilevel.bayes import priors as pr
from multilevel.bayes import resolve as rs
from multilevel.bayes.sample import check_chain_method, float64

pytest.importorskip("numpyro")
jax = pytest.importorskip("jax")


def quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(*args, **kwargs)


def small(seed: int = 0, n: int = 120, groups: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    x = rng.normal(size=n)
    eta = 0.3 + 0.4 * x + rng.normal(0.0, 0.4, groups)[g]
    return pd.DataFrame({
        "g": pd.Categorical([f"g{k:02d}" for k in g]),
        "x": x,
        "expo": rng.uniform(1.0, 3.0, n),
        "count": rng.negative_binomial(3.0, 3.0 / (3.0 + np.exp(eta))),
        "y": eta + rng.normal(0.0, 0.5, n),
    })


def context(**kw):
    base = {"family": "gaussian", "m": 10.0, "s": 2.0, "intercept": True, "slopes": ("x",),
            "slope_scales": np.array([4.0]), "terms": (("g", ("(Intercept)",), np.ones(1)),)}
    base.update(kw)
    return rs.PriorContext(**base)


def test_default_priors_are_autoscaled():
    res = rs.resolve_priors(None, context())
    table = res.table.set_index("class")
    assert table.loc["Intercept", "prior"] == "normal(10, 5)"
    assert table.loc["b", "prior"] == "normal(0, 1.25)"  # 2.5 × sd(y) / sd(x)
    assert table.loc["sd", "prior"] == "student_t(3, 0, 2)"  # sd(y) for Gaussian models
    assert table.loc["sigma", "prior"] == "exponential(0.5)"
    # on the sampler's standardized scale every default is the same unit prior
    assert res.intercept.params == (0.0, 2.5)
    assert res.b[0].params == (0.0, 2.5)
    assert res.sd[0][0].params == (3.0, 0.0, 1.0)
    glmm = rs.resolve_priors(None, context(family="binomial", m=0.0, s=1.0))
    assert glmm.table.set_index("class").loc["sd", "prior"] == "student_t(3, 0, 2.5)"
    assert res.sigma.params == (1.0,)


def test_prior_overrides():
    res = rs.resolve_priors(
        {"b": {"x": pr.normal(1.0, 0.5)}, "sd": pr.student_t(3, 0, 1), "sigma": pr.cauchy(0, 2),
         "Intercept": pr.normal(0, 1, autoscale=True)},
        context(),
    )
    table = res.table.set_index("class")
    assert table.loc["b", "prior"] == "normal(1, 0.5)" and table.loc["b", "source"] == "user"
    assert table.loc["Intercept", "prior"] == "normal(0, 2)"
    # β* = β sd(x) / s: normal(1, 0.5) becomes normal(2, 1)
    assert res.b[0].params == (2.0, 1.0)
    assert res.intercept.params == pytest.approx((-5.0, 1.0))
    assert res.sigma.params == (0.0, 1.0)


@pytest.mark.parametrize(
    ("priors", "match"),
    [
        ({"beta": pr.normal()}, "unknown prior classes"),
        ({"b": {"z": pr.normal()}}, "coefficients the model does not have"),
        ({"b": pr.exponential()}, "can be negative"),
        ({"sd": pr.lkj(2)}, "correlations"),
        ({"cor": pr.normal()}, "lkj"),
        ({"dispersion": pr.gamma(1, 1)}, "no such parameter"),
        ({"b": 3.0}, "multilevel.bayes.priors"),
    ],
)
def test_bad_priors(priors, match):
    terms = (("g", ("(Intercept)",), np.ones(1)), ("h", ("(Intercept)", "x"), np.ones(2)))
    with pytest.raises(ml.ModelError, match=match):
        rs.resolve_priors(priors, context(terms=terms))


def test_prior_constructors_validate():
    with pytest.raises(ml.ModelError):
        pr.normal(0, -1)
    with pytest.raises(ml.ModelError):
        pr.student_t(0, 0, 1)
    assert str(pr.lkj(2)) == "lkj(2)"
    assert rs.resolve_priors({"cor": 2.0}, context(terms=(("g", ("a", "b"), np.ones(2)),))).cor \
        == (2.0,)


def test_likelihoods_match_scipy():
    from multilevel.bayes import likelihood as lik

    rng = np.random.default_rng(3)
    eta = rng.normal(0.0, 0.5, 6)
    mu = np.exp(eta)
    y = rng.poisson(mu).astype(float)
    with float64():
        assert np.allclose(lik.poisson(eta, y, "log"), stats.poisson.logpmf(y, mu))
        assert np.allclose(lik.poisson(mu, y, "identity"), stats.poisson.logpmf(y, mu))
        assert np.allclose(lik.negative_binomial(eta, y, 2.5, "log"),
                           stats.nbinom.logpmf(y, 2.5, 2.5 / (2.5 + mu)))
        yg = rng.gamma(2.0, mu / 2.0)
        assert np.allclose(lik.gamma(eta, yg, 2.0, "log"),
                           stats.gamma.logpdf(yg, 2.0, scale=mu / 2.0))
        assert np.allclose(lik.inverse_gaussian(eta, yg, 3.0, "log"),
                           stats.invgauss.logpdf(yg, mu / 3.0, scale=3.0))
        p = 1.0 / (1.0 + np.exp(-eta))
        k, m = np.array([0, 1, 2, 3, 4, 5.0]), np.full(6, 5.0)
        assert np.allclose(lik.binomial(eta, k, m, "logit"), stats.binom.logpmf(k, 5, p))
        assert np.allclose(lik.binomial(eta, k, m, "probit"),
                           stats.binom.logpmf(k, 5, stats.norm.cdf(eta)))
        assert np.allclose(lik.binomial(eta, k, m, "cloglog"),
                           stats.binom.logpmf(k, 5, -np.expm1(-np.exp(eta))))
        assert np.allclose(lik.gaussian(eta, yg, np.full(6, 4.0), 0.7),
                           stats.norm.logpdf(yg, eta, 0.7 / 2.0))


def test_rhat_and_ess_agree_with_arviz():
    az = pytest.importorskip("arviz")
    rng = np.random.default_rng(5)
    x = np.cumsum(rng.normal(size=(4, 400)), axis=1) * 0.05 + rng.normal(size=(4, 400))
    x[3] += 0.3  # a chain off to the side
    assert diag.rhat(x) == pytest.approx(float(az.rhat(x, method="rank")), abs=1e-3)
    assert diag.ess_bulk(x) == pytest.approx(float(az.ess(x, method="bulk")), rel=0.03)
    assert np.isnan(diag.rhat(np.ones((2, 50))))
    # A very short, strongly autocorrelated chain: no estimate rather than a negative ESS.
    short = np.cumsum(rng.normal(size=(1, 10)), axis=1)
    ess = diag.ess_bulk(short)
    assert np.isnan(ess) or ess > 0
    msgs = diag.sampler_messages(np.array([[True, False]]), np.array([[1023, 3]]), 10,
                                 {"a": 1.05}, {"a": 10.0})
    assert len(msgs) == 4 and "divergent" in msgs[0] and "tree depth" in msgs[1]


def test_missing_numpyro_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numpyro", None)
    with pytest.raises(ml.NotSupportedError, match=r'pip install "multilevel\[bayes\]"'):
        ml.fit("Reaction ~ Days + (1|Subject)", ml.datasets.load("sleepstudy"), method="bayes")


def test_chain_methods():
    with pytest.raises(ml.ModelError, match="chain_method"):
        check_chain_method("threads", 2)
    if jax.local_device_count() < 64:
        with pytest.raises(ml.ModelError, match="set_host_device_count"):
            check_chain_method("parallel", 64)
    check_chain_method("vectorized", 4)
    with pytest.raises(ml.ModelError, match="chain_method"):
        ml.fit("y ~ x + (1|g)", small(), method="bayes", chain_method="threads")


def test_enable_x64_only_when_asked(monkeypatch):
    import numpyro

    calls = []
    monkeypatch.setattr(numpyro, "enable_x64", lambda: calls.append(1))
    with float64():
        assert jax.numpy.zeros(1).dtype == np.float64
    assert calls == [] and not jax.config.jax_enable_x64
    with float64(enable_x64=True):
        pass
    assert calls == [1]


def test_bad_options():
    data = small()
    with pytest.raises(ml.ModelError, match="draws"):
        ml.fit("y ~ x + (1|g)", data, method="bayes", draws=0)
    with pytest.raises(ml.ModelError, match="target_accept"):
        ml.fit("y ~ x + (1|g)", data, method="bayes", target_accept=1.5)
    with pytest.raises(ml.NotSupportedError, match="link"):
        ml.fit("y ~ x + (1|g)", data, method="bayes", link="log")
    with pytest.raises(TypeError):
        ml.fit("y ~ x + (1|g)", data, method="bayes", seed=1.5)
    for option in ({"reml": False}, {"nagq": 5}, {"control": {"optimizer": "newuoa"}}):
        with pytest.raises(ml.NotSupportedError, match=f"{next(iter(option))} only apply"):
            ml.fit("y ~ x + (1|g)", data, method="bayes", **option)


def test_vectorized_chains_and_a_strong_prior():
    data = small()
    loose = quiet("y ~ x + (1|g)", data, method="bayes", chains=2, draws=200, warmup=200,
                  seed=3, progress=False, chain_method="vectorized")
    assert loose.posterior.beta.shape == (2, 200, 2)
    assert abs(loose.fixef["x"] - 0.4) < 0.2
    tight = quiet("y ~ x + (1|g)", data, method="bayes", chains=2, draws=200, warmup=200,
                  seed=3, progress=False, chain_method="vectorized",
                  priors={"b": pr.normal(2.0, 0.01)})
    assert tight.fixef["x"] == pytest.approx(2.0, abs=0.05)
    assert tight.prior_summary().set_index("class").loc["b", "source"] == "user"


def test_negative_binomial_with_offset_runs():
    data = small()
    bayes = quiet("count ~ x + offset(np.log(expo)) + (1|g)", data, family="negative.binomial",
                  method="bayes", chains=1, draws=300, warmup=300, seed=2, progress=False)
    assert "theta" in bayes.posterior_summary().index
    assert bayes.varcorr.grp.tolist() == ["g"]
    assert np.all(bayes.predict() > 0)
    assert bayes.posterior_predict(ndraws=10, seed=1).shape == (10, len(data))
