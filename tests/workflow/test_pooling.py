"""No pooling, two-stage, within/between splits, the pooling comparison and shrinkage."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.workflow.compare import format_comparison

FORMULA = "mAch ~ ses + sector + meanses"


def quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def comparison(hsb):
    return ml.compare_pooling(FORMULA, hsb, "school", "sectorCatholic")


def test_no_pooling_fits_each_group(hsb):
    r = ml.no_pooling("mAch ~ ses + sector", hsb, "school")
    assert r.estimates.shape == (160, 3) and r.n.sum() == 7185
    one = hsb[hsb["school"] == "1224"]
    X = np.column_stack([np.ones(len(one)), one["ses"]])
    coef = np.linalg.lstsq(X, one["mAch"].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(r.estimates.loc["1224", ["(Intercept)", "ses"]], coef)
    assert r.estimates["sectorCatholic"].isna().all()
    assert "level-2" in r.not_estimable["sectorCatholic"]
    with pytest.raises(ml.ModelError, match="level-2"):
        r.mean("sectorCatholic")
    mean, se, J = r.mean("ses")
    values = r.estimates["ses"]
    assert (mean, J) == (pytest.approx(values.mean()), 160)
    assert se == pytest.approx(values.std() / np.sqrt(160))
    assert "No pooling" in r.summary()


def test_no_pooling_flags_small_groups():
    df = pd.DataFrame(
        {"g": ["a"] * 5 + ["b"] * 2 + ["c"] * 1 + ["d"] * 4,
         "x": [1, 2, 3, 4, 5, 1, 2, 7, 3, 3, 3, 3.0]}
    )
    df["y"] = 2 * df["x"] + np.arange(12) % 3
    r = ml.no_pooling("y ~ x", df, "g")
    assert r.flagged["a"] == ""
    assert "n = 2 < 3" in r.flagged["b"] and "no residual df" in r.flagged["b"]
    assert "n = 1" in r.flagged["c"]
    assert "not estimable" in r.flagged["d"]  # x does not vary in group d
    assert np.isnan(r.estimates.loc["d", "x"])
    assert r.ok.tolist() == [True, False, False, False]


def test_two_stage(hsb, ref):
    r = ml.two_stage("mAch ~ ses", "~ sector + meanses", hsb, "school")
    assert r.coef.index.tolist() == ["(Intercept)", "sectorCatholic", "meanses", "ses"]
    # stage 1 is the within estimator
    assert r.coef["ses"] == pytest.approx(ref["panel"]["fe_coef"]["ses"], abs=1e-6)
    assert r.se["ses"] == pytest.approx(ref["panel"]["fe_se"]["ses"], abs=1e-6)
    # stage 2 is OLS of the group intercepts on the group covariates
    schools = hsb.groupby("school", observed=True).agg(
        mAch=("mAch", "mean"), ses=("ses", "mean"), meanses=("meanses", "first"),
        sector=("sector", "first"),
    )
    schools["a"] = schools["mAch"] - r.coef["ses"] * schools["ses"]
    np.testing.assert_allclose(r.intercepts["estimate"], schools["a"], rtol=1e-10)
    stage2 = ml.ols("a ~ sector + meanses", schools)
    np.testing.assert_allclose(r.coef[:3], stage2.coef, rtol=1e-10)
    np.testing.assert_allclose(r.se[:3], stage2.se, rtol=1e-10)
    assert (r.df[:3] == 157).all()
    side = r.compare(quiet_fit("mAch ~ ses + sector + meanses + (1 | school)", hsb))
    assert side.columns.tolist() == ["two_stage", "two_stage_se", "mixed", "mixed_se", "se_ratio"]
    with pytest.raises(ml.ModelError, match="varies within groups"):
        ml.two_stage("mAch ~ ses", "~ sector + cses", hsb, "school")
    with pytest.raises(ml.ModelError, match="level-2 covariate"):
        ml.two_stage("mAch ~ ses + meanses", "~ sector", hsb, "school")


def test_within_between_estimands(hsb):
    rewb = ml.within_between(hsb, "ses", "school")
    assert "ses_within" in rewb and "ses_between" in rewb and "ses_within" not in hsb
    means = hsb.groupby("school", observed=True)["ses"].transform("mean")
    np.testing.assert_allclose(rewb["ses_between"], means)
    m1 = quiet_fit("mAch ~ ses_within + ses_between + (1 | school)", rewb)
    fe = ml.panel("mAch ~ ses", hsb, "school", model="fe")
    # the within coefficient of a REWB model is the fixed-effects estimate, exactly
    assert m1.fixef["ses_within"] == pytest.approx(fe.coef["ses"], rel=1e-8)
    mundlak = ml.within_between(hsb, "ses", "school", form="mundlak")
    m2 = quiet_fit("mAch ~ ses + ses_mean + (1 | school)", mundlak)
    assert m2.fixef["ses"] == pytest.approx(m1.fixef["ses_within"], rel=1e-6)
    contextual = m1.fixef["ses_between"] - m1.fixef["ses_within"]
    assert m2.fixef["ses_mean"] == pytest.approx(contextual, rel=1e-6)
    assert m2.objective == pytest.approx(m1.objective, rel=1e-9)
    with pytest.raises(ml.DataError, match="numeric"):
        ml.within_between(hsb, "sector", "school")
    with pytest.raises(ml.DataError, match="already have"):
        ml.within_between(rewb, "ses", "school")


def test_within_between_missing_values():
    df = pd.DataFrame({"g": list("aabb"), "x": [1.0, np.nan, 2.0, 4.0]})
    out = ml.within_between(df, ["x"], "g")
    assert out["x_between"].tolist() == [1.0, 1.0, 3.0, 3.0]
    assert np.isnan(out.loc[1, "x_within"]) and out.loc[3, "x_within"] == 1.0


def test_compare_pooling_table(comparison, ref):
    t = comparison
    assert t.index.tolist() == ["OLS (iid)", "OLS (CR1)", "OLS (CR2)", "no pooling",
                                "two-stage", "FE", "RE-GLS", "mixed (REML)"]
    want = ref["ols"]
    for row, key in (("OLS (iid)", "se_iid"), ("OLS (CR1)", "se_cr1"), ("OLS (CR2)", "se_cr2")):
        assert t.loc[row, "estimate"] == pytest.approx(want["coef"]["sectorCatholic"], abs=1e-6)
        assert t.loc[row, "se"] == pytest.approx(want[key]["sectorCatholic"], abs=1e-6)
    for row in ("no pooling", "FE"):
        assert np.isnan(t.loc[row, "estimate"]) and "not estimable" in t.loc[row, "note"]
        assert "constant within" in t.loc[row, "note"]
    assert t.loc["OLS (CR1)", "df"] == 159
    assert t.attrs["term"] == "sectorCatholic" and t.attrs["ngroups"] == 160
    text = format_comparison(t)
    assert "not estimable" in text and "—" in text


def test_compare_pooling_level1_term_and_mixed_row(hsb, ref):
    t = ml.compare_pooling(FORMULA, hsb, "school", "ses", random="(1 + ses | school)")
    assert t.loc["FE", "estimate"] == pytest.approx(ref["panel"]["fe_coef"]["ses"], abs=1e-6)
    assert t.loc["mixed (REML)", "estimate"] == pytest.approx(ref["mixed"]["fixef"]["ses"],
                                                               abs=1e-4)
    assert t.loc["no pooling", "note"].startswith("mean of 160")
    with pytest.raises(ml.ModelError, match="no coefficient"):
        ml.compare_pooling(FORMULA, hsb, "school", "sector")


def test_shrinkage_of_empty_model_is_the_textbook_factor(hsb):
    m = quiet_fit("mAch ~ 1 + (1 | school)", hsb)
    s = ml.shrinkage(m)
    assert s.columns.tolist() == ["n", "no_pooling", "partial_pooling", "fixed"]
    means = hsb.groupby("school", observed=True)["mAch"].mean()
    np.testing.assert_allclose(s["no_pooling"], means.to_numpy())
    tau2, sigma2 = m.varcorr["vcov"].to_numpy()[:2]
    lam = tau2 / (tau2 + sigma2 / s["n"])
    b0 = m.fixef["(Intercept)"]
    np.testing.assert_allclose(s["partial_pooling"], b0 + lam * (s["no_pooling"] - b0),
                               rtol=1e-6)


def test_shrinkage_of_a_slope(hsb):
    m = quiet_fit("mAch ~ ses + sector + (1 + ses | school)", hsb)
    s = ml.shrinkage(m, "ses")
    assert s.attrs == {"term": "ses", "group": "school"}
    assert (s["fixed"] == m.fixef["ses"]).all()
    pulled = (s["partial_pooling"] - s["fixed"]).abs() <= (s["no_pooling"] - s["fixed"]).abs()
    assert pulled.mean() > 0.9
    with pytest.raises(ml.ModelError, match="does not vary"):
        ml.shrinkage(m, "sectorCatholic")
