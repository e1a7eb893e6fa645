"""Convergence checks as lme4's ``checkConv``: the scaled gradient and a positive definite Hessian
at the optimum, recorded on the result (``result.convergence``) and warned.

The checks belong to the engine; every test here skips while results carry no
``convergence`` record.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import multilevel as ml

from .conftest import quiet_fit

GRAD_TOL = 2e-3  # lme4's check.conv.grad tolerance


def record_of(result: Any) -> Any:
    conv = getattr(result, "convergence", None)
    if conv is None:
        pytest.skip("results carry no convergence record yet (result.convergence is None)")
    return conv


def fit_recording(*args: Any, **kwargs: Any) -> tuple[Any, list[str], list[str]]:
    """The fit, the messages of its ConvergenceWarnings and of all its library warnings."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        m = ml.fit(*args, **kwargs)
    lib = [w for w in record if issubclass(w.category, ml.MultilevelWarning)]
    conv = [str(w.message) for w in lib if issubclass(w.category, ml.ConvergenceWarning)]
    return m, conv, [str(w.message) for w in lib]


@pytest.fixture(scope="module")
def slopes(sleep):
    return fit_recording("Reaction ~ Days + (Days | Subject)", sleep)


def test_converged_fit_passes_both_checks(slopes):
    m, conv_warnings, _ = slopes
    conv = record_of(m)
    assert conv.ok and not conv.messages
    assert conv.max_scaled_gradient < GRAD_TOL
    assert np.all(np.abs(conv.scaled_gradient) < GRAD_TOL)
    hess = np.asarray(conv.hessian)
    assert hess.shape == (3, 3)
    np.testing.assert_allclose(hess, hess.T, rtol=1e-6, atol=1e-8)
    assert np.linalg.eigvalsh(hess).min() > 0
    assert conv.min_eigenvalue > 0
    assert not conv_warnings
    assert m.converged


def test_hessian_is_that_of_the_objective(sleep, slopes):
    m, _, _ = slopes
    conv = record_of(m)
    f = ml.objective_function("Reaction ~ Days + (Days | Subject)", sleep)
    h = 1e-4
    e = np.eye(3)
    fd = np.array([[(f(m.theta + h * (e[i] + e[j])) - f(m.theta + h * (e[i] - e[j]))
                     - f(m.theta - h * (e[i] - e[j])) + f(m.theta - h * (e[i] + e[j])))
                    / (4 * h * h) for j in range(3)] for i in range(3)])  # fmt: skip
    np.testing.assert_allclose(conv.hessian, fd, rtol=1e-3, atol=1e-2)


def test_stopped_early_is_flagged_recorded_and_warned(sleep):
    control = ml.OptimizerControl(maxeval=12, restart=False)
    m, conv_warnings, _ = fit_recording("Reaction ~ Days + (Days | Subject)", sleep,
                                        control=control)  # fmt: skip
    conv = record_of(m)
    assert not conv.ok and conv.messages
    assert not m.converged
    assert conv_warnings
    for text in conv.messages:
        assert text in m.warnings
    assert any("converge" in t for t in conv_warnings)


def test_scaled_gradient_flagged_above_tolerance(sleep):
    control = ml.OptimizerControl(maxeval=12, restart=False)
    m = quiet_fit("Reaction ~ Days + (Days | Subject)", sleep, control=control)
    conv = record_of(m)
    if conv.min_eigenvalue > 0:
        assert conv.max_scaled_gradient > GRAD_TOL
        assert any("max|grad|" in t for t in conv.messages)
    else:
        assert any("Hessian" in t for t in conv.messages)


def test_boundary_parameters_are_left_out():
    m, conv_warnings, texts = fit_recording("Yield ~ 1 + (1 | Batch)",
                                            ml.datasets.load("Dyestuff2"))  # fmt: skip
    conv = record_of(m)
    assert m.singular
    assert not np.asarray(conv.free).any()
    assert conv.ok and not conv_warnings
    assert any("singular" in t for t in texts)


def test_glmm_records_the_checks(counts):
    m, conv_warnings, _ = fit_recording("y ~ x + (1 | g)", counts, family="poisson")
    conv = record_of(m)
    assert conv.ok and not conv_warnings
    assert np.asarray(conv.hessian).shape == (3, 3)  # θ and the two fixed effects
    assert conv.max_scaled_gradient < GRAD_TOL
    assert m.converged


# -- no false alarms from the scale of the response --------------------------------------------
@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
@pytest.mark.parametrize(
    ("shift", "factor"), [(0.0, 1e3), (0.0, 1e-3), (1e4, 1.0)], ids=["x1e3", "x1e-3", "+1e4"]
)
def test_rescaled_response_gives_no_false_gradient_warning(sleep, slopes, reml, shift, factor):
    """The objective changes by a constant (2n log s or 2(n - p) log s): the gradient check must
    not see the larger rounding noise of a larger objective (lme4's difference step 1e-4, and
    min(|R⁻¹g|, |g|) as lme4's checkConv)."""
    data = sleep.assign(Reaction=shift + factor * sleep["Reaction"])
    m, conv_warnings, _ = fit_recording("Reaction ~ Days + (Days | Subject)", data, reml=reml)
    conv = record_of(m)
    assert not conv_warnings, conv_warnings
    assert conv.ok and m.converged
    assert conv.max_scaled_gradient < GRAD_TOL / 10
    ref = slopes[0] if reml else quiet_fit("Reaction ~ Days + (Days | Subject)", sleep, reml=False)
    np.testing.assert_allclose(m.theta, ref.theta, rtol=1e-3)


def test_checks_are_made_on_the_rescaled_parameters(sleep, slopes):
    """A random slope of Days × 1e8: θ of order 1e-10 is not 'on the bound', and the scaled
    gradient and eigenvalues are those of the fit at scale 1."""
    m, conv_warnings, _ = fit_recording("Reaction ~ Days + (Days | Subject)",
                                        sleep.assign(Days=sleep["Days"] * 1e8))  # fmt: skip
    conv, ref = record_of(m), record_of(slopes[0])
    assert np.asarray(conv.free).all() and conv.ok and not conv_warnings
    assert conv.eigenvalue_ratio == pytest.approx(ref.eigenvalue_ratio, rel=1e-2)
    assert conv.min_eigenvalue == pytest.approx(ref.min_eigenvalue, rel=1e-2)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_derivatives_are_a_message_not_an_error(bad):
    from multilevel.convergence import check_convergence

    def f(x):
        return float(x @ x) if x[1] >= 0.0 else bad

    conv = check_convergence(f, np.array([0.5, 0.0]), np.full(2, -np.inf))
    assert not conv.ok
    assert "not finite at the optimum" in conv.messages[0]
    assert conv.max_scaled_gradient == np.inf


def test_value_hessian_agrees_with_the_gradient_hessian():
    import numpy as np

    from multilevel.convergence import check_convergence

    a = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
    xs = np.array([0.5, 1.0, 1.5])

    def fg(x):
        r = x - xs
        return float(r @ a @ r + 0.1 * np.sum(r**3)), 2 * a @ r + 0.3 * r**2

    calls = []

    def fun(x):
        calls.append(1)
        return fg(x)[0]

    x = xs + 1e-9
    lower = np.full(3, -np.inf)
    by_grad = check_convergence(fun, x, lower, fun_grad=fg)
    assert calls == []
    by_value = check_convergence(fun, x, lower, fun_grad=fg, value_hessian=True)
    assert len(calls) == 3 + 3  # diagonal steps and the three corners
    np.testing.assert_allclose(by_value.hessian, 2 * a, rtol=1e-3)
    np.testing.assert_allclose(by_value.hessian, by_grad.hessian, rtol=1e-3)
    np.testing.assert_allclose(by_value.gradient, by_grad.gradient)
    assert by_value.ok
