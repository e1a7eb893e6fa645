"""``result.icc()``, ``variance_decomposition()`` and ``pve`` against R's performance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import multilevel as ml


def quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def empty(hsb):
    return quiet_fit("mAch ~ 1 + (1 | school)", hsb)


@pytest.fixture(scope="module")
def slope(hsb):
    return quiet_fit("mAch ~ ses + sector + meanses + (1 + ses | school)", hsb)


def test_empty_model_icc_matches_r(empty, ref):
    icc = empty.icc()
    assert icc.index.tolist() == ["school"]
    assert icc.columns.tolist() == ["adjusted", "conditional"]
    assert icc.loc["school", "adjusted"] == pytest.approx(ref["icc_adjusted"], abs=1e-4)
    assert icc.loc["school", "conditional"] == pytest.approx(ref["icc_model"]["icc"], abs=1e-4)
    vd = empty.variance_decomposition()
    assert vd.loc["school", "variance"] == pytest.approx(ref["icc_model"]["tau2"], rel=1e-4)
    assert vd.loc["Residual", "variance"] == pytest.approx(ref["icc_model"]["sigma2"], rel=1e-4)
    assert vd["share"].sum() == pytest.approx(1.0)


def test_random_slope_model_components_match_nakagawa_r2(slope, ref):
    # performance::r2_nakagawa: marginal = Vf / total, conditional = (Vf + Vr) / total
    vd = slope.variance_decomposition(include_fixed=True)
    assert vd.index.tolist() == ["Fixed", "school", "Residual"]
    share = vd["share"]
    r2 = ref["r2_nakagawa"]
    assert share["Fixed"] == pytest.approx(r2["marginal"], abs=1e-4)
    assert share["Fixed"] + share["school"] == pytest.approx(r2["conditional"], abs=1e-4)
    icc = slope.icc(by_group=False)
    assert icc.loc["total", "conditional"] == pytest.approx(
        r2["conditional"] - r2["marginal"], abs=1e-4
    )
    # performance::icc(m) (R 4.2.2, performance 0.10.2)
    assert icc.loc["total", "adjusted"] == pytest.approx(0.0688373132, abs=1e-4)
    assert icc.loc["total", "conditional"] == pytest.approx(0.0565172429, abs=1e-4)


def test_crossed_and_nested_by_group_match_performance():
    scots = quiet_fit(
        "attain ~ verbal + sex + (1|primary) + (1|second)", ml.datasets.load("ScotsSec")
    )
    by_group = scots.icc()
    # performance::icc(m, by_group = TRUE) and icc(m)
    assert by_group.loc["primary", "adjusted"] == pytest.approx(0.0608137568, abs=1e-4)
    assert by_group.loc["second", "adjusted"] == pytest.approx(0.0031893013, abs=1e-4)
    total = scots.icc(by_group=False)
    assert total.loc["total", "adjusted"] == pytest.approx(0.0640030581, abs=1e-4)
    assert total.loc["total", "conditional"] == pytest.approx(0.0320550045, abs=1e-4)
    np.testing.assert_allclose(by_group.sum().to_numpy(), total.iloc[0].to_numpy())
    pastes = quiet_fit("strength ~ 1 + (1|batch/cask)", ml.datasets.load("Pastes"))
    icc = pastes.icc()
    assert icc.index.tolist() == ["cask:batch", "batch"]
    assert icc.loc["cask:batch", "adjusted"] == pytest.approx(0.7831445915, abs=1e-4)
    assert icc.loc["batch", "adjusted"] == pytest.approx(0.1538967855, abs=1e-4)


def test_profile_interval_is_where_the_objective_crosses_the_chi2_bound(empty):
    icc = empty.icc(ci=0.95)
    lo, hi = icc.loc["school", ["adjusted_lower", "adjusted_upper"]]
    assert lo < icc.loc["school", "adjusted"] < hi
    f = ml.objective_function("mAch ~ 1 + (1 | school)", empty.data)
    bound = empty.objective + stats.chi2.ppf(0.95, 1)
    for value in (lo, hi):
        theta = np.sqrt(value / (1 - value))
        assert f([theta]) == pytest.approx(bound, abs=1e-6)


def test_bootstrap_interval_is_seeded(empty, slope):
    a = empty.icc(ci=0.9, method="bootstrap", nsim=20, seed=4)
    b = empty.icc(ci=0.9, method="bootstrap", nsim=20, seed=4)
    assert a.equals(b)
    row = a.loc["school"]
    assert row["adjusted_lower"] < row["adjusted"] < row["adjusted_upper"]
    with pytest.raises(ml.NotSupportedError, match="bootstrap"):
        slope.icc(ci=0.95)


def test_binomial_icc_is_on_the_latent_scale():
    cbpp = ml.datasets.load("cbpp")
    try:
        g = quiet_fit(
            "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial"
        )
    except ml.NotSupportedError:
        pytest.skip("GLMMs are not available in this build")
    icc = g.icc(by_group=False)
    # performance::icc(glmer(..., family = binomial)): var.residual = π²/3
    assert icc.loc["total", "adjusted"] == pytest.approx(0.1113560818, abs=1e-3)
    vd = g.variance_decomposition()
    assert vd.loc["Residual", "variance"] == pytest.approx(np.pi**2 / 3)


def test_pve(empty, slope, hsb):
    level1 = quiet_fit("mAch ~ cses + (1 | school)", hsb)
    out = ml.pve(empty, level1)
    assert out.loc[("Residual", ""), "pve"] == pytest.approx(
        1 - level1.sigma**2 / empty.sigma**2
    )
    both = ml.pve(empty, slope)
    assert both.index.tolist() == [("school", "(Intercept)"), ("school", "ses"), ("Residual", "")]
    assert np.isnan(both.loc[("school", "ses"), "pve"])
    small = quiet_fit("mAch ~ 1 + (1 | school)", hsb.iloc[:2000])
    with pytest.raises(ml.ModelError, match="different data"):
        ml.pve(small, slope)
