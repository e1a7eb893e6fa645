"""``panel`` and ``hausman`` against R's plm on Hsb82."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml


@pytest.fixture(scope="module")
def fits(hsb):
    models = ("re", "fe", "between", "pooled")
    return {m: ml.panel("mAch ~ ses", hsb, "school", model=m) for m in models}


def test_re_and_fe_match_plm(fits, ref):
    want = ref["panel"]
    re, fe = fits["re"], fits["fe"]
    assert re.coef.index.tolist() == ["(Intercept)", "ses"]
    assert fe.coef.index.tolist() == ["ses"]  # slopes only: no artificial intercept
    for got, key, tol in (
        (re.coef, "re_coef", 1e-4),
        (re.se, "re_se", 1e-4),
        (fe.coef, "fe_coef", 1e-6),
        (fe.se, "fe_se", 1e-6),
    ):
        np.testing.assert_allclose(got.to_numpy(), list(want[key].values()), rtol=0, atol=tol)
    # tighter than required: the same estimator as plm, not an approximation of it
    np.testing.assert_allclose(re.coef.to_numpy(), list(want["re_coef"].values()), rtol=1e-10)
    assert fe.df_resid == 7185 - 160 - 1


def test_hausman_matches_phtest(fits, ref):
    h = ml.hausman(fits["fe"], fits["re"])
    want = ref["panel"]
    assert h.statistic == pytest.approx(want["hausman_stat"], abs=1e-4)
    assert h.df == want["hausman_df"]
    assert h.pvalue == pytest.approx(want["hausman_p"], rel=1e-6)
    assert h.terms == ("ses",)
    assert "chisq" in h.summary()


def test_fe_equals_lsdv_slope_and_pooled_is_ols(hsb, fits):
    few = hsb[hsb["school"].isin(hsb["school"].cat.categories[:25])]
    lsdv = ml.ols("mAch ~ ses + school", few)
    fe = ml.panel("mAch ~ ses", few, "school", model="fe")
    assert fe.coef["ses"] == pytest.approx(lsdv.coef["ses"], rel=1e-10)
    assert fe.se["ses"] == pytest.approx(lsdv.se["ses"], rel=1e-10)
    pooled = ml.ols("mAch ~ ses", hsb)
    np.testing.assert_allclose(fits["pooled"].coef, pooled.coef, rtol=1e-12)
    means = hsb.groupby("school", observed=True)[["mAch", "ses"]].mean()
    between = ml.ols("mAch ~ ses", means)
    np.testing.assert_allclose(fits["between"].coef, between.coef, rtol=1e-10)
    np.testing.assert_allclose(fits["between"].se, between.se, rtol=1e-10)


def test_level2_terms_not_estimable_under_fe(hsb):
    fe = ml.panel("mAch ~ ses + sector + meanses", hsb, "school", model="fe")
    assert fe.coef.index.tolist() == ["ses"]
    assert fe.dropped == ("sectorCatholic", "meanses")
    assert any("constant within" in n for n in fe.notes)
    re = ml.panel("mAch ~ ses + sector + meanses", hsb, "school", model="re")
    assert set(re.sigma2) == {"idios", "id"} and isinstance(re.theta, pd.Series)
    assert "sectorCatholic" in re.coef.index


def test_balanced_re_is_textbook_swamy_arora():
    rng = np.random.default_rng(5)
    J, T = 30, 6
    g = np.repeat(np.arange(J), T)
    x = rng.normal(size=J * T) + rng.normal(size=J)[g]
    y = 1 + 0.5 * x + rng.normal(size=J)[g] + rng.normal(size=J * T)
    df = pd.DataFrame({"y": y, "x": x, "g": g})
    re = ml.panel("y ~ x", df, "g", model="re")
    fe = ml.panel("y ~ x", df, "g", model="fe")
    be = ml.panel("y ~ x", df, "g", model="between")
    s2e = fe.sigma2
    s2u = be.sigma2 - s2e / T  # balanced Swamy-Arora: σ²_1/T - σ²_ε/T
    assert re.sigma2["idios"] == pytest.approx(s2e, rel=1e-10)
    assert re.sigma2["id"] == pytest.approx(max(s2u, 0.0), rel=1e-10)
    assert isinstance(re.theta, float)


def test_bad_input(hsb):
    with pytest.raises(ml.ModelError, match="model must be one of"):
        ml.panel("mAch ~ ses", hsb, "school", model="random")
    with pytest.raises(ml.ModelError, match="constant within"):
        ml.panel("mAch ~ sector", hsb, "school", model="fe")
    with pytest.raises(ml.ModelError, match="share no coefficient"):
        ml.hausman(ml.panel("mAch ~ ses", hsb, "school", "fe"), ml.ols("mAch ~ 1", hsb))
