"""Quasi-Newton on log θ: convergence, counting, and the cases where it must give up."""

from __future__ import annotations

import math

import numpy as np
import pytest

from multilevel.optimize import OptimizerControl
from multilevel.optimize_newton import minimize_newton


def control(maxeval=200):
    return OptimizerControl(maxeval=maxeval)


def counted(fun_grad):
    calls = []

    def wrapped(x):
        calls.append(np.array(x))
        return fun_grad(x)

    return wrapped, calls


def profiled_like(x):
    """A variance-component-like objective: smooth, minimum at θ = (0.3, 2.0), steep near 0."""
    a, b = x
    f = (
        50 * (math.log(a / 0.3)) ** 2
        + 20 * (math.log(b / 2.0)) ** 2
        + 5 * math.log(a / 0.3) * math.log(b / 2.0)
        + a * b
    )
    g = np.array(
        [
            (100 * math.log(a / 0.3) + 5 * math.log(b / 2.0)) / a + b,
            (40 * math.log(b / 2.0) + 5 * math.log(a / 0.3)) / b + a,
        ]
    )
    return f, g


def test_converges_to_the_minimum_in_few_evaluations():
    from scipy.optimize import minimize

    fg, calls = counted(profiled_like)
    out = minimize_newton(fg, np.array([1.0, 0.5]), control(), np.ones(2))
    assert out.converged and out.optimizer == "Newton (log θ)"
    ref = minimize(profiled_like, [1.0, 0.5], jac=True, method="BFGS", tol=1e-12)
    assert out.fmin <= ref.fun + 1e-12
    np.testing.assert_allclose(out.x, ref.x, rtol=1e-6)
    assert out.feval == len(calls) < 20
    assert np.all(np.abs(profiled_like(out.x)[1]) < 1e-5)
    np.testing.assert_array_equal(out.x0, [1.0, 0.5])


def test_quadratic_on_log_scale_is_solved_by_the_first_newton_step():
    target = np.array([0.2, 3.0, 1.5])

    def fg(x):
        z = np.log(x / target)
        return float(z @ z), 2 * z / x

    fg, calls = counted(fg)
    out = minimize_newton(fg, np.ones(3), control(), np.ones(3))
    assert out.converged
    np.testing.assert_allclose(out.x, target, rtol=1e-5)
    # start, 3 gradients for the Hessian, the Newton step, at most one confirming step
    assert len(calls) <= 6


def test_gives_up_when_a_parameter_heads_for_zero():
    def fg(x):  # decreasing towards θ₁ = 0: the optimum is on the boundary
        return float(x[0] + (x[1] - 1) ** 2), np.array([1.0, 2 * (x[1] - 1)])

    out = minimize_newton(fg, np.array([0.5, 0.5]), control(), np.ones(2))
    assert not out.converged
    assert "approaches 0" in out.returnvalue
    assert out.fmin < 0.5 + 0.25  # the best point so far is kept
    assert out.fmin == pytest.approx(fg(out.x)[0])


def test_respects_maxeval():
    fg, calls = counted(profiled_like)
    out = minimize_newton(fg, np.array([1.0, 0.5]), control(maxeval=4), np.ones(2))
    assert not out.converged and "maxeval" in out.returnvalue
    assert len(calls) == out.feval == 4


def test_non_positive_or_non_finite_start_is_refused():
    fg, calls = counted(profiled_like)
    for x0 in ([0.0, 1.0], [-1.0, 1.0], [np.nan, 1.0]):
        out = minimize_newton(fg, np.array(x0), control(), np.ones(2))
        assert not out.converged and out.feval == 0
    assert calls == []


def test_an_infinite_value_shortens_the_step():
    calls = []

    def fg(x):  # the first Newton trial (after the start and 2 Hessian gradients) fails
        calls.append(np.array(x))
        if len(calls) == 4:
            return math.inf, np.zeros(2)
        return profiled_like(x)

    out = minimize_newton(fg, np.array([1.0, 0.5]), control(), np.ones(2))
    assert out.converged and math.isfinite(out.fmin)
    # the step was halved: the 5th point is halfway from the start to the 4th
    np.testing.assert_allclose(np.log(calls[4]), 0.5 * (np.log(calls[3]) + np.log(calls[0])))
    free = minimize_newton(profiled_like, np.array([1.0, 0.5]), control(), np.ones(2))
    np.testing.assert_allclose(out.x, free.x, rtol=1e-5)


def test_first_hessian_from_values_when_the_objective_is_given():
    values = []

    def fun(x):
        values.append(np.array(x))
        return profiled_like(x)[0]

    fg, grads = counted(profiled_like)
    out = minimize_newton(fg, np.array([1.0, 0.5]), control(), np.ones(2), fun=fun)
    assert out.converged
    assert len(values) == 3  # 2 + 1 corner for 2 parameters, in place of 2 gradients
    assert out.feval == len(values) + len(grads)
    ref = minimize_newton(profiled_like, np.array([1.0, 0.5]), control(), np.ones(2))
    np.testing.assert_allclose(out.x, ref.x, rtol=1e-6)
    assert out.fmin <= ref.fmin + 1e-12


def test_many_parameters_keep_the_gradient_hessian():
    target = np.array([0.2, 3.0, 1.5, 0.7])

    def fg(x):
        z = np.log(x / target)
        return float(z @ z), 2 * z / x

    values = []
    out = minimize_newton(fg, np.ones(4), control(), np.ones(4),
                          fun=lambda x: values.append(1) or fg(x)[0])
    assert out.converged and values == []
