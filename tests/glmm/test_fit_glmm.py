"""GLMMs: the shared lme4 references, response forms, families, AGQ rules and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from tests.conftest import load_reference, reference_models, relerr

import multilevel as ml

GLMM = [m for m in reference_models() if m.get("family", "gaussian") != "gaussian"]


def quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(*args, **kwargs)


@pytest.fixture(scope="module", params=[m["id"] for m in GLMM])
def fitted(request):
    spec = next(m for m in GLMM if m["id"] == request.param)
    res = quiet(
        spec["formula"], ml.datasets.load(spec["dataset"]), family=spec["family"],
        nagq=spec.get("nAGQ", 1),
    )
    return res, load_reference(request.param)


def test_objective_full_likelihood(fitted):
    res, ref = fitted
    target = ref.get("objective_full", ref["objective"])
    assert (res.objective - target) / abs(target) < 1e-5
    assert res.nobs == ref["nobs"] and res.ngroups == ref["ngroups"]
    assert res.converged


def test_parameters(fitted):
    """lme4's Laplace runs PIRLS to 1e-7 only, so its objective is slightly high; where ours is
    materially lower the objective decides (the tight held-out cbpp fit checks SEs to 1e-2)."""
    res, ref = fitted
    target = ref.get("objective_full", ref["objective"])
    assert list(res.fixef.index) == list(ref["fixef"])
    if (target - res.objective) / abs(target) > 1e-6:
        assert relerr(res.fixef, list(ref["fixef"].values())) < 1e-2
        return
    assert relerr(res.fixef, list(ref["fixef"].values())) < 2e-3
    assert relerr(res.theta, ref["theta"]) < 3e-3
    assert relerr(res.se, list(ref["se"].values())) < 1e-2


def test_response_forms_agree():
    cbpp = ml.datasets.load("cbpp")
    a = quiet("cbind(incidence, size - incidence) ~ period + (1|herd)", cbpp, family="binomial")
    prop = cbpp.assign(p=cbpp["incidence"] / cbpp["size"])
    b = quiet("p ~ period + (1|herd)", prop, family="binomial", weights="size")
    assert b.objective == pytest.approx(a.objective, rel=1e-8)
    np.testing.assert_allclose(b.fixef, a.fixef, rtol=1e-5)
    # expand to one row per animal: 0/1, factor and logical responses give the same fit
    rows = cbpp.loc[cbpp.index.repeat(cbpp["size"].astype(int))].reset_index(drop=True)
    first = rows.groupby(["herd", "period"], observed=True).cumcount()
    inc = rows["incidence"].to_numpy()
    y = (first.to_numpy() < inc).astype(float)
    long = rows.assign(y=y, yf=pd.Categorical(np.where(y > 0, "yes", "no")), yl=y > 0)
    c = quiet("y ~ period + (1|herd)", long, family="binomial")
    d = quiet("yf ~ period + (1|herd)", long, family="binomial")
    e = quiet("yl ~ period + (1|herd)", long, family="binomial")
    np.testing.assert_allclose(c.fixef, a.fixef, rtol=1e-5)
    for m in (d, e):
        assert m.objective == pytest.approx(c.objective, rel=1e-10)


def test_predict_residuals_overdispersion():
    cbpp = ml.datasets.load("cbpp")
    m = quiet("cbind(incidence, size - incidence) ~ period + (1|herd)", cbpp, family="binomial")
    eta, mu = m.predict(type="link"), m.predict(type="response")
    np.testing.assert_allclose(mu, 1 / (1 + np.exp(-eta)), rtol=1e-12)
    dev = m.resid("deviance")
    assert float((dev**2).sum()) == pytest.approx(m.state.deviance, rel=1e-10)
    od = m.overdispersion()
    assert od["df"] == 56 - 5 and od["ratio"] > 0
    assert "Laplace" in m.summary() and "z value" in m.summary()
    assert m.sigma == 1.0
    assert "Residual" not in m.varcorr["grp"].tolist()


def test_poisson_offset_argument_equals_formula():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(20), 10)
    expo = rng.uniform(1, 5, size=g.size)
    mu = expo * np.exp(0.3 + rng.normal(0, 0.5, 20)[g])
    df = pd.DataFrame({"y": rng.poisson(mu), "g": g.astype(str), "e": expo})
    a = quiet("y ~ 1 + offset(log(e)) + (1|g)", df, family="poisson")
    b = quiet("y ~ 1 + (1|g)", df, family="poisson", offset=np.log(expo))
    assert a.objective == pytest.approx(b.objective, rel=1e-10)
    assert a.fixef.iloc[0] == pytest.approx(0.3, abs=0.3)


def test_observation_level_effect_allowed_in_glmm():
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(15), 8)
    eta = 1.0 + rng.normal(0, 0.4, 15)[g] + rng.normal(0, 0.5, g.size)
    df = pd.DataFrame({"y": rng.poisson(np.exp(eta)), "g": g.astype(str), "obs": np.arange(g.size)})
    m = quiet("y ~ 1 + (1|g) + (1|obs)", df, family="poisson")
    assert m.ngroups == {"obs": g.size, "g": 15}
    assert m.theta[0] > 0.1


def test_negative_binomial_estimates_dispersion():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(25), 12)
    mu = np.exp(1.0 + rng.normal(0, 0.3, 25)[g])
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
    df = pd.DataFrame({"y": y, "g": g.astype(str)})
    nb = quiet("y ~ 1 + (1|g)", df, family="negative.binomial")
    pois = quiet("y ~ 1 + (1|g)", df, family="poisson")
    assert 0.8 < nb.nb_theta_opt < 5.0
    assert nb.objective < pois.objective - 10


def test_agq_requires_single_scalar_term():
    va = ml.datasets.load("VerbAgg")
    with pytest.raises(ml.ModelError, match="single scalar"):
        ml.fit("r2 ~ Anger + (1|id) + (1|item)", va, family="binomial", nagq=5)


def test_nagq0_is_close_to_laplace():
    cbpp = ml.datasets.load("cbpp")
    f = "cbind(incidence, size - incidence) ~ period + (1|herd)"
    lap = quiet(f, cbpp, family="binomial")
    fast = quiet(f, cbpp, family="binomial", nagq=0)
    assert fast.objective >= lap.objective - 1e-8
    np.testing.assert_allclose(fast.fixef, lap.fixef, rtol=5e-2)


def test_bad_glmm_input():
    cbpp = ml.datasets.load("cbpp")
    with pytest.raises(ml.DataError, match="negative"):
        ml.fit("y ~ 1 + (1|herd)", cbpp.assign(y=-cbpp["incidence"]), family="poisson")
    with pytest.raises(ml.DataError, match=r"outside \[0, 1\]"):
        ml.fit("incidence ~ 1 + (1|herd)", cbpp, family="binomial")
    with pytest.raises(ml.ModelError, match="unknown family"):
        ml.fit("incidence ~ 1 + (1|herd)", cbpp, family="weibull")
    with pytest.raises(ml.ModelError, match="link"):
        ml.fit("incidence ~ 1 + (1|herd)", cbpp, family="poisson", link="logit")


def test_separation_named_by_column():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(10), 10)
    x, z = rng.normal(size=100), rng.normal(size=100)
    df = pd.DataFrame({"y": (x > 0).astype(float), "x": x, "z": z, "g": g.astype(str)})
    with pytest.warns(ml.ConvergenceWarning, match="separation: the fixed effects of x are"):
        m = ml.fit("y ~ x + z + (1|g)", df, family="binomial")
    assert any("separation" in w for w in m.warnings)
    ok = df.assign(y=rng.binomial(1, 0.5, 100).astype(float))
    fine = quiet("y ~ x + z + (1|g)", ok, family="binomial")
    assert not any("separation" in w for w in fine.warnings)


def test_gamma_dispersion_scales_variance_components():
    from tests.conftest import load_dataset, load_extra

    ref = load_extra("gamma_log")
    m = quiet(ref["formula"], load_dataset("positive"), family="Gamma", link="log")
    assert m.sigma == pytest.approx(ref["sigma"], rel=1e-4)
    assert m.varcorr["grp"].tolist() == ["g", "Residual"]
    assert m.varcorr["sdcor"].iloc[0] == pytest.approx(m.theta[0] * m.sigma, rel=1e-12)


def test_predict_newdata_population_and_new_levels():
    cbpp = ml.datasets.load("cbpp")
    m = quiet("cbind(incidence, size - incidence) ~ period + (1|herd)", cbpp, family="binomial")
    np.testing.assert_allclose(m.predict(newdata=cbpp), m.predict(), rtol=1e-12)
    np.testing.assert_allclose(
        m.predict(newdata=cbpp, type="link"), m.predict(type="link"), rtol=1e-12
    )
    pop = m.predict(re_form="~0", type="link").to_numpy()
    xb = m.design.X @ m.beta
    np.testing.assert_allclose(pop, xb, rtol=1e-12)
    new = cbpp.head(2).assign(herd=pd.Categorical(["99", "1"]))
    with pytest.raises(ml.DataError, match="allow_new_levels"):
        m.predict(newdata=new)
    got = m.predict(newdata=new, allow_new_levels=True, type="link").to_numpy()
    assert got[0] == pytest.approx(xb[0], rel=1e-12)
    assert got[1] == pytest.approx(m.predict(type="link").iloc[1], rel=1e-12)
