"""Finite-difference derivatives of scalar functions (gradients and Hessians)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def _steps(x: FloatArray, rel: float) -> FloatArray:
    return rel * np.maximum(np.abs(x), 1e-2)


def gradient(f: Callable[[FloatArray], float], x: FloatArray, rel: float = 1e-5) -> FloatArray:
    """Central-difference gradient of ``f`` at ``x``."""
    x = np.asarray(x, dtype=float)
    h = _steps(x, rel)
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h[i]
        g[i] = (f(x + e) - f(x - e)) / (2.0 * h[i])
    return g


def hessian(f: Callable[[FloatArray], float], x: FloatArray, rel: float = 1e-3) -> FloatArray:
    """Central-difference Hessian of ``f`` at ``x`` (symmetric).

    Diagonal elements use f(x ± 2h); off-diagonal elements the four-point rule
    [f(x+hᵢ+hⱼ) - f(x+hᵢ-hⱼ) - f(x-hᵢ+hⱼ) + f(x-hᵢ-hⱼ)] / (4hᵢhⱼ), as lme4's ``deriv12``.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    h = _steps(x, rel)
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
