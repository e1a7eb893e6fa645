"""Compiled kernels for the block-sparse products of the blocked Cholesky factorization.

Two products dominate the update of L(θ) for crossed and partially crossed terms, and both are
loops over the stored blocks that NumPy can only express through large temporary arrays:

- the Schur-complement downdate of a dense block, ``D -= A Bᵀ`` for block-sparse A and B that
  share their block columns (first-term levels): for every level k of the first term, every pair
  of stored blocks in column k updates one block of D (MixedModels.jl's ``rankUpdate!``);
- ``M Aᵀ`` for a dense M with few rows (the [X y] rows of the factor).

Both are numba functions compiled on first use and cached on disk (``cache=True``). Without
numba, SciPy sparse products are used instead (same results, slower).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.linalg.blocksparse import BlockSparse

FloatArray = NDArray[np.float64]


@lru_cache(maxsize=1)
def _compiled() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]] | None:
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; kept for odd platforms
        return None

    @numba.njit(cache=True, nogil=True)
    def downdate(colptr_a, rows_a, va, colptr_b, rows_b, vb, out, lower):
        qa = va.shape[1]
        qb = vb.shape[1]
        qc = va.shape[2]
        if qa == 1 and qb == 1 and qc == 1:
            fa = va.ravel()
            fb = vb.ravel()
            for k in range(colptr_a.shape[0] - 1):
                for a in range(colptr_a[k], colptr_a[k + 1]):
                    r = rows_a[a]
                    v = fa[a]
                    row = out[r]
                    for b in range(colptr_b[k], colptr_b[k + 1]):
                        s = rows_b[b]
                        if lower and s > r:
                            break
                        row[s] -= v * fb[b]
            return
        if qa == 1 and qb == 1:
            # scalar later terms against a vector-valued first term (a random slope on it)
            for k in range(colptr_a.shape[0] - 1):
                for a in range(colptr_a[k], colptr_a[k + 1]):
                    r = rows_a[a]
                    row = out[r]
                    for b in range(colptr_b[k], colptr_b[k + 1]):
                        s = rows_b[b]
                        if lower and s > r:
                            break
                        acc = 0.0
                        for t in range(qc):
                            acc += va[a, 0, t] * vb[b, 0, t]
                        row[s] -= acc
            return
        for k in range(colptr_a.shape[0] - 1):
            for a in range(colptr_a[k], colptr_a[k + 1]):
                r = rows_a[a]
                for b in range(colptr_b[k], colptr_b[k + 1]):
                    s = rows_b[b]
                    if lower and s > r:
                        break
                    for x in range(qa):
                        for y in range(qb):
                            acc = 0.0
                            for t in range(qc):
                                acc += va[a, x, t] * vb[b, y, t]
                            out[r * qa + x, s * qb + y] -= acc

    @numba.njit(cache=True, nogil=True)
    def times_transpose(colptr, rows, vals, dense_t, out_t):
        # out_t[r*qr + x, :] += vals[a, x, t] * dense_t[k*qc + t, :]
        qr = vals.shape[1]
        qc = vals.shape[2]
        m = dense_t.shape[1]
        for k in range(colptr.shape[0] - 1):
            for a in range(colptr[k], colptr[k + 1]):
                r = rows[a]
                for x in range(qr):
                    for t in range(qc):
                        v = vals[a, x, t]
                        src = k * qc + t
                        dst = r * qr + x
                        for i in range(m):
                            out_t[dst, i] += v * dense_t[src, i]

    @numba.njit(cache=True, nogil=True)
    def lower_blocks(vals, cols, p1, lam):
        # out[n, x, u] = Σ_y Σ_t lam[y, x] vals[n, y, t] p1[cols[n], t, u]
        nnz, qj, q1 = vals.shape
        out = np.empty((nnz, qj, q1))
        tmp = np.empty((qj, q1))
        for n in range(nnz):
            c = cols[n]
            for y in range(qj):
                for u in range(q1):
                    acc = 0.0
                    for t in range(q1):
                        acc += vals[n, y, t] * p1[c, t, u]
                    tmp[y, u] = acc
            for x in range(qj):
                for u in range(q1):
                    acc = 0.0
                    for y in range(x, qj):
                        acc += lam[y, x] * tmp[y, u]
                    out[n, x, u] = acc
        return out

    return downdate, times_transpose, lower_blocks


def downdate(out: FloatArray, a: BlockSparse, b: BlockSparse, lower: bool) -> None:
    """``out -= A Bᵀ`` in place, for block-sparse A and B over the same first-term levels.

    Parameters
    ----------
    out
        Dense (rows of A) × (rows of B) array, C-contiguous; updated in place.
    a, b
        Block-sparse matrices with the same block columns.
    lower
        A is B and only the block lower triangle of ``out`` is needed: blocks above the block
        diagonal are skipped (half the work).
    """
    kernels = _compiled()
    if kernels is None:  # pragma: no cover
        out -= (a.csr @ b.csr.T).toarray()
        return
    pa, pb = a.pattern, b.pattern
    kernels[0](pa.colptr, pa.rows, a.values, pb.colptr, pb.rows, b.values, out, lower)


def times_transpose(dense: FloatArray, a: BlockSparse) -> FloatArray:
    """``dense @ Aᵀ`` for a dense matrix with few rows and a block-sparse A."""
    kernels = _compiled()
    if kernels is None:  # pragma: no cover
        return np.asarray((a.csr @ dense.T).T)
    out_t = np.zeros((a.shape[0], dense.shape[0]))
    kernels[1](a.pattern.colptr, a.pattern.rows, a.values, np.ascontiguousarray(dense.T), out_t)
    return out_t.T


def lower_blocks(a: BlockSparse, lam_j: FloatArray, p1: FloatArray) -> BlockSparse:
    """Λ_jᵀ A blockdiag(P₁) on A's pattern, for a vector-valued first term (P₁: (n₁, q₁, q₁))."""
    kernels = _compiled()
    if kernels is None:  # pragma: no cover
        vals = np.einsum("yx,nyt,ntu->nxu", lam_j, a.values, p1[a.pattern.cols], optimize=True)
        return BlockSparse(a.pattern, vals)
    vals = kernels[2](a.values, a.pattern.cols, np.ascontiguousarray(p1),
                      np.ascontiguousarray(lam_j))
    return BlockSparse(a.pattern, vals)


__all__ = ["downdate", "lower_blocks", "times_transpose"]
