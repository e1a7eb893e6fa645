"""The exact gradient of the profiled objective for models whose terms are all scalar.

With one column per term (crossed or nested intercepts, ``||`` terms), Λ = diag(θ_t(k)) and
M = ΛZᵀZΛ + I = LLᵀ. For θ_j > 0 (the objective is even in every θ_j of a scalar term, so its
derivative at θ_j = 0 is 0):

- d log|M| / dθ_j = (2/θ_j) (size_j - Σ_{k ∈ j} (M⁻¹)_kk);
- d r² / dθ_j = -(2/θ_j) Σ_{k ∈ j} û_k²  (envelope theorem; û = ΛZᵀe at the optimum);
- d log|R_XᵀR_X| / dθ_j = -(2/θ_j) ‖H_j L_XX⁻ᵀ‖²_F, with H = M⁻¹ΛZᵀX (REML only);

and -2ℓ = log|M| + N log r² + const (N = n, or n - p for REML) gives
∂/∂θ_j = d log|M| + [d log|R_XᵀR_X|] + N (d r²)/r².

The diagonal of M⁻¹ comes from the blocked factor: for a later term's level k it is the squared
norm of column k of L₂₂⁻¹, for a first-term level g it is (1 + ‖L₂₂⁻¹ L₂₁ e_g‖²)/L₁₁,g². Its cost
is one triangular inverse of the dense later block and a sparse-times-dense product, about one
more evaluation's worth: a gradient-based optimizer that needs far fewer evaluations than
BOBYQA then pays (the large crossed models, e.g. InstEval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.linalg import solve_triangular

from multilevel.lmm.compiled import compiled_kernel
from multilevel.lmm.factor import BlockedFactor, NotPositiveDefinite, update_factor
from multilevel.lmm.objective import Estimates, criterion, estimates
from multilevel.lmm.system import PLSSystem

FloatArray = NDArray[np.float64]


def has_gradient(system: PLSSystem) -> bool:
    """True when :func:`value_and_gradient` applies (two or more terms, all scalar)."""
    return len(system.terms) >= 2 and all(t.q == 1 for t in system.terms)


def use_gradient(system: PLSSystem) -> bool:
    """True for the models a gradient-based fit pays for: scalar terms whose objective takes
    the general blocked path (later terms with more than
    :data:`~multilevel.lmm.compiled_scalar.MAX_LATER` levels together, too many random effects
    for :mod:`multilevel.lmm.dense`). The small ones have compiled objectives of microseconds,
    where BOBYQA's evaluations cost less than the gradient's bookkeeping."""
    from multilevel.lmm.compiled_scalar import MAX_LATER
    from multilevel.lmm.dense import MAX_RANDOM

    if not has_gradient(system):
        return False
    later = sum(t.nlevels for t in system.terms[1:])
    return later > MAX_LATER and sum(t.size for t in system.terms) > MAX_RANDOM


def _l21_csc(
    system: PLSSystem, factor: BlockedFactor
) -> tuple[NDArray[np.intp], NDArray[np.intp], FloatArray]:
    """L₂₁ over all later terms as (m × n₁) CSC arrays (indptr, indices, data).

    The later terms' blocks share the system's fixed patterns, already in column-major order;
    the merge of several terms into one column order is found once and kept with the system.
    """
    blocks = factor.l_blocks
    if len(blocks) == 1:
        pat = blocks[0].pattern
        return pat.colptr, pat.rows, np.ascontiguousarray(blocks[0].values[:, 0, 0])
    plan = system.__dict__.get("_l21_csc")
    if plan is None:
        offsets = np.cumsum([0] + [b.pattern.nrows for b in blocks[:-1]])
        rows = np.concatenate([b.pattern.rows + o for b, o in zip(blocks, offsets, strict=True)])
        cols = np.concatenate([b.pattern.cols for b in blocks])
        perm = np.lexsort((rows, cols))
        n1 = blocks[0].pattern.ncols
        indptr = np.searchsorted(cols[perm], np.arange(n1 + 1)).astype(np.intp)
        plan = (indptr, np.ascontiguousarray(rows[perm], dtype=np.intp), perm)
        system.__dict__["_l21_csc"] = plan
    indptr, indices, perm = plan
    return indptr, indices, np.concatenate([b.values[:, 0, 0] for b in blocks])[perm]


def _first_norms(
    indptr: NDArray[np.intp], indices: NDArray[np.intp], data: FloatArray, sinv: FloatArray
) -> FloatArray:
    """‖L₂₂⁻¹ L₂₁ e_g‖² = l_gᵀ S⁻¹ l_g for every first-term level g (CSC columns of L₂₁)."""
    first_inverse_diag = compiled_kernel("first_inverse_diag")
    if first_inverse_diag is None:  # pragma: no cover
        csc = sp.csc_matrix((data, indices, indptr), shape=(sinv.shape[0], indptr.size - 1))
        full = np.tril(sinv) + np.tril(sinv, -1).T
        return np.asarray((csc.multiply(full @ csc)).sum(axis=0)).ravel()
    return np.asarray(first_inverse_diag(indptr, indices, data, sinv), dtype=np.float64)


@dataclass(frozen=True)
class GradientPoint:
    """The objective and its gradient at one θ, with the estimates computed on the way.

    Attributes
    ----------
    value
        The objective (inf where L(θ) cannot be formed).
    gradient
        Its gradient (zeros where the value is not finite, NaN where L₂₂ is singular).
    estimates
        The estimates at θ, or None where the gradient was not computed.
    """

    value: float
    gradient: FloatArray
    estimates: Estimates | None


def value_and_gradient(
    system: PLSSystem, theta: FloatArray, reml: bool
) -> tuple[float, FloatArray]:
    """The profiled objective at θ and its gradient (all-scalar-terms models).

    Parameters
    ----------
    system
        The PLS system (every term with one column).
    theta
        Covariance parameters, one per term (≥ 0).
    reml
        REML criterion if True, else -2 log-likelihood.

    Returns
    -------
    tuple
        The objective and its gradient; (inf, zeros) where L(θ) cannot be formed.
    """
    point = gradient_point(system, theta, reml)
    return point.value, point.gradient


def gradient_point(system: PLSSystem, theta: FloatArray, reml: bool) -> GradientPoint:
    """:func:`value_and_gradient` with the estimates it computed on the way (a fit ending at
    this θ needs them again)."""
    theta = np.asarray(theta, dtype=float)
    k = theta.size
    try:
        factor = update_factor(system, theta)
    except NotPositiveDefinite:
        return GradientPoint(math.inf, np.zeros(k), None)
    value = criterion(system, factor, reml)
    if not math.isfinite(value):
        return GradientPoint(value, np.zeros(k), None)
    terms = system.terms
    n1 = terms[0].nlevels
    sizes = [t.nlevels for t in terms[1:]]
    p = system.nfixed
    # diagonal of M⁻¹: later block from L₂₂⁻¹, first block from L₂₂⁻¹ L₂₁ L₁₁⁻¹
    l22 = factor.later_dense()
    sinv = factor.later_inverse(l22)
    if sinv is None:
        return GradientPoint(value, np.full(k, np.nan), None)
    later_diag = np.diagonal(sinv).copy()
    l11 = factor.l11[:, 0, 0]
    indptr, indices, data = _l21_csc(system, factor)
    first_diag = (1.0 + _first_norms(indptr, indices, data, sinv)) / (l11 * l11)
    traces = [float(first_diag.sum())]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    traces += [float(later_diag[starts[j] : starts[j + 1]].sum()) for j in range(len(sizes))]
    # spherical modes û per term
    est = estimates(system, factor, reml)
    usq = [float(np.sum(u * u)) for u in est.u]
    r2 = factor.pwrss
    nn = system.nobs - p if reml else system.nobs
    # REML: H = M⁻¹ΛZᵀX = L⁻ᵀ (L⁻¹ΛZᵀX); L⁻¹ΛZᵀX is the transpose of L_X's X rows
    hsq = np.zeros(k)
    if reml and p > 0:
        y1 = factor.l_x[0][:p, :].T  # n₁ × p
        y2 = np.concatenate([b[:p, :].T for b in factor.l_x[1:]], axis=0)  # m × p
        x2 = solve_triangular(l22, y2, lower=True, trans="T")
        l21 = sp.csc_matrix((data, indices, indptr), shape=(l22.shape[0], n1))
        x1 = (y1 - np.asarray(l21.T @ x2)) / l11[:, None]
        rx = factor.l_xx[:p, :p]
        hs = [x1] + [x2[starts[j] : starts[j + 1]] for j in range(len(sizes))]
        for j, h in enumerate(hs):
            t = solve_triangular(rx, h.T, lower=True)  # L_XX⁻¹ H_jᵀ
            hsq[j] = float(np.sum(t * t))
    grad = np.zeros(k)
    tsizes = [n1, *sizes]
    for j in range(k):
        th = theta[j]
        if th <= 0.0:
            continue
        d_logm = 2.0 / th * (tsizes[j] - traces[j])
        d_r2 = -2.0 / th * usq[j]
        g = d_logm + nn * d_r2 / r2
        if reml:
            g -= 2.0 / th * hsq[j]
        grad[j] = g
    return GradientPoint(value, grad, est)


__all__ = ["GradientPoint", "gradient_point", "has_gradient", "use_gradient", "value_and_gradient"]
