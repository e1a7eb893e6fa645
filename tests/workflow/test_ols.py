"""``ols``: coefficients and iid / HC1 / CR1 / CR2 standard errors against R on Hsb82."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

FORMULA = "mAch ~ ses + sector + meanses"
# clubSandwich::coef_test(lm(...), vcov = "CR2", cluster = school)$df_Satt (R 4.2.2, 0.5.8)
CR2_DF = [81.4032117576, 140.8262970043, 95.1687038892, 75.4812429434]


@pytest.mark.parametrize(("se", "key"), [("iid", "se_iid"), ("CR1", "se_cr1"), ("CR2", "se_cr2")])
def test_hsb82_matches_r(hsb, ref, se, key):
    r = ml.ols(FORMULA, hsb, cluster="school", se=se)
    want = ref["ols"]
    assert r.coef.index.tolist() == list(want["coef"])
    np.testing.assert_allclose(r.coef.to_numpy(), list(want["coef"].values()), rtol=0, atol=1e-6)
    np.testing.assert_allclose(r.se.to_numpy(), list(want[key].values()), rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(r.vcov)), r.se.to_numpy())


def test_df_per_se_type(hsb):
    assert (ml.ols(FORMULA, hsb).df == 7181).all()
    assert (ml.ols(FORMULA, hsb, cluster="school").df == 159).all()  # CR1 by default
    cr2 = ml.ols(FORMULA, hsb, cluster="school", se="CR2")
    np.testing.assert_allclose(cr2.df.to_numpy(), CR2_DF, rtol=1e-9)
    assert cr2.pvalues["sectorCatholic"] == pytest.approx(5.232087161e-05, rel=1e-8)
    text = cr2.summary()
    assert "Bell-McCaffrey" in text and "sectorCatholic" in text and "160 clusters" in text


def test_hc1_by_definition(hsb):
    r = ml.ols(FORMULA, hsb, se="HC1")
    X = np.column_stack(
        [np.ones(len(hsb)), hsb["ses"], hsb["sector"] == "Catholic", hsb["meanses"]]
    ).astype(float)
    e = r.residuals.to_numpy()
    bread = np.linalg.inv(X.T @ X)
    n, p = X.shape
    v = n / (n - p) * bread @ (X.T * e**2) @ X @ bread
    np.testing.assert_allclose(r.vcov.to_numpy(), v, rtol=1e-10)


def test_cr2_equals_hc2_with_singleton_clusters():
    # with one row per cluster, CR2 is HC2: (X'X)^-1 X' diag(e²/(1-h)) X (X'X)^-1
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(size=40), "id": np.arange(40)})
    df["y"] = 1 + df["x"] + rng.normal(size=40) * (1 + df["x"].abs())
    r = ml.ols("y ~ x", df, cluster="id", se="CR2")
    X = np.column_stack([np.ones(40), df["x"]])
    bread = np.linalg.inv(X.T @ X)
    h = np.einsum("ij,jk,ik->i", X, bread, X)
    e = r.residuals.to_numpy()
    v = bread @ (X.T * (e**2 / (1 - h))) @ X @ bread
    np.testing.assert_allclose(r.vcov.to_numpy(), v, rtol=1e-9)


def test_bad_input(hsb):
    with pytest.raises(ml.ModelError, match="cluster="):
        ml.ols(FORMULA, hsb, se="CR2")
    with pytest.raises(ml.ModelError, match="se must be one of"):
        ml.ols(FORMULA, hsb, se="HC3")
    with pytest.raises(ml.ModelError, match="random-effects"):
        ml.ols("mAch ~ ses + (1|school)", hsb)
    with pytest.raises(ml.DataError, match="not in the data"):
        ml.ols(FORMULA, hsb, cluster="schol")
