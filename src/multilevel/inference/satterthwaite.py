"""Satterthwaite denominator degrees of freedom, as lmerTest computes them.

With varpar = (θ, σ) and d(varpar) the (REML) deviance of :mod:`~multilevel.inference.deviance`,
the asymptotic covariance of the variance parameters is A = 2 H⁻¹ (H the Hessian of d at the
optimum, Moore-Penrose inverse over its positive eigenvalues) and J_i = ∂ cov(β̂)/∂varpar_i.
For a contrast ℓ: ν = 2 (ℓᵀCℓ)² / (gᵀ A g) with gᵢ = ℓᵀ J_i ℓ. Multi-row contrasts are
rotated to independent t statistics (eigenvectors of L C Lᵀ) whose df are combined into the
F test's df (Fai and Cornelius 1996), as lmerTest's ``contestMD``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.errors import ConvergenceWarning
from multilevel.inference._common import cached
from multilevel.inference.deviance import covbeta, hessian, jacobian, varpar_deviance

FloatArray = NDArray[np.float64]

_TOL = 1e-8


@dataclass(frozen=True)
class SatterthwaiteInfo:
    """What Satterthwaite's df need, computed once per fit.

    Attributes
    ----------
    varpar
        (θ, σ) at the optimum.
    vcov_varpar
        Asymptotic covariance of varpar, 2 H⁻¹.
    jacobians
        ∂ cov(β̂)/∂varpar_i, shape (k, p, p).
    vcov_beta
        cov(β̂) at the optimum.
    """

    varpar: FloatArray
    vcov_varpar: FloatArray
    jacobians: FloatArray
    vcov_beta: FloatArray


def _compute(result: Any) -> SatterthwaiteInfo:
    system = result.system
    reml = bool(result.reml)
    varpar = np.concatenate([np.asarray(result.theta, dtype=float), [result.sigma]])
    h = hessian(lambda v: varpar_deviance(system, v, reml), varpar)
    h = 0.5 * (h + h.T)
    evals, evecs = np.linalg.eigh(h)
    if np.any(evals < -_TOL):
        warnings.warn(
            "the Hessian of the deviance over the variance parameters has negative "
            f"eigenvalues ({', '.join(f'{v:.1e}' for v in evals[evals < -_TOL])}): the model "
            "may not have converged; Satterthwaite df may be unreliable",
            ConvergenceWarning,
            stacklevel=4,
        )
    pos = evals > _TOL
    h_inv = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    p = system.nfixed
    jac = jacobian(lambda v: covbeta(system, v).ravel(), varpar)
    jacobians = np.stack([jac[:, i].reshape(p, p) for i in range(varpar.size)])
    vcov_beta = result.sigma**2 * np.asarray(result.estimates.vcov_unscaled)
    return SatterthwaiteInfo(varpar, 2.0 * h_inv, jacobians, vcov_beta)


def satterthwaite_info(result: Any) -> SatterthwaiteInfo:
    """The Hessian-based quantities of a fit (cached on the result)."""
    return cached(result, "satterthwaite", lambda: _compute(result))


def ddf_1d(info: SatterthwaiteInfo, ell: FloatArray) -> float:
    """Satterthwaite df of one contrast ℓ."""
    ell = np.asarray(ell, dtype=float)
    var = float(ell @ info.vcov_beta @ ell)
    grad = np.einsum("i,kij,j->k", ell, info.jacobians, ell)
    denom = float(grad @ info.vcov_varpar @ grad)
    if denom <= 0.0:
        return float("inf")
    return 2.0 * var * var / denom


def fstat_ddf(nu: FloatArray, tol: float = 1e-8) -> float:
    """Denominator df of an F statistic made of independent t statistics with df ``nu``."""
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2.0):
        return 2.0
    e = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * e / (e - nu.size)


@dataclass(frozen=True)
class FTest:
    """An F test of L β = 0.

    Attributes
    ----------
    fvalue, numdf, dendf
        F statistic and its degrees of freedom.
    """

    fvalue: float
    numdf: int
    dendf: float


def ftest(info: SatterthwaiteInfo, L: FloatArray, beta: FloatArray, eps: float = 1.49e-8) -> FTest:
    """Satterthwaite F test of L β = 0 (L with one row per restriction, any row rank)."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    v = L @ info.vcov_beta @ L.T
    d, P = np.linalg.eigh(v)
    order = np.argsort(d)[::-1]
    d, P = d[order], P[:, order]
    tol = max(eps * d[0], 0.0) if d.size else 0.0
    q = int(np.sum(d > tol))
    if q == 0:
        return FTest(float("nan"), 0, float("nan"))
    ptl = (P.T @ L)[:q]
    t2 = (ptl @ beta) ** 2 / d[:q]
    nu = np.array([ddf_1d(info, ptl[m]) for m in range(q)])
    return FTest(float(np.sum(t2) / q), q, fstat_ddf(nu))
