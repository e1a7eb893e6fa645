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

from multilevel.linalg.blockdiag import (
    batched_cholesky,
    batched_lower_inverse,
    blockdiag_sparse,
    right_multiply_blocks,
)
from multilevel.linalg.sparse import left_multiply_blocks
from multilevel.lmm.system import PLSSystem

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
    l_sparse
        L_j1 for j ≥ 2 (sparse).
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
    l_sparse: tuple[sp.csr_matrix, ...]
    l_dense: dict[tuple[int, int], FloatArray]
    l_x: tuple[FloatArray, ...]
    l_xx: FloatArray

    @property
    def pwrss(self) -> float:
        """Penalized weighted residual sum of squares r²."""
        return float(self.l_xx[-1, -1]) ** 2

    def logdet_l(self) -> float:
        """log |L_θ|² over the random-effects blocks."""
        q1 = self.l11.shape[1]
        total = 2.0 * float(np.sum(np.log(self.l11[:, np.arange(q1), np.arange(q1)])))
        for (j, i), block in self.l_dense.items():
            if i == j:
                total += 2.0 * float(np.sum(np.log(np.diag(block))))
        return total

    def logdet_rx(self) -> float:
        """log |R_X|² of the fixed-effects block (for REML)."""
        return 2.0 * float(np.sum(np.log(np.diag(self.l_xx)[:-1])))


def _chol_lower(a: FloatArray) -> FloatArray:
    try:
        return np.asarray(np.linalg.cholesky(a), dtype=np.float64)
    except np.linalg.LinAlgError as exc:
        raise NotPositiveDefinite(str(exc)) from exc


def _right_solve_lt(b: FloatArray, l: FloatArray) -> FloatArray:
    """b L⁻ᵀ for lower-triangular L: solve X Lᵀ = b, i.e. L Xᵀ = bᵀ."""
    return sla.solve_triangular(l, b.T, lower=True, check_finite=False).T


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
    terms = system.terms
    nterms = len(terms)
    lam1 = lambdas[0]
    q1 = lam1.shape[0]

    # First diagonal block: Λ₁ᵀ A₁₁ Λ₁ + I, one block per level.
    if q1 == 1:
        lam = lam1[0, 0]
        l11 = np.sqrt(system.a11 * (lam * lam) + 1.0)
        p1 = lam / l11
    else:
        m = np.matmul(np.matmul(lam1.T, system.a11), lam1)
        m[:, np.arange(q1), np.arange(q1)] += 1.0
        l11 = batched_cholesky(m)
        p1 = np.matmul(lam1, np.transpose(batched_lower_inverse(l11), (0, 2, 1)))

    # Blocks below the first: sparse L_j1 = Λ_jᵀ A_j1 blockdiag(P₁).
    l_sparse = []
    for j in range(1, nterms):
        a = system.zz_sparse[j - 1]
        if q1 == 1:
            b = a.copy()
            b.data *= p1[b.indices, 0, 0]
        else:
            b = sp.csr_matrix(a @ blockdiag_sparse(p1))
        l_sparse.append(left_multiply_blocks(lambdas[j].T, b, terms[j].nlevels))

    # Later diagonal and off-diagonal blocks, dense.
    l_dense: dict[tuple[int, int], FloatArray] = {}
    for j in range(1, nterms):
        for i in range(1, j + 1):
            block = _lambda_right(system.zz_dense[(j, i)], lambdas[i])
            block = _lambda_right(block.T, lambdas[j]).T
            block -= (l_sparse[j - 1] @ l_sparse[i - 1].T).toarray()
            for k in range(1, i):
                block -= l_dense[(j, k)] @ l_dense[(i, k)].T
            if i == j:
                block[np.diag_indices_from(block)] += 1.0
                l_dense[(j, j)] = _chol_lower(block)
            else:
                l_dense[(j, i)] = _right_solve_lt(block, l_dense[(i, i)])

    # Rows of [X y].
    l_x = [right_multiply_blocks(system.xyz[0], p1)]
    for j in range(1, nterms):
        block = _lambda_right(system.xyz[j], lambdas[j])
        block -= np.asarray((l_sparse[j - 1] @ l_x[0].T).T)
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
        l_sparse=tuple(l_sparse),
        l_dense=l_dense,
        l_x=tuple(l_x),
        l_xx=l_xx,
    )


def _lambda_right(b: FloatArray, lam: FloatArray) -> FloatArray:
    """b @ blockdiag(Λ, ..., Λ) for dense b whose columns are grouped by level."""
    q = lam.shape[0]
    if q == 1:
        return b * lam[0, 0]
    r = b.shape[0]
    return np.einsum("rnk,kj->rnj", b.reshape(r, -1, q), lam).reshape(r, -1)


def _chol_with_response(xx: FloatArray) -> FloatArray:
    """Cholesky of the [X y] block; a zero residual gives a zero last element, not an error."""
    p = xx.shape[0] - 1
    out = np.zeros_like(xx)
    if p > 0:
        out[:p, :p] = _chol_lower(xx[:p, :p])
        out[p, :p] = np.linalg.solve(out[:p, :p], xx[p, :p])
    r2 = xx[p, p] - float(out[p, :p] @ out[p, :p])
    out[p, p] = np.sqrt(max(r2, 0.0))
    return out
