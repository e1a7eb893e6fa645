"""GLMM inference against lme4 1.1-31 and performance 0.10.2 (held-out references made by
``reference/extra/make_glmm_inference.R`` with glmerControl(tolPwrss = 1e-12)).

Tolerances: z statistics 1e-4 relative (our fits agree with lme4's to about 1e-5; the Gamma fit
to about 1e-4, so 5e-4 there), p-values 1e-4 on the log scale, Wald intervals 1e-4 (our
Hessian-based SEs against lme4's), R² 1e-4 absolute, conditional SDs 1e-3 relative, LRT χ²
1e-4, profile bounds 5e-3 (lme4 interpolates its profile with splines).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy import stats

import multilevel as ml
from tests.conftest import EXTRA_DIR, load_dataset
from tests.inference.conftest import quiet_fit

REF_DIR = EXTRA_DIR / "inference"
IDS = ["cbpp", "cbpp_probit", "grouse_poisson", "mmmec_obs", "gamma_log", "grouse_negbin"]


def _ref(model_id: str) -> dict:
    return json.loads((REF_DIR / f"glmm_{model_id}.json").read_text())


_FITS: dict[str, object] = {}


def _fit(ref: dict):
    """The fit of a reference model (once per test session)."""
    if ref["id"] not in _FITS:
        _FITS[ref["id"]] = quiet_fit(ref["formula"], load_dataset(ref["dataset"]),
                                     family=ref["family"], link=ref.get("link"))
    return _FITS[ref["id"]]


@pytest.fixture(scope="module", params=IDS)
def fitted(request):
    ref = _ref(request.param)
    return _fit(ref), ref


@pytest.fixture(scope="module")
def cbpp():
    ref = _ref("cbpp")
    return _fit(ref), ref


@pytest.fixture(scope="module")
def cbpp_profile(cbpp):
    m, _ = cbpp
    return m.profile(parm=["sd_(Intercept)|herd", "period4"])


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def test_coef_table_z(fitted):
    m, ref = fitted
    table = m.coef_table()
    want = ref["coef"]
    assert list(table["term"]) == want["term"]
    tol = 5e-4 if ref["family"] == "Gamma" else 1e-4
    assert _rel(table["estimate"], want["estimate"]) < tol
    assert _rel(table["std.error"], want["std.error"]) < tol
    assert _rel(table["statistic"], want["statistic"]) < tol
    # p-values from the normal distribution, also for Gamma (lme4 prints "t value" there)
    assert want["p_label"] == "Pr(>|z|)"
    logp = np.log(table["p.value"].to_numpy())
    assert np.max(np.abs(logp - np.log(want["p.value"])) / np.abs(np.log(want["p.value"]))) < tol
    assert np.all(np.isinf(table["df"]))


def test_wald_confint(fitted):
    m, ref = fitted
    ci = m.confint(method="wald")
    want = ref["wald"]
    assert list(ci.index) == want["names"]
    lower = np.array([np.nan if v is None else v for v in want["lower"]], float)
    upper = np.array([np.nan if v is None else v for v in want["upper"]], float)
    np.testing.assert_array_equal(np.isnan(ci["lower"]), np.isnan(lower))
    ok = ~np.isnan(lower)
    tol = 5e-4 if ref["family"] == "Gamma" else 1e-4
    assert _rel(ci["lower"][ok], lower[ok]) < tol
    assert _rel(ci["upper"][ok], upper[ok]) < tol
    # exactly estimate ± z·se
    z = 1.959963984540054
    se = m.se.to_numpy()
    np.testing.assert_allclose(ci["lower"][ok], m.fixef.to_numpy() - z * se, rtol=1e-13)


def test_r2_nakagawa(fitted):
    m, ref = fitted
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = m.r2()
    want = ref["r2"]
    assert r.marginal == pytest.approx(want["marginal"], abs=1e-4)
    assert r.conditional == pytest.approx(want["conditional"], abs=1e-4)
    assert r.var_distribution == pytest.approx(want["var_distribution"], rel=1e-3)
    assert r.var_dispersion == pytest.approx(want["var_dispersion"], rel=1e-3, abs=1e-12)
    # performance warns when the null model's mean count is below 6 (all counts models here)
    counts = ref["family"] in ("poisson", "negative.binomial")
    assert any("too close to zero" in str(w.message) for w in caught) == counts


def test_ranef_condsd(fitted):
    m, ref = fitted
    table = m.ranef_table()
    want = ref["ranef"]
    assert list(table["grp"]) == want["grp"]
    assert list(table["grpvar"]) == want["grpvar"]
    np.testing.assert_allclose(table["condval"], want["condval"], atol=1e-3 * max(
        1.0, float(np.max(np.abs(want["condval"])))))
    assert _rel(table["condsd"], want["condsd"]) < (1e-3 if ref["id"] != "grouse_negbin"
                                                   else 2e-3)


@pytest.mark.parametrize("model_id", ["cbpp", "grouse_poisson"])
def test_anova_lrt(model_id):
    ref = _ref(model_id)
    data = load_dataset(ref["dataset"])
    m1 = _fit(ref)
    m0 = quiet_fit(ref["anova"]["null"], data, family=ref["family"])
    table = ml.anova(m0, m1)
    want = ref["anova"]
    assert list(table["npar"]) == want["npar"]
    assert table["Chisq"].iloc[1] == pytest.approx(want["Chisq"], rel=1e-4)
    assert table["Df"].iloc[1] == want["Df"]
    assert table["Pr(>Chisq)"].iloc[1] == pytest.approx(want["p"], rel=1e-3)
    np.testing.assert_allclose(table["AIC"], want["AIC"], rtol=1e-7)
    np.testing.assert_allclose(table["BIC"], want["BIC"], rtol=1e-7)


def test_profile_confint(cbpp, cbpp_profile):
    _, ref = cbpp
    parm = ["sd_(Intercept)|herd", "period4"]
    ci = cbpp_profile.confint()
    want = ref["profile"]
    idx = [want["names"].index(p) for p in parm]
    assert list(ci.index) == parm
    np.testing.assert_allclose(ci["lower"], np.array(want["lower"])[idx], atol=5e-3, rtol=0)
    np.testing.assert_allclose(ci["upper"], np.array(want["upper"])[idx], atol=5e-3, rtol=0)


def test_profile_traces(cbpp, cbpp_profile):
    m, _ = cbpp
    cutoff = math.sqrt(stats.chi2.ppf(0.99, 5))
    for name, est in [("sd_(Intercept)|herd", m.theta[0]), ("period4", m.fixef["period4"])]:
        tr = cbpp_profile.trace(name)
        assert tr["zeta"].is_monotonic_increasing
        assert tr["zeta"].max() > cutoff and tr["zeta"].min() < -2.0
        assert tr.loc[tr["zeta"] == 0, "value"].iloc[0] == pytest.approx(float(est), rel=1e-12)
    # the whole profile starts where lme4 starts a GLMM's: 1.01 x̂, fixed effects included
    tr = cbpp_profile.trace("period4")
    assert np.any(np.isclose(tr["value"], 1.01 * m.fixef["period4"], rtol=1e-12))


def test_gamma_profile_refused():
    ref = _ref("gamma_log")
    m = _fit(ref)
    with pytest.raises(ml.NotSupportedError, match="free scale"):
        m.confint(method="profile")
    ci = m.confint(method="wald")
    assert list(ci.index[:2]) == ["sd_(Intercept)|g", "sigma"]
