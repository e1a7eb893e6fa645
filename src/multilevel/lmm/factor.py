"""The blocked Cholesky factor L(θ) of the PLS system, and its update from θ.

For terms 1..K and the [X y] rows, L is lower block triangular:

- L₁₁: block diagonal, one q₁ × q₁ block per level (a stack);
- L_j1 (j ≥ 2): sparse, Λ_jᵀ A_j1 Λ₁ L₁₁⁻ᵀ;
- L_ji, L_jj (2 ≤ i ≤ j): dense, after the Schur-complement updates;
- L_Xk and L_XX: dense rows for [X y]; the last row of L_XX holds the response, and its last
  element squared is the penalized weighted residual sum of squares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.linalg.lapack import dpotrf, dpotri, dtrtrs

from multilevel.linalg import kernels
from multilevel.linalg.blocksparse import BlockSparse
from multilevel.lmm.system import PLSSystem
from multilevel.threads import large_blas

FloatArray = NDArray[np.float64]


class NotPositiveDefinite(ArithmeticError):
    """A diagonal block of L(θ) could not be factored (only for [X y] rows in practice)."""


@dataclass(frozen=True)
class BlockedFactor:
    """L(θ) for one θ: a plain value that the estimates are read from.

    Attributes
    ----------
    theta
        The θ it was computed at.
    lambdas
        Λ of every term (q × q lower triangular).
    l11
        First diagonal block, (n₁, q₁, q₁) lower-triangular stack.
    p1
        Λ₁ L₁₁⁻ᵀ per level, (n₁, q₁, q₁): maps a spherical solve back to term 1's scale.
    l_blocks
        L_j1 for j ≥ 2, block-sparse on the pattern of Z_jᵀZ₁ (:attr:`l_sparse` as SciPy).
    l_dense
        L_ji for 2 ≤ i ≤ j (dense, 0-based keys).
    l_x
        L_Xk for every term k, dense (p + 1) × size_k.
    l_xx
        L_XX, dense (p + 1) × (p + 1), lower triangular.
    """

    theta: FloatArray
    lambdas: tuple[FloatArray, ...]
    l11: FloatArray
    p1: FloatArray
    l_blocks: tuple[BlockSparse, ...]
    l_dense: dict[tuple[int, int], FloatArray]
    l_x: tuple[FloatArray, ...]
    l_xx: FloatArray

    @property
    def l_sparse(self) -> tuple[sp.csr_matrix, ...]:
        """L_j1 for j ≥ 2 as SciPy CSR matrices."""
        return tuple(b.csr for b in self.l_blocks)

    @property
    def pwrss(self) -> float:
        """Penalized weighted residual sum of squares r²."""
        return float(self.l_xx[-1, -1]) ** 2

    def logdet_l(self) -> float:
        """log |L_θ|² over the random-effects blocks."""
        q1 = self.l11.shape[1]
        if q1 == 1:
            total = 2.0 * float(np.log(self.l11.ravel()).sum())
        else:
            idx = np.arange(q1)
            total = 2.0 * float(np.log(self.l11[:, idx, idx]).sum())
        for (j, i), block in self.l_dense.items():
            if i == j:
                total += 2.0 * float(np.log(block.diagonal()).sum())
        return total

    def logdet_rx(self) -> float:
        """log |R_X|² of the fixed-effects block (for REML)."""
        return 2.0 * float(np.log(self.l_xx.diagonal()[:-1]).sum())

    def later_dense(self) -> FloatArray:
        """L₂₂: the blocks of the later terms (2 ≤ i ≤ j) as one dense lower-triangular matrix
        (with one later term, its block itself: callers only read it)."""
        if len(self.l_dense) == 1:
            return next(iter(self.l_dense.values()))
        sizes = [self.l_dense[(j, j)].shape[0] for j in range(1, len(self.lambdas))]
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
        out = np.zeros((int(starts[-1]), int(starts[-1])))
        for (j, i), block in self.l_dense.items():
            out[starts[j - 1] : starts[j], starts[i - 1] : starts[i]] = block
        return out

    def later_inverse(self, l22: FloatArray | None = None) -> FloatArray | None:
        """S⁻¹ = (L₂₂L₂₂ᵀ)⁻¹ over the later terms' random effects, in the lower triangle of the
        result (its upper triangle is not set); None when L₂₂ is singular. ``l22`` is
        :meth:`later_dense` if already formed (it is not modified)."""
        l22 = self.later_dense() if l22 is None else l22
        # the transpose of C-ordered L₂₂ is the Fortran-ordered upper factor LAPACK reads
        with large_blas(l22.shape[0]):
            inv_t, info = dpotri(l22.T, lower=0)
        if info != 0:
            return None
        return np.asarray(inv_t, dtype=np.float64).T


def _chol_lower(a: FloatArray) -> FloatArray:
    """Lower Cholesky factor (LAPACK dpotrf; only the lower triangle of ``a`` is read)."""
    # The transpose of a C-ordered array is Fortran-ordered: LAPACK works on it in place, and
    # the upper factor U of aᵀ (read from its upper triangle, a's lower) gives L = Uᵀ.
    with large_blas(a.shape[0]):
        c, info = dpotrf(a.T, lower=0, clean=1, overwrite_a=1)
    if info != 0:
        raise NotPositiveDefinite(f"leading minor {info} is not positive definite")
    return np.asarray(c).T


def _right_solve_lt(b: FloatArray, l: FloatArray) -> FloatArray:
    """b L⁻ᵀ for lower-triangular L: solve X Lᵀ = b, i.e. L Xᵀ = bᵀ."""
    x, info = dtrtrs(l.T, b.T, lower=0, trans=1)
    if info != 0:
        raise NotPositiveDefinite(f"singular triangular factor ({info})")
    return np.asarray(x).T


def _lower_blocks(a: BlockSparse, lam_j: FloatArray, p1: FloatArray) -> BlockSparse:
    """L_j1 = Λ_jᵀ A_j1 blockdiag(P₁) on A's pattern."""
    qj, q1 = a.block_shape
    cols = a.pattern.cols
    if qj == 1 and q1 == 1:
        vals = a.values * (lam_j[0, 0] * p1[cols])[:, None, None]
    elif q1 == 1:
        vals = np.einsum("yx,nyt->nxt", lam_j, a.values) * p1[cols][:, None, None]
    else:
        return kernels.lower_blocks(a, lam_j, p1)
    return BlockSparse(a.pattern, vals)


def update_factor(system: PLSSystem, theta: FloatArray) -> BlockedFactor:
    """Compute L(θ), the blocked Cholesky factor of the PLS system at θ.

    Parameters
    ----------
    system
        The constant blocks.
    theta
        Covariance parameters in lme4's layout.

    Returns
    -------
    BlockedFactor
    """
    theta = np.asarray(theta, dtype=float)
    lambdas = tuple(system.layout.factors(theta))
    nterms = len(system.terms)
    lam1 = lambdas[0]
    q1 = lam1.shape[0]

    # First diagonal block: Λ₁ᵀ A₁₁ Λ₁ + I, one block per level.
    if q1 == 1:
        lam = lam1[0, 0]
        l11 = np.sqrt(system.a11 * (lam * lam) + 1.0)
        p1 = lam / l11
    else:
        l11, p1 = kernels.first_block(system.a11, lam1)

    # Blocks below the first: L_j1 = Λ_jᵀ A_j1 blockdiag(P₁) on the fixed pattern.
    p1_flat = p1[:, 0, 0] if q1 == 1 else p1
    l_blocks = tuple(
        _lower_blocks(a, lambdas[j + 1], p1_flat) for j, a in enumerate(system.zz_blocks)
    )

    # Later diagonal and off-diagonal blocks, dense.
    l_dense: dict[tuple[int, int], FloatArray] = {}
    for j in range(1, nterms):
        for i in range(1, j + 1):
            block = _lambda_both(system.zz_dense[(j, i)], lambdas[j], lambdas[i])
            kernels.downdate(block, l_blocks[j - 1], l_blocks[i - 1], lower=(i == j))
            for k in range(1, i):
                block -= l_dense[(j, k)] @ l_dense[(i, k)].T
            if i == j:
                block[np.diag_indices_from(block)] += 1.0
                l_dense[(j, j)] = _chol_lower(block)
            else:
                l_dense[(j, i)] = _right_solve_lt(block, l_dense[(i, i)])

    # Rows of [X y].
    l_x = [_right_multiply_first(system.xyz[0], p1)]
    for j in range(1, nterms):
        block = _lambda_right(system.xyz[j], lambdas[j])
        block -= kernels.times_transpose(l_x[0], l_blocks[j - 1])
        for k in range(1, j):
            block -= l_x[k] @ l_dense[(j, k)].T
        l_x.append(_right_solve_lt(block, l_dense[(j, j)]))
    xx = system.xyxy.copy()
    for block in l_x:
        xx -= block @ block.T
    # The last diagonal element of L_XX may be 0 for a perfect fit; guard the square root.
    l_xx = _chol_with_response(xx)
    return BlockedFactor(
        theta=theta,
        lambdas=lambdas,
        l11=l11,
        p1=p1,
        l_blocks=l_blocks,
        l_dense=l_dense,
        l_x=tuple(l_x),
        l_xx=l_xx,
    )


def _right_multiply_first(dense: FloatArray, p1: FloatArray) -> FloatArray:
    """``dense @ blockdiag(P₁)``."""
    r = dense.shape[0]
    n, q, _ = p1.shape
    if q == 1:
        return dense * p1[:, 0, 0]
    out = np.matmul(np.transpose(dense.reshape(r, n, q), (1, 0, 2)), p1)
    return np.transpose(out, (1, 0, 2)).reshape(r, n * q)


def _lambda_right(b: FloatArray, lam: FloatArray) -> FloatArray:
    """b @ blockdiag(Λ, ..., Λ) for dense b whose columns are grouped by level."""
    q = lam.shape[0]
    if q == 1:
        return b * lam[0, 0]
    r = b.shape[0]
    return np.einsum("rnk,kj->rnj", b.reshape(r, -1, q), lam).reshape(r, -1)


def _lambda_both(a: FloatArray, lam_j: FloatArray, lam_i: FloatArray) -> FloatArray:
    """blockdiag(Λ_j)ᵀ A blockdiag(Λ_i), a new C-contiguous array."""
    qj, qi = lam_j.shape[0], lam_i.shape[0]
    if qj == 1 and qi == 1:
        return a * (lam_j[0, 0] * lam_i[0, 0])
    block = _lambda_right(a, lam_i)
    return np.ascontiguousarray(_lambda_right(block.T, lam_j).T)


def _chol_with_response(xx: FloatArray) -> FloatArray:
    """Cholesky of the [X y] block; a zero residual gives a zero last element, not an error."""
    p = xx.shape[0] - 1
    c, info = dpotrf(xx, lower=1, clean=1)
    if info == 0:
        return np.asarray(c)
    out = np.zeros_like(xx)
    if p > 0:
        out[:p, :p] = _chol_lower(xx[:p, :p].copy())
        out[p, :p] = sla.solve_triangular(out[:p, :p], xx[p, :p], lower=True)
    r2 = xx[p, p] - float(out[p, :p] @ out[p, :p])
    out[p, p] = np.sqrt(max(r2, 0.0))
    return out
