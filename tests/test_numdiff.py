"""Finite-difference Hessians from exact gradients or from values with an exact gradient."""

from __future__ import annotations

import math

import numpy as np

from multilevel.numdiff import hessian, hessian_from_gradients, hessian_from_values

A = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
X = np.array([0.3, -0.2, 0.8])


def f(x):
    return float(0.5 * x @ A @ x + np.sum(x**3) / 6)


def grad(x):
    return A @ x + x**2 / 2


def test_both_agree_with_the_exact_hessian_to_the_step():
    h = np.full(3, 1e-5)
    exact = A + np.diag(X)
    from_grad = hessian_from_gradients(grad, X, grad(X), h)
    from_values = hessian_from_values(f, X, f(X), grad(X), h)
    np.testing.assert_allclose(from_grad, exact, atol=1e-4)
    np.testing.assert_allclose(from_values, exact, atol=1e-4)
    np.testing.assert_allclose(from_grad, from_grad.T)
    np.testing.assert_allclose(from_values, hessian(f, X), atol=1e-4)


def test_evaluations_and_a_non_finite_diagonal():
    calls = []

    def counted(x):
        calls.append(x.copy())
        return f(x)

    hessian_from_values(counted, X, f(X), grad(X), np.full(3, 1e-4))
    assert len(calls) == 3 + 3  # the diagonal steps and one corner per pair
    calls.clear()

    def broken(x):
        calls.append(x.copy())
        return math.inf if x[1] != X[1] else f(x)

    out = hessian_from_values(broken, X, f(X), grad(X), np.full(3, 1e-4))
    assert np.all(np.isnan(out)) and len(calls) == 3  # no corners evaluated
