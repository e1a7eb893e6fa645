"""The workflow reference on High School and Beyond (lmerTest, pbkrtest, lme4, performance).

Tolerances as issue 4 sets them: Satterthwaite df 1e-3 relative, Kenward-Roger df 1e-2 and SEs
1e-3, LRT χ² 1e-3, profile bounds 5e-3, R² 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from tests.conftest import load_reference
from tests.inference.conftest import quiet_fit

REF = load_reference("workflow_hsb82")


def _rel(a, b) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) / np.abs(b)


def test_satterthwaite_df_and_p(hsb_slope):
    ref = REF["mixed"]
    table = hsb_slope.coef_table(ddf="satterthwaite").set_index("term")
    names = list(ref["satterthwaite_df"])
    assert _rel(table.loc[names, "df"], [ref["satterthwaite_df"][n] for n in names]).max() < 1e-3
    # p-values are tiny; compare on the log scale
    logp = np.log(table.loc[names, "p.value"].to_numpy())
    ref_logp = np.log([ref["satterthwaite_p"][n] for n in names])
    assert np.max(np.abs(logp - ref_logp) / np.abs(ref_logp)) < 1e-3


def test_kenward_roger_df_and_se(hsb_slope):
    ref = REF["mixed"]
    table = hsb_slope.coef_table(ddf="kenward-roger").set_index("term")
    names = list(ref["kr_df"])
    assert _rel(table.loc[names, "df"], [ref["kr_df"][n] for n in names]).max() < 1e-2
    assert _rel(table.loc[names, "std.error"], [ref["kr_se"][n] for n in names]).max() < 1e-3


def test_lrt_random_slope(hsb, hsb_slope):
    ref = REF["lrt_slope"]
    m0 = quiet_fit("mAch ~ ses + sector + meanses + (1 | school)", hsb)
    table = ml.anova(m0, hsb_slope, refit=ref["refit"])
    assert table["Chisq"].iloc[1] == pytest.approx(ref["chisq"], rel=1e-3)
    assert table["Df"].iloc[1] == ref["df"]
    assert table["Pr(>Chisq)"].iloc[1] == pytest.approx(ref["p"], rel=1e-3)


def test_profile_confint_ml(hsb):
    ref = REF["profile_ci_ml"]
    m = quiet_fit("mAch ~ ses + sector + meanses + (1 + ses | school)", hsb, reml=False)
    ci = m.confint(method="profile")
    assert list(ci.index) == ref["names"]
    np.testing.assert_allclose(ci["lower"], ref["lower"], atol=5e-3, rtol=0)
    np.testing.assert_allclose(ci["upper"], ref["upper"], atol=5e-3, rtol=0)


def test_r2_nakagawa(hsb_slope):
    ref = REF["r2_nakagawa"]
    r = hsb_slope.r2()
    assert r.marginal == pytest.approx(ref["marginal"], rel=1e-4)
    assert r.conditional == pytest.approx(ref["conditional"], rel=1e-4)
