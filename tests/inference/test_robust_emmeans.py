"""Cluster-robust covariance and estimated marginal means."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import multilevel as ml
from multilevel.lmm import estimates, update_factor
from tests.conftest import load_reference
from tests.inference.conftest import quiet_fit


def test_robust_reduces_to_ols_sandwich(hsb):
    """With θ = 0 the model is OLS: CR2 is clubSandwich's, CR1 is vcovCL's HC1 without its
    (N-1)/(N-p) factor."""
    ref = load_reference("workflow_hsb82")["ols"]
    m = quiet_fit("mAch ~ ses + sector + meanses + (1 | school)", hsb)
    th = np.zeros(1)
    m0 = dataclasses.replace(m, theta=th,
                             estimates=estimates(m.system, update_factor(m.system, th), True))
    se2 = np.sqrt(np.diag(m0.vcov_robust(type="CR2")))
    np.testing.assert_allclose(se2, list(ref["se_cr2"].values()), rtol=1e-8)
    se1 = np.sqrt(np.diag(m0.vcov_robust(type="CR1")))
    n, p = m.nobs, 4
    np.testing.assert_allclose(se1 * np.sqrt((n - 1) / (n - p)), list(ref["se_cr1"].values()),
                               rtol=1e-8)


def test_robust_mixed(hsb_slope, hsb):
    v1 = hsb_slope.vcov_robust()
    v2 = hsb_slope.vcov_robust(cluster="school", type="CR2")
    v0 = hsb_slope.vcov_robust(type="CR0")
    assert list(v1.index) == list(hsb_slope.design.xnames)
    np.testing.assert_allclose(v1, v1.T)
    np.testing.assert_allclose(v1.to_numpy(), v0.to_numpy() * 160 / 159, rtol=1e-10)
    assert np.all(np.diag(v2) > np.diag(v0))
    # same clusters given as an array
    v3 = hsb_slope.vcov_robust(cluster=hsb["school"].to_numpy(), type="CR2")
    np.testing.assert_allclose(v2, v3, rtol=1e-12)
    with pytest.raises(ml.ModelError, match="whole groups"):
        hsb_slope.vcov_robust(cluster=np.arange(hsb_slope.nobs) % 7)


def test_robust_crossed_needs_cluster():
    m = quiet_fit("diameter ~ 1 + (1|plate) + (1|sample)", ml.datasets.load("Penicillin"))
    with pytest.raises(ml.ModelError, match="crossed"):
        m.vcov_robust()


def test_emmeans_balanced_cell_means():
    pen = ml.datasets.load("Penicillin")
    m = quiet_fit("diameter ~ sample + (1|plate)", pen)
    e = m.emmeans("sample")
    means = pen.groupby("sample", observed=True)["diameter"].mean()
    np.testing.assert_allclose(e.table["emmean"], means.to_numpy(), rtol=1e-8)
    assert list(e.table.columns) == ["sample", "emmean", "SE", "df", "lower.CL", "upper.CL"]
    pairs = e.pairs()
    assert len(pairs) == 15
    raw = e.pairs(adjust="none")
    assert np.all(pairs["p.value"] >= raw["p.value"] - 1e-12)
    np.testing.assert_allclose(pairs["df"], 115.0, rtol=1e-4)
    bonf = e.pairs(adjust="bonferroni")
    np.testing.assert_allclose(bonf["p.value"], np.minimum(raw["p.value"] * 15, 1))


def test_emmeans_by_and_covariate(hsb):
    m = quiet_fit("mAch ~ ses + sector * sx + (1 | school)", hsb)
    e = m.emmeans("sector", by="sx")
    assert len(e.table) == 4
    p = e.pairs()
    assert len(p) == 2 and set(p["sx"]) == {"Male", "Female"}
    beta = m.fixef
    ses = float(hsb["ses"].mean())
    pub_male = beta["(Intercept)"] + beta["ses"] * ses
    row = e.table[(e.table["sector"] == "Public") & (e.table["sx"] == "Male")]
    assert float(row["emmean"].iloc[0]) == pytest.approx(pub_male, rel=1e-10)
    assert np.all(np.isinf(e.table["df"]))  # more than 3000 observations: z, as emmeans
    at = m.emmeans("sector", at={"ses": 0.0}).table
    assert float(at["emmean"].iloc[0]) == pytest.approx(
        beta["(Intercept)"] + 0.5 * beta["sxFemale"], rel=1e-10)
    with pytest.raises(ml.ModelError, match="not a variable"):
        m.emmeans("school")
