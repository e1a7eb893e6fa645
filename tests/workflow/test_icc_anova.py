"""``icc_anova``: ICC(1), Searle's interval and eta² against R on Hsb82, and by definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml


def test_hsb82_matches_r(hsb, ref):
    r = ml.icc_anova(hsb, "mAch", "school")
    want = ref["icc_anova"]
    for name in ("icc", "msb", "msw", "n0"):
        assert getattr(r, name) == pytest.approx(want[name], rel=1e-8, abs=1e-8)
    assert r.eta_squared == pytest.approx(want["ss_ratio"], abs=1e-8)
    assert r.lower == pytest.approx(want["lower"], abs=1e-6)
    assert r.upper == pytest.approx(want["upper"], abs=1e-6)
    assert (r.ngroups, r.nobs, r.df_between, r.df_within) == (160, 7185, 159, 7025)
    assert not r.balanced
    assert "ICC(1)" in r.summary() and "not an ICC" in r.summary()


def test_balanced_design_n0_is_group_size_and_interval_is_searle():
    rng = np.random.default_rng(1)
    J, n = 12, 7
    g = np.repeat(np.arange(J), n)
    y = rng.normal(size=J)[g] + rng.normal(size=J * n)
    df = pd.DataFrame({"y": y, "g": g})
    r = ml.icc_anova(df, "y", "g", level=0.9)
    assert r.balanced and r.n0 == pytest.approx(n)
    # by hand: the F statistic and its quantiles
    means = df.groupby("g")["y"].mean().to_numpy()
    msb = n * np.sum((means - y.mean()) ** 2) / (J - 1)
    msw = np.sum((y - means[g]) ** 2) / (J * n - J)
    assert r.msb == pytest.approx(msb) and r.msw == pytest.approx(msw)
    from scipy import stats

    fl = r.F / stats.f.ppf(0.95, J - 1, J * n - J)
    assert r.lower == pytest.approx((fl - 1) / (fl + n - 1))
    assert r.lower < r.icc < r.upper


def test_missing_rows_are_dropped_and_data_not_modified(hsb):
    df = hsb[["mAch", "school"]].copy()
    df.loc[[0, 5, 9], "mAch"] = np.nan
    before = df.copy()
    r = ml.icc_anova(df, "mAch", "school")
    assert r.nobs == 7182
    pd.testing.assert_frame_equal(df, before)


def test_bad_input():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0], "g": ["a", "a", "a"]})
    with pytest.raises(ml.DataError, match="at least two groups"):
        ml.icc_anova(df, "y", "g")
    df2 = pd.DataFrame({"y": [1.0, 1.0, 3.0, 3.0], "g": ["a", "a", "b", "b"]})
    with pytest.raises(ml.DataError, match="does not vary within"):
        ml.icc_anova(df2, "y", "g")
    with pytest.raises(ml.DataError, match="not in the data"):
        ml.icc_anova(df2, "yy", "g")
    with pytest.raises(ml.ModelError, match="level"):
        ml.icc_anova(df2, "y", "g", level=95)
