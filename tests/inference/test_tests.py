"""coef_table, type III anova and likelihood-ratio tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from tests.inference.conftest import quiet_fit

COLUMNS = ["term", "estimate", "std.error", "df", "statistic", "p.value", "conf.low", "conf.high"]


def test_coef_table_columns_and_sleepstudy_df(sleep_fit):
    t = sleep_fit.coef_table()
    assert list(t.columns) == COLUMNS
    assert t["term"].tolist() == ["(Intercept)", "Days"]
    # lmerTest: 17 df for both (balanced, 18 subjects)
    np.testing.assert_allclose(t["df"], [17.0, 17.0], rtol=1e-4)
    np.testing.assert_allclose(t["std.error"], sleep_fit.se, rtol=1e-12)
    kr = sleep_fit.coef_table(ddf="kenward-roger")
    np.testing.assert_allclose(kr["df"], [17.0, 17.0], rtol=1e-6)


def test_penicillin_crossed_satterthwaite():
    m = quiet_fit("diameter ~ 1 + (1|plate) + (1|sample)", ml.datasets.load("Penicillin"))
    # lmerTest: 5.4869 df for the intercept
    assert m.coef_table()["df"].iloc[0] == pytest.approx(5.4869, rel=1e-3)


def test_z_residual_and_fixed_df(sleep_fit):
    z = sleep_fit.coef_table(ddf=None)
    assert np.all(np.isinf(z["df"]))
    t = sleep_fit.coef_table(ddf="residual")
    assert np.all(t["df"] == 180 - 2)
    f = sleep_fit.coef_table(ddf=10)
    assert np.all(f["df"] == 10)
    lo = f["estimate"] - f["conf.low"]
    assert np.all(lo > z["estimate"] - z["conf.low"])


def test_vcov_argument_defaults_to_z(sleep_fit):
    v = sleep_fit.vcov_robust()
    t = sleep_fit.coef_table(vcov=v)
    assert np.all(np.isinf(t["df"]))
    np.testing.assert_allclose(t["std.error"], np.sqrt(np.diag(v)), rtol=1e-12)
    with pytest.raises(ml.ModelError, match="supplied vcov"):
        sleep_fit.coef_table(ddf="satterthwaite", vcov=v)


def test_bad_ddf_and_kr_on_ml(sleep):
    m = quiet_fit("Reaction ~ Days + (Days | Subject)", sleep, reml=False)
    with pytest.raises(ml.ModelError, match="REML"):
        m.coef_table(ddf="kenward-roger")
    with pytest.raises(ml.ModelError, match="unknown ddf"):
        m.coef_table(ddf="bogus")


def test_type3_coding_invariant(hsb):
    f = "mAch ~ ses * sector + meanses + (1 | school)"
    a = quiet_fit(f, hsb).anova()
    b = quiet_fit(f, hsb, contrasts={"sector": "sum"}).anova()
    assert list(a.index) == ["ses", "sector", "meanses", "ses:sector"]
    np.testing.assert_allclose(a["F value"], b["F value"], rtol=1e-5)
    np.testing.assert_allclose(a["DenDF"], b["DenDF"], rtol=1e-3)


def test_type3_single_df_equals_t_squared(sleep_fit):
    a = sleep_fit.anova()
    t = sleep_fit.coef_table().set_index("term")
    assert a.loc["Days", "F value"] == pytest.approx(t.loc["Days", "statistic"] ** 2, rel=1e-10)
    assert a.loc["Days", "DenDF"] == pytest.approx(t.loc["Days", "df"], rel=1e-10)
    kr = sleep_fit.anova(ddf="kenward-roger")
    assert kr.loc["Days", "NumDF"] == 1


def test_type3_multi_df_factor():
    pen = ml.datasets.load("Penicillin")
    m = quiet_fit("diameter ~ sample + (1|plate)", pen)
    a = m.anova()
    assert a.loc["sample", "NumDF"] == 5
    # balanced: within-plate contrasts have the residual df (144 - 24 - 5)
    assert a.loc["sample", "DenDF"] == pytest.approx(115.0, rel=1e-4)
    kr = m.anova(ddf="kr")
    assert kr.loc["sample", "DenDF"] == pytest.approx(115.0, rel=1e-4)
    assert kr.loc["sample", "F value"] == pytest.approx(a.loc["sample", "F value"], rel=1e-4)
    assert ml.anova(m).equals(a)


def test_lrt_refits_with_ml(sleep):
    m0 = quiet_fit("Reaction ~ Days + (1 | Subject)", sleep)
    m1 = quiet_fit("Reaction ~ Days + (Days | Subject)", sleep)
    t = ml.anova(m1, m0)
    assert list(t.columns) == ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df",
                               "Pr(>Chisq)"]
    assert t["npar"].tolist() == [4, 6]  # ordered by parameters
    # lme4: anova(fm0, fm1) gives Chisq 42.139 on 2 df after refitting with ML
    assert t["Chisq"].iloc[1] == pytest.approx(42.139, abs=1e-3)
    ml0 = quiet_fit("Reaction ~ Days + (1 | Subject)", sleep, reml=False)
    assert t["logLik"].iloc[0] == pytest.approx(ml0.loglik, rel=1e-9)
    assert np.isnan(t["Chisq"].iloc[0])


def test_lrt_refuses_different_data(sleep):
    m0 = quiet_fit("Reaction ~ Days + (1 | Subject)", sleep)
    m1 = quiet_fit("Reaction ~ Days + (1 | Subject)", sleep.iloc[:170])
    with pytest.raises(ml.DataError, match="same data"):
        ml.anova(m0, m1)
    other = sleep.assign(Reaction=sleep["Reaction"] + 1.0)
    m2 = quiet_fit("Reaction ~ Days + (Days | Subject)", other)
    with pytest.raises(ml.DataError, match="same data"):
        ml.anova(m0, m2)


def test_lrt_refit_false_warns_for_different_fixed(sleep):
    m0 = quiet_fit("Reaction ~ 1 + (1 | Subject)", sleep)
    m1 = quiet_fit("Reaction ~ Days + (1 | Subject)", sleep)
    with pytest.warns(ml.MultilevelWarning, match="REML"):
        ml.anova(m0, m1, refit=False)
    assert isinstance(ml.anova(m0, m1), pd.DataFrame)
