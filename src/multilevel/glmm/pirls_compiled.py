"""PIRLS compiled for the most common GLMM: one scalar random-effects term, β held fixed.

With β given (the Laplace and AGQ objectives) and one term ``(1 | g)`` (or ``(0 + x | g)``), the
penalized least-squares system is diagonal: every level's conditional mode is updated from two
per-level sums. The whole iteration (working weights, the update, step-halving on the penalized
deviance, the convergence test) then runs in one compiled loop over the observations, with the
same rules as :func:`multilevel.glmm.pirls.pirls`, for binomial (logit, probit, cloglog) and
Poisson (log) models. Other families and links use the general path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.glmm.family import Family

FloatArray = NDArray[np.float64]

#: (family, link) → code understood by the kernel.
CODES = {("binomial", "logit"): 0, ("poisson", "log"): 1, ("binomial", "probit"): 2,
         ("binomial", "cloglog"): 3}


def family_code(family: Family) -> int | None:
    """The kernel's code of a family and link, or None when only the general path has it."""
    if family.nb_theta is not None:
        return None
    return CODES.get((family.name, family.link.name))


@lru_cache(maxsize=1)
def _kernel() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]] | None:
    try:
        import numba
    except ImportError:  # pragma: no cover
        return None
    eps = float(np.finfo(float).eps)
    inv_sqrt_2pi = 1.0 / np.sqrt(2.0 * np.pi)

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def linkinv(eta, code):
        if code == 0:
            if eta >= 0:
                return 1.0 / (1.0 + np.exp(-eta))
            e = np.exp(eta)
            return e / (1.0 + e)
        if code == 1:
            return max(np.exp(eta), eps)
        if code == 2:
            return min(max(0.5 * math.erfc(-eta / np.sqrt(2.0)), eps), 1.0 - eps)
        return min(max(-np.expm1(-np.exp(eta)), eps), 1.0 - eps)

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def mu_eta(eta, mu, code):
        if code == 0:
            return max(mu * (1.0 - mu), eps)
        if code == 1:
            return max(np.exp(eta), eps)
        if code == 2:
            return max(np.exp(-0.5 * eta * eta) * inv_sqrt_2pi, eps)
        e = min(eta, 700.0)
        return max(np.exp(e) * np.exp(-np.exp(e)), eps)

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def variance(mu, code):
        if code == 1:
            return mu
        return max(mu * (1.0 - mu), eps)

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def ylogy(y, mu):
        if y > 0:
            return y * np.log(y / mu)
        return 0.0

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def in_range(m, code):
        if code == 1:
            return m > 0
        return m > 0 and m < 1

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def unit_deviance(y, m, w, code):
        if code == 1:
            return 2.0 * w * (ylogy(y, m) - (y - m))
        return 2.0 * w * (ylogy(y, m) + ylogy(1.0 - y, 1.0 - m))

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def deviance(y, wt, eta_fixed, zl, index, u, code, eta, mu):
        """Σ unit deviances at u (fills eta, mu); NaN when μ leaves the family's range."""
        dev = 0.0
        valid = True
        for i in range(y.shape[0]):
            e = eta_fixed[i] + zl[i] * u[index[i]]
            m = linkinv(e, code)
            eta[i] = e
            mu[i] = m
            if not in_range(m, code):
                valid = False
            dev += unit_deviance(y[i], m, wt[i], code)
        if not valid:
            return np.nan
        return dev

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def pirls_scalar(y, wt, eta_fixed, zl, index, nlev, u0, code, tol, utol, maxiter):
        n = y.shape[0]
        u = u0.copy()
        eta = np.empty(n)
        mu = np.empty(n)
        eta_try = np.empty(n)
        mu_try = np.empty(n)
        pdev = deviance(y, wt, eta_fixed, zl, index, u, code, eta, mu) + np.sum(u * u)
        m = np.empty(nlev)
        r = np.empty(nlev)
        u_try = np.empty(nlev)
        converged = False
        iteration = 0
        for iteration in range(1, maxiter + 1):  # noqa: B007  (returned)
            m[:] = 1.0
            r[:] = 0.0
            for i in range(n):
                me = mu_eta(eta[i], mu[i], code)
                w = wt[i] * me * me / variance(mu[i], code)
                work = eta[i] - eta_fixed[i] + (y[i] - mu[i]) / me
                g = index[i]
                wz = w * zl[i]
                m[g] += wz * zl[i]
                r[g] += wz * work
            step = 1.0
            accepted = False
            pdev_try = np.inf
            for _ in range(30):
                for g in range(nlev):
                    u_try[g] = u[g] + step * (r[g] / m[g] - u[g])
                pdev_try = deviance(y, wt, eta_fixed, zl, index, u_try, code, eta_try, mu_try)
                pdev_try += np.sum(u_try * u_try)
                if np.isfinite(pdev_try) and (
                    pdev_try <= pdev + 1e-10 * abs(pdev) or not np.isfinite(pdev)
                ):
                    accepted = True
                    break
                step *= 0.5
            if not accepted:
                break
            change = abs(pdev - pdev_try) if np.isfinite(pdev) else np.inf
            moved = 0.0
            for g in range(nlev):
                moved = max(moved, abs(u_try[g] - u[g]))
                u[g] = u_try[g]
            eta[:] = eta_try
            mu[:] = mu_try
            pdev = pdev_try
            if change < tol * (0.1 + abs(pdev)) and moved < utol:
                converged = True
                break
        # L(θ) at the converged weights: the diagonal sqrt(1 + Σ w (zλ)²) per level.
        m[:] = 1.0
        for i in range(n):
            me = mu_eta(eta[i], mu[i], code)
            w = wt[i] * me * me / variance(mu[i], code)
            m[index[i]] += w * zl[i] * zl[i]
        return u, eta, mu, iteration, converged, np.sqrt(m)

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def mu_deviance(eta, y, wt, code):
        """μ = g⁻¹(η) and Σ unit deviances (NaN when μ leaves the family's range)."""
        n = eta.shape[0]
        mu = np.empty(n)
        dev = 0.0
        valid = True
        for i in range(n):
            m = linkinv(eta[i], code)
            mu[i] = m
            if not in_range(m, code):
                valid = False
            dev += unit_deviance(y[i], m, wt[i], code)
        return mu, (dev if valid else np.nan)

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def working(eta, mu, y, wt, code):
        """Working weights and (y - μ)/(dμ/dη) of one PIRLS step."""
        n = eta.shape[0]
        w = np.empty(n)
        r = np.empty(n)
        for i in range(n):
            me = mu_eta(eta[i], mu[i], code)
            w[i] = wt[i] * me * me / variance(mu[i], code)
            r[i] = (y[i] - mu[i]) / me
        return w, r

    return pirls_scalar, mu_deviance, working


def pirls_scalar(
    y: FloatArray,
    wt: FloatArray,
    eta_fixed: FloatArray,
    zl: FloatArray,
    index: NDArray[np.intp],
    nlev: int,
    u0: FloatArray,
    code: int,
    tol: float,
    utol: float,
    maxiter: int,
) -> tuple[FloatArray, FloatArray, FloatArray, int, bool, FloatArray] | None:
    """Run the compiled PIRLS (None when numba is unavailable).

    Returns
    -------
    tuple or None
        u, η, μ, iterations, converged, and the diagonal of L(θ) per level.
    """
    kernels = _kernel()
    if kernels is None:  # pragma: no cover
        return None
    u, eta, mu, it, conv, ldiag = kernels[0](y, wt, eta_fixed, zl, index, nlev, u0, code, tol,
                                             utol, maxiter)
    return u, eta, mu, int(it), bool(conv), ldiag


def mu_deviance(
    eta: FloatArray, y: FloatArray, wt: FloatArray, code: int
) -> tuple[FloatArray, float] | None:
    """μ and the summed unit deviances at η (NaN deviance when μ is out of range)."""
    kernels = _kernel()
    if kernels is None:  # pragma: no cover
        return None
    mu, dev = kernels[1](eta, y, wt, code)
    return mu, float(dev)


def working(
    eta: FloatArray, mu: FloatArray, y: FloatArray, wt: FloatArray, code: int
) -> tuple[FloatArray, FloatArray] | None:
    """Working weights and (y - μ)/(dμ/dη) at η and μ."""
    kernels = _kernel()
    if kernels is None:  # pragma: no cover
        return None
    w, r = kernels[2](eta, mu, y, wt, code)
    return w, r


__all__ = ["CODES", "family_code", "mu_deviance", "pirls_scalar", "working"]
