"""Huge and tiny scales (1e-8, 1e8) without loss of accuracy.

Rescaling a variable is a reparametrization, so theory says exactly how the fit changes:

- response y → s·y: θ unchanged; β, σ and the random effects times s; the objective changes by
  2n log s (ML) or 2(n - p) log s (REML);
- a fixed-effect predictor x → s·x: its coefficient divided by s, the rest unchanged; the ML
  objective unchanged and the REML one up by 2 log s (log|R_X|² has the column's factor s);
- a random-slope predictor x → s·x: also the θ elements of that column divided by s;
- prior weights w → c·w: objective, β and random-effect variances unchanged, σ² times c.

Each scaled fit is compared with the fit at scale 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from .conftest import quiet_fit

SCALES = [1e-8, 1e8]
SLOPES = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module", params=[True, False], ids=["REML", "ML"])
def base(request, sleep):
    return quiet_fit(SLOPES, sleep, reml=request.param)


@pytest.mark.parametrize("s", SCALES)
def test_response_scale(sleep, base, s):
    m = quiet_fit(SLOPES, sleep.assign(Reaction=sleep["Reaction"] * s), reml=base.reml)
    k = base.nobs - (len(base.fixef) if base.reml else 0)
    assert m.objective == pytest.approx(base.objective + 2 * k * math.log(s), abs=1e-7)
    np.testing.assert_allclose(m.theta, base.theta, rtol=5e-4)
    np.testing.assert_allclose(m.fixef.to_numpy() / s, base.fixef.to_numpy(), rtol=1e-7)
    assert m.sigma / s == pytest.approx(base.sigma, rel=1e-6)
    np.testing.assert_allclose(m.se.to_numpy() / s, base.se.to_numpy(), rtol=1e-4)
    np.testing.assert_allclose(
        m.ranef["Subject"].to_numpy() / s, base.ranef["Subject"].to_numpy(), rtol=1e-4, atol=1e-6
    )
    assert m.converged and not m.singular


@pytest.mark.parametrize("s", SCALES)
def test_fixed_effect_predictor_scale(sleep, s):
    formula = "Reaction ~ Days + x + (1 | Subject)"
    data = sleep.assign(x=np.cos(np.arange(len(sleep))))
    ref = quiet_fit(formula, data)
    m = quiet_fit(formula, data.assign(x=data["x"] * s))
    assert m.objective == pytest.approx(ref.objective + 2 * math.log(s), abs=1e-7)
    np.testing.assert_allclose(m.theta, ref.theta, rtol=1e-6)
    expected = ref.fixef.to_numpy() / np.array([1.0, 1.0, s])
    np.testing.assert_allclose(m.fixef.to_numpy(), expected, rtol=1e-7)
    np.testing.assert_allclose(m.se.to_numpy(), ref.se.to_numpy() / [1.0, 1.0, s], rtol=1e-6)
    assert m.converged


@pytest.mark.parametrize("s", SCALES)
def test_random_slope_predictor_scale(sleep, base, s):
    m = quiet_fit(SLOPES, sleep.assign(Days=sleep["Days"] * s), reml=base.reml)
    shift = 2 * math.log(s) if base.reml else 0.0
    assert m.objective == pytest.approx(base.objective + shift, abs=1e-6)
    np.testing.assert_allclose(m.theta * [1.0, s, s], base.theta, rtol=1e-3)
    np.testing.assert_allclose(m.fixef.to_numpy() * [1.0, s], base.fixef.to_numpy(), rtol=1e-6)


@pytest.fixture(scope="module")
def weighted(sleep):
    return quiet_fit(SLOPES, sleep, weights="w")


@pytest.mark.parametrize("c", SCALES)
def test_weights_scale(sleep, weighted, c):
    ref = weighted
    m = quiet_fit(SLOPES, sleep.assign(w=sleep["w"] * c), weights="w")
    assert m.objective == pytest.approx(ref.objective, abs=1e-7)
    np.testing.assert_allclose(m.fixef.to_numpy(), ref.fixef.to_numpy(), rtol=1e-7)
    assert m.sigma**2 / c == pytest.approx(ref.sigma**2, rel=1e-5)
    np.testing.assert_allclose(m.theta * math.sqrt(c), ref.theta, rtol=1e-3)
    assert_same_random_effect_variances(m, ref)


def assert_same_random_effect_variances(m, ref) -> None:
    """Variances to 1e-4 relative; correlations to 1e-3 absolute (the objective is flat there)."""
    vc, vr = m.varcorr, ref.varcorr
    assert vc["grp"].tolist() == vr["grp"].tolist()
    var = (vc["grp"] != "Residual") & vc["var2"].isna()
    np.testing.assert_allclose(vc.loc[var, "vcov"], vr.loc[var, "vcov"], rtol=1e-4)
    cor = vc["var2"].notna()
    np.testing.assert_allclose(vc.loc[cor, "sdcor"], vr.loc[cor, "sdcor"], atol=1e-3)


@pytest.mark.parametrize("s", SCALES)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_glmm_predictor_scale(counts, s):
    ref = quiet_fit("y ~ x + (1 | g)", counts, family="poisson")
    m = quiet_fit("y ~ x + (1 | g)", counts.assign(x=counts["x"] * s), family="poisson")
    assert m.objective == pytest.approx(ref.objective, abs=1e-6)
    np.testing.assert_allclose(m.fixef.to_numpy() * [1.0, s], ref.fixef.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(m.theta, ref.theta, rtol=1e-5)
    np.testing.assert_allclose(m.se.to_numpy() * [1.0, s], ref.se.to_numpy(), rtol=1e-4)
