"""Likelihood profiles and confidence intervals."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.inference.splines import back_spline_predict
from tests.inference.conftest import quiet_fit

# lme4's confint(fm1) for lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
SLEEP_PROFILE = {
    "sd_(Intercept)|Subject": (14.3814732, 37.7159917),
    "cor_Days.(Intercept)|Subject": (-0.4815007, 0.6849863),
    "sd_Days|Subject": (3.8011641, 8.7533838),
    "sigma": (22.8982669, 28.8579965),
    "(Intercept)": (237.6806955, 265.1295145),
    "Days": (7.3586533, 13.5759188),
}


@pytest.fixture(scope="module")
def sleep_profile(sleep_fit):
    return sleep_fit.profile()


def test_profile_confint_sleepstudy(sleep_profile):
    ci = sleep_profile.confint()
    assert list(ci.index) == list(SLEEP_PROFILE)
    ref = np.array(list(SLEEP_PROFILE.values()))
    err = np.abs(ci.to_numpy() - ref) / np.maximum(1.0, np.abs(ref))
    assert err.max() < 5e-3, ci


def test_profile_traces(sleep_profile):
    tr = sleep_profile.trace("Days")
    assert tr["zeta"].is_monotonic_increasing
    assert (tr["zeta"] == 0).sum() == 1
    est = sleep_profile.estimates["Days"]
    assert tr.loc[tr["zeta"] == 0, "value"].iloc[0] == pytest.approx(est)
    # fixed-effect profiles of an LMM are close to linear in the parameter
    assert tr["zeta"].min() < -2.5 and tr["zeta"].max() > 2.5


def test_exact_matches_interpolated(sleep_fit):
    exact = sleep_fit.confint(parm=["sigma", "Days"], exact=True)
    approx = sleep_fit.confint(parm=["sigma", "Days"])
    np.testing.assert_allclose(exact.to_numpy(), approx.to_numpy(), rtol=1e-4)


def test_wald_confint(sleep_fit):
    ci = sleep_fit.confint(method="wald")
    assert ci.loc["sigma"].isna().all()
    assert ci.loc["Days", "lower"] == pytest.approx(
        sleep_fit.fixef["Days"] - 1.959964 * sleep_fit.se["Days"], rel=1e-6
    )
    with pytest.raises(ml.ModelError, match="unknown parameter"):
        sleep_fit.confint(method="wald", parm="nope")


def test_boundary_lower_bound_is_zero():
    d2 = ml.datasets.load("Dyestuff2")
    m = quiet_fit("Yield ~ 1 + (1|Batch)", d2)
    ci = m.confint(parm="theta_")
    assert ci.loc["sd_(Intercept)|Batch", "lower"] == 0.0
    assert ci.loc["sd_(Intercept)|Batch", "upper"] > 0.5


def test_back_spline_linear_profile():
    x = np.linspace(-3, 3, 9)
    z = 2.0 * x
    np.testing.assert_allclose(back_spline_predict(x, z, np.array([-1.0, 0.5])), [-0.5, 0.25])
    assert np.isnan(back_spline_predict(x, z, np.array([7.0]))[0])


def test_profile_plot(sleep_profile):
    import matplotlib

    matplotlib.use("Agg")
    fig = sleep_profile.plot()
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 6
