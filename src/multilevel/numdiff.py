"""Finite-difference derivatives of scalar functions (gradients and Hessians)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


Floor = float | FloatArray


def steps(x: FloatArray, rel: float, floor: Floor = 1e-2) -> FloatArray:
    """Difference steps ``rel * max(|x|, floor)``, element by element.

    Parameters
    ----------
    x
        The point.
    rel
        Step relative to the parameter's magnitude.
    floor
        Smallest magnitude a step is taken relative to: a scalar, or one per parameter (e.g.
        1e-2 divided by the scale of the variable a coefficient multiplies, so that a
        coefficient of a variable on scale 1e8 gets steps of order 1e-10, not 1e-5).

    Returns
    -------
    numpy.ndarray
    """
    return rel * np.maximum(np.abs(x), floor)


def gradient(
    f: Callable[[FloatArray], float], x: FloatArray, rel: float = 1e-5, floor: Floor = 1e-2
) -> FloatArray:
    """Central-difference gradient of ``f`` at ``x``, steps :func:`steps` ``(x, rel, floor)``."""
    x = np.asarray(x, dtype=float)
    h = steps(x, rel, floor)
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h[i]
        g[i] = (f(x + e) - f(x - e)) / (2.0 * h[i])
    return g


def hessian(
    f: Callable[[FloatArray], float], x: FloatArray, rel: float = 1e-3, floor: Floor = 1e-2
) -> FloatArray:
    """Central-difference Hessian of ``f`` at ``x`` (symmetric).

    Diagonal elements use f(x ± h); off-diagonal elements the four-point rule
    [f(x+hᵢ+hⱼ) - f(x+hᵢ-hⱼ) - f(x-hᵢ+hⱼ) + f(x-hᵢ-hⱼ)] / (4hᵢhⱼ), as lme4's ``deriv12``;
    h = :func:`steps` ``(x, rel, floor)``.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    h = steps(x, rel, floor)
    f0 = f(x)
    out = np.empty((n, n))
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h[i]
        out[i, i] = (f(x + ei) - 2.0 * f0 + f(x - ei)) / (h[i] ** 2)
        for j in range(i):
            ej = np.zeros(n)
            ej[j] = h[j]
            val = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4.0 * h[i] * h[j]
            )
            out[i, j] = out[j, i] = val
    return out


def hessian_from_gradients(
    grad: Callable[[FloatArray], FloatArray], x: FloatArray, g0: FloatArray, h: FloatArray
) -> FloatArray:
    """Forward differences of an exact gradient: column i is (∇f(x + hᵢeᵢ) - g0)/hᵢ, and the
    result is symmetrized.

    Parameters
    ----------
    grad
        The gradient of f.
    x
        The point.
    g0
        The gradient at ``x``.
    h
        One step per element of ``x``.

    Returns
    -------
    numpy.ndarray
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    out = np.empty((n, n))
    for i in range(n):
        e = x.copy()
        e[i] += h[i]
        out[:, i] = (np.asarray(grad(e), dtype=float) - g0) / h[i]
    return 0.5 * (out + out.T)


def hessian_from_values(
    f: Callable[[FloatArray], float], x: FloatArray, f0: float, g0: FloatArray, h: FloatArray
) -> FloatArray:
    """Forward differences of values of f, with its exact value f0 and gradient g0 at x.

    f(x + hᵢeᵢ) = f0 + hᵢgᵢ + hᵢ²Hᵢᵢ/2 gives the diagonal, and the four corners
    [f(x + hᵢeᵢ + hⱼeⱼ) - f(x + hᵢeᵢ) - f(x + hⱼeⱼ) + f0]/(hᵢhⱼ) the other elements:
    n + n(n-1)/2 values of f. Where a value on the diagonal is not finite the corners are not
    evaluated and the result is all NaN.

    Parameters
    ----------
    f
        The function.
    x
        The point.
    f0, g0
        The value and gradient at ``x``.
    h
        One step per element of ``x``.

    Returns
    -------
    numpy.ndarray
    """
    x = np.asarray(x, dtype=float)
    n = x.size

    def at(i: int, j: int | None = None) -> float:
        moved = x.copy()
        moved[i] += h[i]
        if j is not None:
            moved[j] += h[j]
        return float(f(moved))

    f1 = np.array([at(i) for i in range(n)])
    if not np.all(np.isfinite(f1)):
        return np.full((n, n), np.nan)
    out = np.diag(2.0 * (f1 - f0 - h * g0) / h**2)
    for i in range(n):
        for j in range(i):
            out[i, j] = out[j, i] = (at(i, j) - f1[i] - f1[j] + f0) / (h[i] * h[j])
    return out
