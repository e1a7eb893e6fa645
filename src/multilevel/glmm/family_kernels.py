"""The family functions of the compiled GLMM kernels, by family code.

Codes as :data:`multilevel.glmm.pirls_compiled.CODES`: 0 binomial logit, 1 Poisson log,
2 binomial probit, 3 binomial cloglog, with the formulas of the NumPy links and families.
:mod:`~multilevel.glmm.scalar_kernels` and :mod:`~multilevel.glmm.pirls_crossed_kernels`
compile them in; numba's cache of those files does not notice edits here, so each names this
file's hash in its ``COMPILED_IN`` (a test compares them).
"""

from __future__ import annotations

import math

import numba
import numpy as np

EPS = float(np.finfo(float).eps)
LOG_EPS = float(np.log(EPS))
INV_SQRT_2PI = float(1.0 / np.sqrt(2.0 * np.pi))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def linkinv(eta, code):
    """μ = g⁻¹(η), as the family's NumPy link (clipped where it is clipped)."""
    if code == 0:
        if eta >= 0:
            return 1.0 / (1.0 + np.exp(-eta))
        e = np.exp(eta)
        return e / (1.0 + e)
    if code == 1:
        return max(np.exp(eta), EPS)
    if code == 2:
        return min(max(0.5 * math.erfc(-eta / np.sqrt(2.0)), EPS), 1.0 - EPS)
    return min(max(-np.expm1(-np.exp(eta)), EPS), 1.0 - EPS)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def mu_eta(eta, mu, code):
    """dμ/dη (floored at machine epsilon, as the NumPy links)."""
    if code == 0:
        return max(mu * (1.0 - mu), EPS)
    if code == 1:
        return max(np.exp(eta), EPS)
    if code == 2:
        return max(np.exp(-0.5 * eta * eta) * INV_SQRT_2PI, EPS)
    e = min(eta, 700.0)
    return max(np.exp(e) * np.exp(-np.exp(e)), EPS)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def variance(mu, code):
    """V(μ)."""
    if code == 1:
        return mu
    return max(mu * (1.0 - mu), EPS)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def ylogy(y, mu):
    """y log(y/μ) with 0 log 0 = 0."""
    if y > 0:
        return y * np.log(y / mu)
    return 0.0


@numba.njit(cache=True, nogil=True, error_model="numpy")
def in_range(m, code):
    """True when μ is inside the family's range."""
    if code == 1:
        return m > 0
    return m > 0 and m < 1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def unit_deviance(y, m, w, code):
    """One observation's unit deviance times its prior weight."""
    if code == 1:
        return 2.0 * w * (ylogy(y, m) - (y - m))
    return 2.0 * w * (ylogy(y, m) + ylogy(1.0 - y, 1.0 - m))


__all__ = [
    "EPS", "INV_SQRT_2PI", "LOG_EPS", "in_range", "linkinv", "mu_eta", "unit_deviance",
    "variance", "ylogy",
]
