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
