"""The non-profiled deviance of a linear mixed model and finite-difference derivatives.

The profiled objective of :mod:`multilevel.lmm` is a function of θ alone (σ profiled out).
Inference on the variance parameters needs the deviance with σ explicit, as lmerTest's
``devfun_vp``: with L(θ) the blocked Cholesky factor and r²(θ) the penalized weighted residual
sum of squares (β at its conditional optimum),

- ML:   d(θ, σ) = log|L_θ|² + r²(θ)/σ² + n log(2πσ²)
- REML: d_R(θ, σ) = d(θ, σ) + log|R_X|² - p log(2πσ²)

The variance parameters are also written on lme4's "sdcor" scale (standard deviations and
correlations of each term, then σ) for profiling. Derivatives are central differences refined by
Richardson extrapolation (the scheme of numDeriv's ``genD``, which lmerTest uses).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from multilevel.lmm.factor import NotPositiveDefinite, update_factor
from multilevel.lmm.system import PLSSystem
from multilevel.lmm.theta import ThetaLayout

FloatArray = NDArray[np.float64]


# -- deviance as a function of (θ, σ) ------------------------------------------------------
def varpar_deviance(system: PLSSystem, varpar: FloatArray, reml: bool) -> float:
    """lmerTest's ``devfun_vp``: the (REML) deviance at ``varpar = (θ, σ)``.

    Returns ``inf`` where L(θ) cannot be formed or σ is not positive.
    """
    varpar = np.asarray(varpar, dtype=float)
    theta, sigma = varpar[:-1], float(varpar[-1])
    if not sigma > 0.0:
        return math.inf
    try:
        factor = update_factor(system, theta)
    except NotPositiveDefinite:
        return math.inf
    s2 = sigma * sigma
    n = system.nobs
    dev = factor.logdet_l() + factor.pwrss / s2 + n * math.log(2.0 * math.pi * s2)
    if reml:
        dev += factor.logdet_rx() - system.nfixed * math.log(2.0 * math.pi * s2)
    return dev - system.log_weights


def covbeta(system: PLSSystem, varpar: FloatArray) -> FloatArray:
    """lmerTest's ``get_covbeta``: σ² (R_XᵀR_X)⁻¹ at θ, as a (p, p) array."""
    varpar = np.asarray(varpar, dtype=float)
    factor = update_factor(system, varpar[:-1])
    p = system.nfixed
    rx = factor.l_xx[:p, :p]
    rinv = np.linalg.solve(rx, np.eye(p))
    return float(varpar[-1]) ** 2 * (rinv.T @ rinv)


# -- the sdcor scale ---------------------------------------------------------------------
def sdcor_names(groups: Sequence[str], cnames: Sequence[Sequence[str]]) -> list[str]:
    """lme4's profile names: ``sd_(Intercept)|g``, ``cor_x.(Intercept)|g``, ..., ``sigma``.

    Per term the lower triangle of the covariance matrix, column by column (θ's order).
    """
    out: list[str] = []
    for group, names in zip(groups, cnames, strict=True):
        q = len(names)
        for j in range(q):
            out.append(f"sd_{names[j]}|{group}")
            for i in range(j + 1, q):
                out.append(f"cor_{names[i]}.{names[j]}|{group}")
    out.append("sigma")
    return out


def theta_to_sdcor(layout: ThetaLayout, theta: FloatArray, sigma: float) -> FloatArray:
    """(θ, σ) → standard deviations and correlations per term, then σ."""
    out: list[float] = []
    for lam in layout.factors(np.asarray(theta, dtype=float)):
        cov = lam @ lam.T * sigma**2
        sd = np.sqrt(np.diag(cov))
        q = lam.shape[0]
        for j in range(q):
            out.append(float(sd[j]))
            for i in range(j + 1, q):
                denom = sd[i] * sd[j]
                out.append(float(cov[i, j] / denom) if denom > 0 else 0.0)
    out.append(float(sigma))
    return np.asarray(out)


def sdcor_to_theta(layout: ThetaLayout, sdcor: FloatArray) -> tuple[FloatArray, float] | None:
    """Standard deviations, correlations and σ → (θ, σ); None if some correlation matrix is
    not positive definite or σ is not positive."""
    sdcor = np.asarray(sdcor, dtype=float)
    sigma = float(sdcor[-1])
    if not sigma > 0.0:
        return None
    theta: list[float] = []
    pos = 0
    for q in layout.sizes:
        seg = sdcor[pos : pos + q * (q + 1) // 2]
        pos += q * (q + 1) // 2
        sd = np.empty(q)
        corr = np.eye(q)
        k = 0
        for j in range(q):
            sd[j] = seg[k]
            k += 1
            for i in range(j + 1, q):
                corr[i, j] = corr[j, i] = seg[k]
                k += 1
        if np.any(sd < 0) or np.any(np.abs(corr) > 1.0):
            return None
        chol = _semidefinite_cholesky(corr)
        if chol is None:
            return None
        lam = (sd / sigma)[:, None] * chol
        rows, cols = np.triu_indices(q)
        theta.extend(lam[cols, rows].tolist())
    return np.asarray(theta), sigma


def _semidefinite_cholesky(a: FloatArray, tol: float = 1e-12) -> FloatArray | None:
    """Lower Cholesky factor of a positive semi-definite matrix (zero pivots allowed, as for a
    correlation of ±1); None if the matrix is not semi-definite."""
    q = a.shape[0]
    out = np.zeros_like(a)
    for j in range(q):
        d = a[j, j] - float(out[j, :j] @ out[j, :j])
        if d < -tol:
            return None
        out[j, j] = math.sqrt(max(d, 0.0))
        for i in range(j + 1, q):
            v = a[i, j] - float(out[i, :j] @ out[j, :j])
            if out[j, j] > 0.0:
                out[i, j] = v / out[j, j]
            elif abs(v) > 1e-9:
                return None
    return out


def sdcor_bounds(layout: ThetaLayout) -> tuple[FloatArray, FloatArray]:
    """Bounds of the sdcor parameters: sd ≥ 0, -1 ≤ cor ≤ 1, σ > 0."""
    lo: list[float] = []
    hi: list[float] = []
    for q in layout.sizes:
        for j in range(q):
            lo.append(0.0)
            hi.append(math.inf)
            for _ in range(j + 1, q):
                lo.append(-1.0)
                hi.append(1.0)
    lo.append(0.0)
    hi.append(math.inf)
    return np.asarray(lo), np.asarray(hi)


def is_sd(layout: ThetaLayout) -> NDArray[np.bool_]:
    """True where the sdcor vector holds a standard deviation (or σ, last)."""
    lo, _ = sdcor_bounds(layout)
    return np.asarray(lo == 0.0)


# -- Richardson-extrapolated finite differences ------------------------------------------
_EPS = 1e-4
_ZERO_TOL = math.sqrt(np.finfo(float).eps / 7e-7)
_R = 4
_V = 2.0


def _base_steps(x: FloatArray, d: float) -> FloatArray:
    return np.abs(d * x) + _EPS * (np.abs(x) < _ZERO_TOL)


def _extrapolate(approx: FloatArray) -> FloatArray:
    """Richardson extrapolation of a sequence computed with steps h, h/2, h/4, ..."""
    a = approx.copy()
    r = a.shape[0]
    for m in range(1, r):
        factor = 4.0**m
        for k in range(r - m):
            a[k] = (a[k + 1] * factor - a[k]) / (factor - 1.0)
    return np.asarray(a[0])


def jacobian(
    f: Callable[[FloatArray], FloatArray], x: FloatArray, d: float = 1e-4
) -> FloatArray:
    """Jacobian of a vector-valued ``f`` at ``x``: shape (len(f(x)), len(x)).

    Central differences with steps ``d·|x|`` (``1e-4`` near zero), halved three times and
    extrapolated (numDeriv's ``jacobian``).
    """
    x = np.asarray(x, dtype=float)
    f0 = np.atleast_1d(np.asarray(f(x), dtype=float)).ravel()
    out = np.empty((f0.size, x.size))
    h0 = _base_steps(x, d)
    for i in range(x.size):
        approx = np.empty((_R, f0.size))
        h = h0[i]
        for k in range(_R):
            e = np.zeros_like(x)
            e[i] = h
            f1 = np.asarray(f(x + e), dtype=float).ravel()
            f2 = np.asarray(f(x - e), dtype=float).ravel()
            approx[k] = (f1 - f2) / (2.0 * h)
            h /= _V
        out[:, i] = _extrapolate(approx)
    return out


def hessian(f: Callable[[FloatArray], float], x: FloatArray, d: float = 0.1) -> FloatArray:
    """Hessian of a scalar ``f`` at ``x`` (numDeriv's ``genD`` scheme).

    The relative step ``d`` is large (10% of each coordinate, numDeriv's default): deviances
    are large numbers, so small steps drown the second differences in rounding error, while
    four levels of Richardson extrapolation remove the truncation error of large ones.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    f0 = float(f(x))
    h0 = _base_steps(x, d)
    diag = np.empty(n)
    for i in range(n):
        approx = np.empty((_R, 1))
        h = h0[i]
        for k in range(_R):
            e = np.zeros(n)
            e[i] = h
            approx[k, 0] = (float(f(x + e)) - 2.0 * f0 + float(f(x - e))) / (h * h)
            h /= _V
        diag[i] = _extrapolate(approx)[0]
    out = np.diag(diag)
    for i in range(n):
        for j in range(i):
            approx = np.empty((_R, 1))
            hi, hj = h0[i], h0[j]
            for k in range(_R):
                e = np.zeros(n)
                e[i] += hi
                e[j] += hj
                val = float(f(x + e)) - 2.0 * f0 + float(f(x - e))
                val -= diag[i] * hi * hi + diag[j] * hj * hj
                approx[k, 0] = val / (2.0 * hi * hj)
                hi /= _V
                hj /= _V
            out[i, j] = out[j, i] = _extrapolate(approx)[0]
    return out
