"""Held-out models (other datasets, polynomial random slopes, 3-level, crossed with slopes,
factor slopes, offsets, Poisson with observation-level effects, probit, AGQ) against lme4 fits
made at tight tolerances by ``reference/extra/make_extra.R``.

Tolerances: LMM objective 1e-6 relative (or lower), fixef 1e-4, se/theta/sigma 1e-3; GLMM
objective 1e-5 (or lower), fixef 2e-3, theta 3e-3, se 1e-2, as the project sets them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import multilevel as ml
from tests.conftest import extra_models, load_dataset, relerr

MODELS = {m["id"]: m for m in extra_models()}


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request: pytest.FixtureRequest):
    ref = MODELS[request.param]
    data = load_dataset(ref["dataset"])
    kwargs = {}
    if ref["family"] != "gaussian":
        kwargs = {"family": ref["family"], "link": ref.get("link"), "nagq": ref["nAGQ"]}
    else:
        kwargs = {"reml": ref["REML"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(ref["formula"], data, **kwargs), ref


def _glmm(ref: dict) -> bool:
    return ref["family"] != "gaussian"


def _lower_or_singular(res, ref) -> bool:
    """lme4's fit is singular or ours is lower (beyond rounding): a flat ridge, where the
    objective decides and parameters are held to a 10x looser sanity check."""
    target = ref.get("objective_full", ref["objective"])
    return ref["singular"] or (target - res.objective) / abs(target) > 1e-12


def _materially_lower(res, ref) -> bool:
    """Ours is lower by more than the noise of lme4's own convergence (1e-8 for LMMs; 1e-6 for
    GLMMs, whose PIRLS lme4 runs to 1e-7): lme4 stopped elsewhere, the objective decides."""
    target = ref.get("objective_full", ref["objective"])
    if (target - res.objective) / abs(target) > (1e-6 if _glmm(ref) else 1e-8):
        pytest.skip("our objective is materially lower than lme4's: the objective decides")
    return False


def test_objective(fitted):
    res, ref = fitted
    target = ref.get("objective_full", ref["objective"])
    tol = 1e-5 if _glmm(ref) else 1e-6
    assert (res.objective - target) / abs(target) < tol
    assert res.nobs == ref["nobs"]
    assert res.ngroups == ref["ngroups"]
    assert res.singular == ref["singular"]


def test_parameters(fitted):
    res, ref = fitted
    assert list(res.fixef.index) == list(ref["fixef"])
    glmm = _glmm(ref)
    _materially_lower(res, ref)
    ridge = _lower_or_singular(res, ref)
    scale = 10.0 if ridge else 1.0
    assert relerr(res.fixef, list(ref["fixef"].values()), 1e-6) < (2e-3 if glmm else 1e-4) * scale
    assert relerr(res.se, list(ref["se"].values())) < (1e-2 if glmm else 1e-3) * scale
    theta_floor = 1e-2 if ridge else 1e-4
    assert relerr(res.theta, ref["theta"], theta_floor) < (3e-3 if glmm else 1e-3) * scale
    assert res.sigma == pytest.approx(ref["sigma"], rel=1e-3 * scale)
    if "nb_theta" in ref:  # glmer.nb's dispersion
        assert res.nb_theta_opt == pytest.approx(ref["nb_theta"], rel=3e-3 * scale)


def test_varcorr_and_ranef(fitted):
    res, ref = fitted
    vc = res.varcorr.to_dict(orient="records")
    assert [r["grp"] for r in vc] == [r["grp"] for r in ref["varcorr"]]
    assert [r["var1"] for r in vc] == [r.get("var1") for r in ref["varcorr"]]
    tol = 3e-3 if _glmm(ref) else 1e-3
    _materially_lower(res, ref)
    if _lower_or_singular(res, ref):
        tol *= 10
    sd_floor = 1e-2 * max(r["sdcor"] for r in ref["varcorr"] if r.get("var2") is None)
    for row, want in zip(vc, ref["varcorr"], strict=True):
        assert relerr(row["sdcor"], want["sdcor"], sd_floor) < tol, row
    for group, cols in ref["ranef"].items():
        frame = res.ranef[group]
        assert [str(x) for x in frame.index[:5]] == ref["ranef_levels"][group]
        for col, values in cols.items():
            got = frame[col].to_numpy()[: len(values)]
            floor = max(1e-2 * np.max(np.abs(values)), 1e-6)
            assert relerr(got, values, floor) < tol * 3, (group, col)
