"""``ml.fit`` end to end: formula features, arguments, result API and bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return ml.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def hsb() -> pd.DataFrame:
    return ml.datasets.load("Hsb82")


def quiet_fit(*args, **kwargs) -> ml.LMMResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(*args, **kwargs)


# -- formula features ---------------------------------------------------------------------
def test_nested_slash_equals_explicit_interaction():
    pastes = ml.datasets.load("Pastes")
    a = quiet_fit("strength ~ 1 + (1|batch/cask)", pastes)
    b = quiet_fit("strength ~ 1 + (1|cask:batch) + (1|batch)", pastes)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
    assert list(a.ngroups) == ["cask:batch", "batch"]
    assert a.ranef["cask:batch"].index[:2].tolist() == ["a:A", "a:B"]


def test_double_bar_equals_separate_terms(sleep):
    a = quiet_fit("Reaction ~ Days + (Days||Subject)", sleep)
    b = quiet_fit("Reaction ~ Days + (1|Subject) + (0 + Days|Subject)", sleep)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
    assert a.varcorr["grp"].tolist()[:2] == ["Subject", "Subject.1"]
    assert a.ranef["Subject"].columns.tolist() == ["(Intercept)", "Days"]
    assert a.ngroups == {"Subject": 18}


def test_power_in_I_is_power_also_on_integer_columns(sleep):
    as_int = sleep.assign(Days=sleep["Days"].astype("int64"))
    a = quiet_fit("Reaction ~ Days + I(Days^2) + (1|Subject)", as_int)
    b = quiet_fit(
        "Reaction ~ Days + Dsq + (1|Subject)", sleep.assign(Dsq=sleep["Days"].astype(float) ** 2)
    )
    assert a.fixef.index.tolist() == ["(Intercept)", "Days", "I(Days^2)"]
    np.testing.assert_allclose(a.fixef.to_numpy(), b.fixef.to_numpy(), rtol=1e-8)


def test_transforms_and_names(sleep):
    m = quiet_fit("Reaction ~ poly(Days, 2) + log(Days + 1) + (1|Subject)", sleep)
    assert m.fixef.index.tolist() == [
        "(Intercept)",
        "poly(Days, 2)1",
        "poly(Days, 2)2",
        "log(Days + 1)",
    ]
    s = quiet_fit("Reaction ~ scale(Days) + (1|Subject)", sleep)
    days = sleep["Days"].to_numpy(float)
    slope = quiet_fit("Reaction ~ Days + (1|Subject)", sleep).fixef["Days"]
    # R's scale() divides by the n-1 standard deviation
    assert s.fixef["scale(Days)"] == pytest.approx(slope * days.std(ddof=1), rel=1e-8)


def test_r_coefficient_names_and_order(hsb):
    m = quiet_fit("mAch ~ meanses*cses + sector*cses + (1 + cses|school)", hsb)
    assert m.fixef.index.tolist() == [
        "(Intercept)",
        "meanses",
        "cses",
        "sectorCatholic",
        "meanses:cses",
        "cses:sectorCatholic",
    ]
    m2 = quiet_fit("mAch ~ ses + (0 + sx|school)", hsb)
    assert m2.varcorr["var1"].tolist()[:2] == ["sxMale", "sxFemale"]


def test_no_intercept_forms(sleep):
    a = quiet_fit("Reaction ~ 0 + Days + (1|Subject)", sleep)
    b = quiet_fit("Reaction ~ Days - 1 + (1|Subject)", sleep)
    assert a.fixef.index.tolist() == ["Days"]
    assert a.objective == pytest.approx(b.objective, rel=1e-12)


def test_offset_in_formula_argument_and_column_agree(hsb):
    a = quiet_fit("mAch ~ ses + offset(meanses) + (1|school)", hsb)
    b = quiet_fit("mAch ~ ses + (1|school)", hsb, offset="meanses")
    c = quiet_fit("mAch ~ ses + (1|school)", hsb, offset=hsb["meanses"].to_numpy())
    d = quiet_fit("y ~ ses + (1|school)", hsb.assign(y=hsb["mAch"] - hsb["meanses"]))
    for m in (b, c, d):
        assert m.objective == pytest.approx(a.objective, rel=1e-10)
        np.testing.assert_allclose(m.fixef.to_numpy(), a.fixef.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(a.fitted.to_numpy(), d.fitted.to_numpy() + hsb["meanses"], rtol=1e-8)


def test_weights_column_or_array(sleep):
    a = quiet_fit("Reaction ~ Days + (Days|Subject)", sleep, weights="w")
    b = quiet_fit("Reaction ~ Days + (Days|Subject)", sleep, weights=sleep["w"].to_numpy())
    assert a.objective == pytest.approx(b.objective, rel=1e-12)


def test_polars_input_and_data_not_modified(sleep):
    pl = pytest.importorskip("polars")
    before = sleep.copy()
    a = quiet_fit("Reaction ~ Days + (Days|Subject)", sleep)
    b = quiet_fit("Reaction ~ Days + (Days|Subject)", pl.from_pandas(sleep))
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
    pd.testing.assert_frame_equal(sleep, before)


# -- result API -----------------------------------------------------------------------------
def test_result_api(sleep):
    m = quiet_fit("Reaction ~ Days + (Days|Subject)", sleep)
    assert isinstance(m.fixef, pd.Series) and isinstance(m.vcov, pd.DataFrame)
    assert m.ranef["Subject"].shape == (18, 2)
    assert m.loglik == pytest.approx(-m.objective / 2)
    assert m.aic == pytest.approx(m.objective + 2 * 6)
    text = m.summary()
    for piece in ("REML criterion", "Scaled residuals", "Random effects", "Fixed effects",
                  "Subject", "Residual", "(Intr)", "Number of obs: 180"):
        assert piece in text
    payload = json.loads(m.to_json())
    assert payload["fixef"]["Days"] == pytest.approx(m.fixef["Days"])
    with pytest.raises(AttributeError):
        m.theta = np.zeros(3)  # type: ignore[misc]


def test_update_and_objective_function(sleep):
    m = quiet_fit("Reaction ~ Days + (Days|Subject)", sleep)
    ml_fit = m.update(reml=False)
    assert not ml_fit.reml
    assert ml_fit.objective == pytest.approx(1751.9393444889902, rel=1e-9)
    smaller = m.update(". ~ . - Days")
    assert smaller.fixef.index.tolist() == ["(Intercept)"]
    f = ml.objective_function("Reaction ~ Days + (Days|Subject)", sleep)
    assert f(m.theta) == pytest.approx(m.objective, rel=1e-14)
    assert f.lower.tolist() == [0.0, -np.inf, 0.0]


def test_singular_fit_warns_and_records():
    with pytest.warns(ml.SingularFitWarning):
        m = ml.fit("Yield ~ 1 + (1|Batch)", ml.datasets.load("Dyestuff2"))
    assert m.singular
    assert any("singular" in w for w in m.warnings)


def test_missing_values_dropped_and_counted(sleep):
    d = sleep.copy()
    d.loc[[0, 5], "Reaction"] = np.nan
    with pytest.warns(ml.MultilevelWarning, match="2 rows"):
        m = ml.fit("Reaction ~ Days + (1|Subject)", d)
    assert m.nobs == 178
    assert m.design.frame.n_dropped == 2
    assert 0 not in m.fitted.index
    with pytest.raises(ml.DataError, match="missing"):
        ml.fit("Reaction ~ Days + (1|Subject)", d, na_action="raise")


def test_rank_deficient_columns_dropped(sleep):
    d = sleep.assign(Days2=2 * sleep["Days"])
    with pytest.warns(ml.MultilevelWarning, match="rank deficient"):
        m = ml.fit("Reaction ~ Days + Days2 + (1|Subject)", d)
    assert m.fixef.index.tolist() == ["(Intercept)", "Days"]


# -- bad input -------------------------------------------------------------------------------
def test_unknown_column_names_closest(sleep):
    with pytest.raises(ml.DataError, match=r"'Day'.*'Days'"):
        ml.fit("Reaction ~ Day + (1|Subject)", sleep)


def test_non_numeric_response(hsb):
    with pytest.raises(ml.DataError, match="not numeric"):
        ml.fit("sector ~ ses + (1|school)", hsb)


def test_one_level_grouping_factor(sleep):
    d = sleep.assign(g="only")
    with pytest.raises(ml.DataError, match="only 1 level"):
        ml.fit("Reaction ~ Days + (1|g)", d)


def test_levels_as_many_as_observations(sleep):
    d = sleep.assign(obs=np.arange(len(sleep)))
    with pytest.raises(ml.ModelError, match="not identifiable"):
        ml.fit("Reaction ~ Days + (1|obs)", d)


def test_more_random_effects_than_observations(sleep):
    d = sleep.assign(pair=np.arange(len(sleep)) // 2)
    with pytest.raises(ml.ModelError, match="random effects"):
        ml.fit("Reaction ~ Days + (Days|pair)", d)


def test_malformed_formula_points_at_position(sleep):
    with pytest.raises(ml.FormulaError) as info:
        ml.fit("Reaction ~ Days + (1|Subject", sleep)
    assert "^" in str(info.value)


def test_no_random_effects_points_to_ols(sleep):
    with pytest.raises(ml.ModelError, match=r"ml\.ols"):
        ml.fit("Reaction ~ Days", sleep)


def test_bad_weights(sleep):
    with pytest.raises(ml.DataError, match="length"):
        ml.fit("Reaction ~ Days + (1|Subject)", sleep, weights=np.ones(3))
    with pytest.raises(ml.DataError, match="positive"):
        ml.fit("Reaction ~ Days + (1|Subject)", sleep, weights=-np.ones(len(sleep)))


def test_gaussian_with_other_link_not_supported(sleep):
    with pytest.raises(ml.NotSupportedError, match="identity"):
        ml.fit("Reaction ~ Days + (1|Subject)", sleep, link="log")
