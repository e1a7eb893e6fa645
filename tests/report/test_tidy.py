"""broom.mixed's verbs: ``tidy``, ``glance``, ``augment`` (as functions and as methods)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from multilevel.errors import ModelError, NotSupportedError
from multilevel.report import augment, from_json, glance, tidy
from multilevel.report.serialize import result_to_dict

FIXED_COLUMNS = ["effect", "group", "term", "estimate", "std.error", "statistic"]


# -- tidy -----------------------------------------------------------------------------------------
def test_tidy_lmm_follows_broom_mixed(sleep_fit):
    out = tidy(sleep_fit)
    assert list(out.columns) == FIXED_COLUMNS  # a plain lme4 fit: no df, no p-value
    assert out["effect"].tolist() == ["fixed"] * 2 + ["ran_pars"] * 4
    assert out["term"].tolist() == [
        "(Intercept)", "Days", "sd__(Intercept)", "cor__(Intercept).Days", "sd__Days",
        "sd__Observation",
    ]
    assert out["group"].tolist()[2:] == ["Subject"] * 3 + ["Residual"]
    assert out["group"].iloc[:2].isna().all()
    fixed = out[out["effect"] == "fixed"].set_index("term")
    assert (fixed["estimate"] == sleep_fit.fixef).all()
    assert (fixed["std.error"] == sleep_fit.se).all()
    assert np.allclose(fixed["statistic"], sleep_fit.fixef / sleep_fit.se, rtol=1e-15)
    vc = sleep_fit.varcorr
    ran = out[out["effect"] == "ran_pars"]["estimate"].to_numpy()
    assert ran.tolist() == [vc["sdcor"][0], vc["sdcor"][2], vc["sdcor"][1], sleep_fit.sigma]
    assert ran[0] == pytest.approx(24.74, abs=0.01)  # lme4: 24.741, 0.066, 5.922, 25.592
    assert ran[1] == pytest.approx(0.066, abs=1e-3)
    assert ran[3] == pytest.approx(25.59, abs=0.01)
    assert out[out["effect"] == "ran_pars"]["std.error"].isna().all()


def test_tidy_effects_and_intervals(sleep_fit):
    assert tidy(sleep_fit, effects="fixed")["effect"].unique().tolist() == ["fixed"]
    both = tidy(sleep_fit, effects=["ran_pars", "fixed"])  # always fixed first, as broom.mixed
    assert both["effect"].tolist()[0] == "fixed"
    out = tidy(sleep_fit, effects="fixed", conf_int=True, conf_level=0.9)
    z = stats.norm.ppf(0.95)
    assert np.allclose(out["conf.low"], sleep_fit.fixef - z * sleep_fit.se, rtol=1e-14)
    assert np.allclose(out["conf.high"], sleep_fit.fixef + z * sleep_fit.se, rtol=1e-14)
    assert list(out.columns)[-2:] == ["conf.low", "conf.high"]
    with pytest.raises(ModelError, match="effects"):
        tidy(sleep_fit, effects="random")
    with pytest.raises(ModelError, match="conf_level"):
        tidy(sleep_fit, conf_int=True, conf_level=95)


def test_tidy_lmm_with_ddf_uses_the_coef_table(sleep_fit):
    if not callable(getattr(sleep_fit, "coef_table", None)):
        pytest.skip("the result has no coef_table() yet (inference mixin)")
    out = tidy(sleep_fit, effects="fixed", ddf="satterthwaite", conf_int=True)
    table = sleep_fit.coef_table(ddf="satterthwaite")
    assert list(out.columns) == [*FIXED_COLUMNS, "df", "p.value", "conf.low", "conf.high"]
    assert np.array_equal(out["df"].to_numpy(), table["df"].to_numpy())
    assert np.array_equal(out["p.value"].to_numpy(), table["p.value"].to_numpy())
    assert out["df"].iloc[1] == pytest.approx(17.0, abs=0.01)


def test_tidy_glmm_has_z_tests(cbpp):
    out = tidy(cbpp)
    assert list(out.columns) == [*FIXED_COLUMNS, "p.value"]
    fixed = out[out["effect"] == "fixed"]
    z = (cbpp.fixef / cbpp.se).to_numpy()
    assert np.allclose(fixed["p.value"], 2 * stats.norm.sf(np.abs(z)), rtol=1e-14)
    ran = out[out["effect"] == "ran_pars"]
    assert ran["term"].tolist() == ["sd__(Intercept)"]  # no residual for the binomial
    assert ran["group"].tolist() == ["herd"]
    assert ran["estimate"].iloc[0] == pytest.approx(0.642, abs=1e-3)  # lme4: 0.6421


def test_tidy_workflow_results_have_t_tests(workflow_results):
    ols = workflow_results["OLS"]
    out = tidy(ols, conf_int=True)
    fixed = out[out["effect"] == "fixed"].set_index("term")
    assert list(out.columns) == [*FIXED_COLUMNS, "df", "p.value", "conf.low", "conf.high"]
    assert np.allclose(fixed["p.value"], ols.pvalues, rtol=1e-12)
    assert (fixed["df"] == ols.df).all()
    ci = ols.conf_int()
    assert np.allclose(fixed["conf.low"], ci["lower"], rtol=1e-13)
    assert np.allclose(fixed["conf.high"], ci["upper"], rtol=1e-13)
    resid = out[out["effect"] == "ran_pars"]
    assert resid["term"].tolist() == ["sd__Observation"] and resid["estimate"].iloc[0] == ols.sigma
    re_ = tidy(workflow_results["RE"], effects="ran_pars")
    assert re_["term"].tolist() == ["sd__(Intercept)", "sd__Observation"]
    assert re_["estimate"].iloc[0] == math.sqrt(workflow_results["RE"].sigma2["id"])
    assert tidy(workflow_results["Two-stage"], effects="ran_pars").empty


def test_tidy_ran_vals(hsb_slope):
    out = tidy(hsb_slope, effects="ran_vals", conf_int=True)
    assert list(out.columns) == ["effect", "group", "level", "term", "estimate", "std.error",
                                 "conf.low", "conf.high"]
    modes = hsb_slope.ranef["school"]
    assert len(out) == modes.size
    first = out[out["term"] == "(Intercept)"]
    assert first["level"].tolist() == [str(v) for v in modes.index]  # term, then level
    assert np.array_equal(first["estimate"].to_numpy(), modes["(Intercept)"].to_numpy())
    cses = out[out["term"] == "cses"].set_index("level")["estimate"]
    assert cses[str(modes.index[3])] == modes["cses"].iloc[3]
    if callable(getattr(hsb_slope, "ranef_table", None)):
        sd = hsb_slope.ranef_table()
        assert np.allclose(out["std.error"].to_numpy(), sd["condsd"].to_numpy(), rtol=1e-14)
        z = stats.norm.ppf(0.975)
        assert np.allclose(out["conf.low"], out["estimate"] - z * out["std.error"])


class WithCondSD:
    """A result offering conditional SDs in broom.mixed's column names."""

    fixef = pd.Series({"(Intercept)": 1.0})
    se = pd.Series({"(Intercept)": 0.5})

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        return {"g": pd.DataFrame({"(Intercept)": [0.1, -0.1]}, index=pd.Index(["a", "b"]))}

    def ranef_table(self) -> pd.DataFrame:
        return pd.DataFrame({"group": ["g", "g"], "term": ["(Intercept)"] * 2,
                             "level": ["b", "a"], "estimate": [-0.1, 0.1],
                             "std.error": [0.3, 0.2]})


def test_tidy_ran_vals_reads_conditional_sds_by_duck_typing():
    out = tidy(WithCondSD(), effects="ran_vals")
    assert out["level"].tolist() == ["a", "b"]
    assert out["std.error"].tolist() == [0.2, 0.3]
    assert tidy(WithCondSD(), effects="ran_pars").empty


def test_tidy_of_stored_results_is_the_same(golden_models, workflow_results):
    for result in [*golden_models.values(), *workflow_results.values()]:
        stored = from_json(result_to_dict(result))
        for effects in ("fixed", "ran_pars", "ran_vals"):
            pd.testing.assert_frame_equal(
                tidy(stored, effects, conf_int=True), tidy(result, effects, conf_int=True)
            )
        pd.testing.assert_frame_equal(glance(stored), glance(result))


# -- glance ---------------------------------------------------------------------------------------
def test_glance_lmm_reml_and_ml(hsb_intercept, hsb):
    out = glance(hsb_intercept)
    assert list(out.columns) == ["nobs", "sigma", "logLik", "AIC", "BIC", "REMLcrit",
                                 "df.residual"]
    row = out.iloc[0]
    assert row["nobs"] == 7185 and row["sigma"] == hsb_intercept.sigma
    assert row["logLik"] == hsb_intercept.loglik and row["AIC"] == hsb_intercept.aic
    assert row["BIC"] == hsb_intercept.bic and row["REMLcrit"] == hsb_intercept.objective
    assert row["df.residual"] == 7185 - 6
    ml_fit = hsb_intercept.update(reml=False)
    assert "deviance" in glance(ml_fit).columns and "REMLcrit" not in glance(ml_fit).columns


def test_glance_glmm_and_ols(cbpp, workflow_results):
    row = glance(cbpp).iloc[0]
    assert row["sigma"] == 1.0 and row["deviance"] == cbpp.deviance
    assert row["df.residual"] == 56 - 5
    assert row["logLik"] == pytest.approx(-92.03, abs=0.01)  # lme4: -92.0263
    ols = glance(workflow_results["OLS"])
    assert ols["r.squared"].iloc[0] == workflow_results["OLS"].r2
    assert ols["df.residual"].iloc[0] == 7185 - 4
    assert np.isnan(ols["AIC"].iloc[0])


# -- augment --------------------------------------------------------------------------------------
def test_augment_lmm(hsb_slope, hsb):
    out = augment(hsb_slope)
    assert list(out.columns[: hsb.shape[1]]) == list(hsb.columns)
    assert len(out) == len(hsb)
    assert np.array_equal(out[".fitted"].to_numpy(), hsb_slope.fitted.to_numpy())
    assert np.array_equal(out[".resid"].to_numpy(), hsb_slope.residuals.to_numpy())
    fixed = hsb_slope.design.X @ hsb_slope.fixef.to_numpy()
    assert np.allclose(out[".fixed"].to_numpy(), fixed, rtol=1e-14)
    modes = hsb_slope.ranef["school"]
    school = hsb["school"].astype(str).to_numpy()
    lookup = modes.rename(index=str)
    assert np.array_equal(out[".ranef.school.cses"].to_numpy(),
                          lookup.loc[school, "cses"].to_numpy())
    eta = out[".fixed"] + out[".ranef.school.(Intercept)"] + out[".ranef.school.cses"] * hsb["cses"]
    assert np.allclose(eta, out[".fitted"], rtol=1e-12)
    assert np.allclose(hsb["mAch"] - out[".fitted"], out[".resid"], atol=1e-10)


def test_augment_glmm_is_on_the_link_scale(cbpp):
    out = augment(cbpp)
    assert np.array_equal(out[".fitted"].to_numpy(), cbpp.predict(type="link").to_numpy())
    assert np.array_equal(out[".mu"].to_numpy(), cbpp.fitted.to_numpy())
    assert np.array_equal(out[".resid"].to_numpy(), cbpp.residuals.to_numpy())  # deviance
    assert ".ranef.herd.(Intercept)" in out.columns


def test_augment_marks_unused_rows_and_takes_new_data(hsb, workflow_results):
    from tests.report.conftest import quiet_fit

    data = hsb.head(400).copy()
    data.loc[[3, 7], "ses"] = np.nan
    m = quiet_fit("mAch ~ ses + (1|school)", data)
    out = augment(m)
    assert len(out) == 400 and out.loc[[3, 7], ".fitted"].isna().all()
    assert out[".fitted"].notna().sum() == 398
    with pytest.raises(NotSupportedError, match="pass data"):
        augment(workflow_results["OLS"])
    ols = augment(workflow_results["OLS"], hsb)
    assert np.array_equal(ols[".fitted"].to_numpy(), workflow_results["OLS"].fitted.to_numpy())
    with pytest.raises(NotSupportedError, match="stored"):
        augment(from_json(result_to_dict(m)))


def test_augment_accepts_polars(hsb_intercept, hsb):
    pl = pytest.importorskip("polars")
    out = augment(hsb_intercept, pl.from_pandas(hsb.astype({c: str for c in
                                                            hsb.select_dtypes("category")})))
    assert np.array_equal(out[".fitted"].to_numpy(), hsb_intercept.fitted.to_numpy())


# -- the mixin, once the lead wires it into the result classes -------------------------------------
def test_methods_on_results(sleep_fit):
    if not hasattr(sleep_fit, "tidy"):
        pytest.skip("ReportMethods is not among LMMResult's bases yet (the lead wires it)")
    pd.testing.assert_frame_equal(sleep_fit.tidy(conf_int=True), tidy(sleep_fit, conf_int=True))
    pd.testing.assert_frame_equal(sleep_fit.glance(), glance(sleep_fit))
    pd.testing.assert_frame_equal(sleep_fit.augment(), augment(sleep_fit))
    assert sleep_fit.to_dict() == result_to_dict(sleep_fit)
