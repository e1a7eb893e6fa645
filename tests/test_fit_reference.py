"""Every Gaussian lme4 reference fit, reproduced.

Tolerances as the project sets them: objective within 1e-6 relative (or lower), fixed effects
1e-4 relative, se/theta/sigma/varcorr 1e-3, ranef heads 1e-3 relative to max(|ref|, floor).
Where the reference fit is singular or our objective is lower than lme4's, parameters may move
along a flat ridge; then the objective decides.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import multilevel as ml
from tests.conftest import load_reference, reference_models

GAUSSIAN = [m for m in reference_models() if m.get("family", "gaussian") == "gaussian"]


def _fit(spec: dict) -> ml.LMMResult:
    data = ml.datasets.load(spec["dataset"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(
            spec["formula"], data, reml=bool(spec.get("REML", False)), weights=spec.get("weights")
        )


def _rel(a: np.ndarray, b: np.ndarray, floor: float = 0.0) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = np.maximum(np.abs(b), floor)
    scale = np.where(scale == 0, 1.0, scale)
    return float(np.max(np.abs(a - b) / scale)) if a.size else 0.0


@pytest.fixture(scope="module", params=[m["id"] for m in GAUSSIAN])
def fitted(request: pytest.FixtureRequest) -> tuple[ml.LMMResult, dict]:
    spec = next(m for m in GAUSSIAN if m["id"] == request.param)
    return _fit(spec), load_reference(request.param)


def _params_comparable(res: ml.LMMResult, ref: dict) -> bool:
    """False where parameters may move along a flat ridge: lme4's fit is singular, or ours
    reaches a lower objective (beyond rounding), so lme4 stopped short of the optimum."""
    lower = (ref["objective"] - res.objective) / abs(ref["objective"]) > 1e-12
    return not (ref["singular"] or lower)


def _materially_lower(res: ml.LMMResult, ref: dict) -> bool:
    """Ours is lower by more than 1e-8 relative: lme4 stopped elsewhere on the ridge."""
    return (ref["objective"] - res.objective) / abs(ref["objective"]) > 1e-8


def _tol(res: ml.LMMResult, ref: dict) -> float:
    """1e-3 for comparable fits; on a flat ridge the objective decides (2e-2 sanity check)."""
    if _materially_lower(res, ref):
        pytest.skip("our objective is materially lower than lme4's: the objective decides")
    return 1e-3 if _params_comparable(res, ref) else 2e-2


def test_objective(fitted: tuple[ml.LMMResult, dict]) -> None:
    res, ref = fitted
    assert res.converged
    assert (res.objective - ref["objective"]) / abs(ref["objective"]) < 1e-6
    assert res.nobs == ref["nobs"]
    assert res.ngroups == ref["ngroups"]
    assert res.singular == ref["singular"]
    assert res.loglik == pytest.approx(ref["logLik"], rel=1e-6)
    assert res.aic == pytest.approx(ref["AIC"], rel=1e-6)
    assert res.bic == pytest.approx(ref["BIC"], rel=1e-6)


def test_objective_function_at_reference_theta(fitted: tuple[ml.LMMResult, dict]) -> None:
    """The objective as a function of θ reproduces lme4's value at lme4's θ, and the
    optimum we report is no higher than it."""
    res, ref = fitted
    spec = next(m for m in GAUSSIAN if m["id"] == ref["id"])
    fun = ml.objective_function(
        spec["formula"],
        ml.datasets.load(spec["dataset"]),
        reml=bool(spec.get("REML", False)),
        weights=spec.get("weights"),
    )
    at_ref = fun(ref["theta"])
    assert at_ref == pytest.approx(ref["objective"], rel=1e-9)
    assert res.objective <= at_ref + 1e-10 * abs(at_ref)


def test_fixed_effects(fitted: tuple[ml.LMMResult, dict]) -> None:
    res, ref = fitted
    assert list(res.fixef.index) == list(ref["fixef"])
    assert list(res.se.index) == list(ref["se"])
    tol = 1e-4 if _params_comparable(res, ref) else _tol(res, ref)
    assert _rel(res.fixef.to_numpy(), list(ref["fixef"].values()), floor=1e-6) < tol
    assert _rel(res.se.to_numpy(), list(ref["se"].values())) < _tol(res, ref)
    vfloor = 1e-3 * np.max(np.abs(ref["vcov"]))
    assert _rel(res.vcov.to_numpy(), np.array(ref["vcov"]), floor=vfloor) < _tol(res, ref)


def test_covariance_parameters(fitted: tuple[ml.LMMResult, dict]) -> None:
    res, ref = fitted
    tol = _tol(res, ref)
    assert _rel(res.theta, ref["theta"], floor=1e-4) < tol
    assert res.sigma == pytest.approx(ref["sigma"], rel=tol)
    vc = res.varcorr
    assert len(vc) == len(ref["varcorr"])
    for row, want in zip(vc.to_dict(orient="records"), ref["varcorr"], strict=True):
        assert row["grp"] == want["grp"]
        assert row["var1"] == want.get("var1")
        assert row["var2"] == want.get("var2")
        sd_floor = 1e-2 * ref["sigma"]
        assert _rel([row["sdcor"]], [want["sdcor"]], floor=sd_floor) < tol
        assert _rel([row["vcov"]], [want["vcov"]], floor=sd_floor**2) < 2 * tol


def test_conditional_modes(fitted: tuple[ml.LMMResult, dict]) -> None:
    res, ref = fitted
    assert set(res.ranef) == set(ref["ranef"])
    for group, cols in ref["ranef"].items():
        frame = res.ranef[group]
        levels = ref["ranef_levels"][group]
        assert [str(x) for x in frame.index[: len(levels)]] == levels
        for col, values in cols.items():
            got = frame[col].to_numpy()[: len(values)]
            floor = max(1e-3 * np.max(np.abs(values)), 1e-6)
            assert _rel(got, values, floor=floor) < _tol(res, ref), (group, col)


def test_fitted_plus_residuals_is_response(fitted: tuple[ml.LMMResult, dict]) -> None:
    res, _ = fitted
    np.testing.assert_allclose(res.fitted + res.residuals, res.design.y, rtol=1e-12)
