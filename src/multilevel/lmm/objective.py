"""The profiled deviance and REML criterion of a linear mixed model, as functions of θ.

Bates, Mächler, Bolker & Walker (2015), eqs. 34 and 41: with L(θ) the blocked Cholesky factor
of the PLS system and r² the penalized weighted residual sum of squares,

- ML:   -2ℓ(θ) = log|L_θ|² + n (1 + log(2π r²/n)) - Σ log wᵢ
- REML: -2ℓ_R(θ) = log|L_θ|² + log|R_X|² + (n-p)(1 + log(2π r²/(n-p))) - Σ log wᵢ
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.lapack import dtrtri, dtrtrs

from multilevel.lmm.factor import BlockedFactor, NotPositiveDefinite, update_factor
from multilevel.lmm.system import PLSSystem

FloatArray = NDArray[np.float64]


def criterion(system: PLSSystem, factor: BlockedFactor, reml: bool) -> float:
    """-2 log-likelihood (ML) or the REML criterion at the factor's θ."""
    n = system.nobs
    p = system.nfixed
    r2 = factor.pwrss
    if r2 <= 0.0:
        return -math.inf
    ld = factor.logdet_l() - system.log_weights
    if reml:
        nmp = n - p
        return ld + factor.logdet_rx() + nmp * (1.0 + math.log(2.0 * math.pi * r2 / nmp))
    return ld + n * (1.0 + math.log(2.0 * math.pi * r2 / n))


def objective(system: PLSSystem, theta: FloatArray, reml: bool = True) -> float:
    """The profiled objective at θ (``inf`` where L(θ) cannot be formed).

    Parameters
    ----------
    system
        The PLS system of the model.
    theta
        Covariance parameters in lme4's layout.
    reml
        REML criterion if True, else -2 log-likelihood.
    """
    try:
        return criterion(system, update_factor(system, theta), reml)
    except NotPositiveDefinite:
        return math.inf


def make_objective(system: PLSSystem, reml: bool = True) -> Callable[[FloatArray], float]:
    """The objective as a function of θ alone (lme4's ``devFunOnly``).

    Small models get equivalent fast paths that return the same values: one-term models a
    compiled kernel (:mod:`multilevel.lmm.compiled`), models of scalar terms whose later terms
    have few levels another (:mod:`multilevel.lmm.compiled_scalar`), other models with few
    random effects in all one dense factorization (:mod:`multilevel.lmm.dense`).
    """
    from multilevel.lmm.compiled import single_term_objective
    from multilevel.lmm.compiled_scalar import scalar_terms_objective
    from multilevel.lmm.dense import dense_objective

    fast = (
        single_term_objective(system, reml)
        or scalar_terms_objective(system, reml)
        or dense_objective(system, reml)
    )
    if fast is not None:
        return fast

    def fun(theta: FloatArray) -> float:
        return objective(system, np.asarray(theta, dtype=float), reml)

    return fun


@dataclass(frozen=True)
class Estimates:
    """Everything read off L(θ̂) at the optimum.

    Attributes
    ----------
    beta
        Fixed effects.
    u
        Spherical random effects per term, each (nlevels, q).
    b
        Random effects per term on the data scale (conditional modes), each (nlevels, q).
    sigma
        Residual standard deviation.
    vcov_unscaled
        (R_Xᵀ R_X)⁻¹, so vcov(β) = σ² times it.
    pwrss
        Penalized weighted residual sum of squares.
    """

    beta: FloatArray
    u: tuple[FloatArray, ...]
    b: tuple[FloatArray, ...]
    sigma: float
    vcov_unscaled: FloatArray
    pwrss: float


def _solve_lt(low: FloatArray, b: FloatArray) -> FloatArray:
    """x with Lᵀx = b for lower-triangular L (LAPACK directly: SciPy's wrapper costs more
    than the solve for the small systems of a refit)."""
    # C-ordered L read as Fortran is Lᵀ (upper): solve (Lᵀ) x = b
    x, info = dtrtrs(low.T, b, lower=0)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular triangular factor (diagonal {info})")
    return np.asarray(x, dtype=np.float64)


def _inverse_lower(low: FloatArray) -> FloatArray:
    """L⁻¹ for lower-triangular L."""
    inv_t, info = dtrtri(low.T, lower=0)  # (Lᵀ)⁻¹ = (L⁻¹)ᵀ
    if info != 0:
        raise np.linalg.LinAlgError(f"singular triangular factor (diagonal {info})")
    return np.asarray(inv_t, dtype=np.float64).T


def estimates(system: PLSSystem, factor: BlockedFactor, reml: bool) -> Estimates:
    """Solve for β, the random effects and σ at the factor's θ."""
    p = system.nfixed
    lxx = factor.l_xx
    rx = lxx[:p, :p]
    beta = _solve_lt(rx, lxx[p, :p]) if p else np.zeros(0)
    nterms = len(system.terms)
    u: list[FloatArray | None] = [None] * nterms
    for k in range(nterms - 1, -1, -1):
        rhs = factor.l_x[k][p, :] - factor.l_x[k][:p, :].T @ beta
        for j in range(k + 1, nterms):
            uj = u[j]
            assert uj is not None
            if k == 0:
                rhs = rhs - factor.l_blocks[j - 1].transpose_matvec(uj)
            else:
                rhs = rhs - factor.l_dense[(j, k)].T @ uj
        if k == 0:
            q1 = factor.l11.shape[1]
            r = rhs.reshape(-1, q1)
            if q1 == 1:
                u[0] = np.asarray(r[:, 0] / factor.l11[:, 0, 0], dtype=np.float64)
            else:
                lt = np.transpose(factor.l11, (0, 2, 1))
                u0 = np.linalg.solve(lt, r[:, :, None])[:, :, 0].ravel()
                u[0] = np.asarray(u0, dtype=np.float64)
        else:
            u[k] = _solve_lt(factor.l_dense[(k, k)], rhs)
    us: list[FloatArray] = []
    bs: list[FloatArray] = []
    for k, t in enumerate(system.terms):
        uk_solved = u[k]
        assert uk_solved is not None
        uk2 = np.asarray(uk_solved).reshape(t.nlevels, t.q)
        us.append(uk2)
        bs.append(uk2 @ factor.lambdas[k].T)
    n = system.nobs
    dof = n - p if reml else n
    sigma = math.sqrt(factor.pwrss / dof)
    rinv = _inverse_lower(rx) if p else np.zeros((0, 0))
    return Estimates(
        beta=beta,
        u=tuple(us),
        b=tuple(bs),
        sigma=sigma,
        vcov_unscaled=rinv.T @ rinv,
        pwrss=factor.pwrss,
    )
