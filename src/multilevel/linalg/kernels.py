"""Compiled kernels for the block-sparse products of the blocked Cholesky factorization.

Two products dominate the update of L(θ) for crossed and partially crossed terms, and both are
loops over the stored blocks that NumPy can only express through large temporary arrays:

- the Schur-complement downdate of a dense block, ``D -= A Bᵀ`` for block-sparse A and B that
  share their block columns (first-term levels): for every level k of the first term, every pair
  of stored blocks in column k updates one block of D (MixedModels.jl's ``rankUpdate!``); a D
  too large for the cache is updated one tile × tile square at a time
  (:mod:`multilevel.linalg.tiling`);
- ``M Aᵀ`` for a dense M with few rows (the [X y] rows of the factor).

Two per-level steps for a vector-valued first term are compiled as well: its blocks of L₁₁ and
P₁ = Λ₁L₁₁⁻ᵀ (:func:`first_block`, one pass instead of a chain of stacked NumPy products) and the
values of L_j1 (:func:`lower_blocks`).

All are numba functions compiled on first use and cached on disk (``cache=True``). Without
numba, SciPy sparse products and NumPy stacks are used instead (same results, slower).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.linalg import tiling
from multilevel.linalg.blockdiag import batched_cholesky, batched_lower_inverse
from multilevel.linalg.blocksparse import BlockSparse

FloatArray = NDArray[np.float64]


@lru_cache(maxsize=1)
def _compiled() -> tuple[Callable[..., Any], ...] | None:
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; kept for odd platforms
        return None

    @numba.njit(cache=True, nogil=True)
    def column_pairs(a0, a1, rows_a, va, b0, b1, rows_b, vb, out, diagonal):
        # out[rows_a[a], rows_b[b]] -= va[a] vb[b]ᵀ for a in a0:a1, b in b0:b1 (one level);
        # ``diagonal``: A is B and b0:b1 is a0:a1 (rows ascending), so b runs up to a.
        qa = va.shape[1]
        qb = vb.shape[1]
        qc = va.shape[2]
        for a in range(a0, a1):
            r = rows_a[a]
            end = a + 1 if diagonal else b1
            if qa == 1 and qb == 1:
                row = out[r]
                if qc == 1:
                    v0 = va[a, 0, 0]
                    for b in range(b0, end):
                        row[rows_b[b]] -= v0 * vb[b, 0, 0]
                elif qc == 2:
                    v0 = va[a, 0, 0]
                    v1 = va[a, 0, 1]
                    for b in range(b0, end):
                        row[rows_b[b]] -= v0 * vb[b, 0, 0] + v1 * vb[b, 0, 1]
                else:
                    for b in range(b0, end):
                        acc = 0.0
                        for t in range(qc):
                            acc += va[a, 0, t] * vb[b, 0, t]
                        row[rows_b[b]] -= acc
                continue
            for b in range(b0, end):
                s = rows_b[b]
                for x in range(qa):
                    for y in range(qb):
                        acc = 0.0
                        for t in range(qc):
                            acc += va[a, x, t] * vb[b, y, t]
                        out[r * qa + x, s * qb + y] -= acc

    @numba.njit(cache=True, nogil=True)
    def downdate(colptrs_a, rows_a, va, colptrs_b, rows_b, vb, out, lower):
        # Tile by tile (a single tile is the plain loop over levels); within a pair of tiles,
        # level by level, so every element sums its terms in level order either way.
        ncols = colptrs_a.shape[1] - 1
        for ta in range(colptrs_a.shape[0]):
            ca = colptrs_a[ta]
            for tb in range(colptrs_b.shape[0]):
                if lower and tb > ta:
                    break
                cb = colptrs_b[tb]
                diagonal = lower and tb == ta
                for k in range(ncols):
                    a0 = ca[k]
                    a1 = ca[k + 1]
                    b0 = cb[k]
                    b1 = cb[k + 1]
                    if a0 < a1 and b0 < b1:
                        column_pairs(a0, a1, rows_a, va, b0, b1, rows_b, vb, out, diagonal)

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
        if qj == 1:
            lam00 = lam[0, 0]
            for n in range(nnz):
                c = cols[n]
                for u in range(q1):
                    acc = 0.0
                    for t in range(q1):
                        acc += vals[n, 0, t] * p1[c, t, u]
                    out[n, 0, u] = 0.0 + lam00 * acc
            return out
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

    @numba.njit(cache=True, nogil=True)
    def first_block(a11, lam):
        # per level: L = chol(Λᵀ A Λ + I) (lower), P = Λ L⁻ᵀ
        n, q, _ = a11.shape
        l11 = np.zeros((n, q, q))
        p1 = np.empty((n, q, q))
        tmp = np.empty((q, q))
        m = np.empty((q, q))
        inv = np.zeros((q, q))
        for k in range(n):
            for i in range(q):
                for j in range(q):
                    acc = 0.0
                    for t in range(q):
                        acc += a11[k, i, t] * lam[t, j]
                    tmp[i, j] = acc
            for i in range(q):
                for j in range(i + 1):
                    acc = 1.0 if i == j else 0.0
                    for t in range(q):
                        acc += lam[t, i] * tmp[t, j]
                    m[i, j] = acc
            for j in range(q):
                d = m[j, j]
                for t in range(j):
                    d -= l11[k, j, t] * l11[k, j, t]
                d = np.sqrt(d)
                l11[k, j, j] = d
                for i in range(j + 1, q):
                    acc = m[i, j]
                    for t in range(j):
                        acc -= l11[k, i, t] * l11[k, j, t]
                    l11[k, i, j] = acc / d
            for j in range(q):
                inv[j, j] = 1.0 / l11[k, j, j]
                for i in range(j + 1, q):
                    acc = 0.0
                    for t in range(j, i):
                        acc -= l11[k, i, t] * inv[t, j]
                    inv[i, j] = acc / l11[k, i, i]
            for i in range(q):
                for u in range(q):
                    acc = 0.0
                    for t in range(u + 1):
                        acc += lam[i, t] * inv[u, t]
                    p1[k, i, u] = acc
        return l11, p1

    return downdate, times_transpose, lower_blocks, first_block


def downdate(out: FloatArray, a: BlockSparse, b: BlockSparse, lower: bool) -> None:
    """``out -= A Bᵀ`` in place, for block-sparse A and B over the same first-term levels.

    A dense ``out`` larger than :data:`~multilevel.linalg.tiling.TILED_MIN_BYTES` is updated
    tile by tile (:mod:`multilevel.linalg.tiling`), so that its writes stay in cache; the result
    is the same to the last bit (every element sums its terms in the same order).

    Parameters
    ----------
    out
        Dense (rows of A) × (rows of B) array, C-contiguous; updated in place.
    a, b
        Block-sparse matrices with the same block columns.
    lower
        B is A (the same object) and only the block lower triangle of ``out`` is needed: blocks
        above the block diagonal are skipped (half the work).

    Raises
    ------
    ValueError
        If ``lower`` is true and B is not A.
    """
    kernels = _compiled()
    if kernels is None:  # pragma: no cover
        out -= (a.csr @ b.csr.T).toarray()
        return
    if lower and b is not a:
        raise ValueError("lower=True needs B to be A")
    tiled = out.nbytes >= tiling.TILED_MIN_BYTES
    va, tiles_a = _tiled_values(a, tiled)
    vb, tiles_b = (va, tiles_a) if lower else _tiled_values(b, tiled)
    kernels[0](tiles_a.colptrs, tiles_a.rows, va, tiles_b.colptrs, tiles_b.rows, vb, out, lower)


def _tiled_values(a: BlockSparse, tiled: bool) -> tuple[FloatArray, tiling.RowTiles]:
    """A's tiles (one if not ``tiled``) and its values in their order."""
    qr = a.block_shape[0]
    rows = max(1, tiling.TILE_ELEMENTS // qr) if tiled else a.pattern.nrows
    tiles = tiling.row_tiles(a.pattern, rows)
    values = a.values if tiles.perm is None else np.take(a.values, tiles.perm, axis=0)
    return values, tiles


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


def first_block(a11: FloatArray, lam: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The first diagonal block of L(θ) for a vector-valued first term, level by level.

    Parameters
    ----------
    a11
        Z₁ᵀZ₁ as an (n₁, q₁, q₁) stack.
    lam
        Λ₁ (q₁ × q₁ lower triangular).

    Returns
    -------
    l11, p1
        L₁₁ = chol(Λ₁ᵀ A₁₁ Λ₁ + I) per level (lower triangular) and P₁ = Λ₁ L₁₁⁻ᵀ, both
        (n₁, q₁, q₁).
    """
    kernels = _compiled()
    if kernels is None:  # pragma: no cover
        q = lam.shape[0]
        m = np.matmul(np.matmul(lam.T, a11), lam)
        m[:, np.arange(q), np.arange(q)] += 1.0
        l11 = batched_cholesky(m)
        return l11, np.matmul(lam, np.transpose(batched_lower_inverse(l11), (0, 2, 1)))
    l11, p1 = kernels[3](np.ascontiguousarray(a11), np.ascontiguousarray(lam))
    return l11, p1


__all__ = ["downdate", "first_block", "lower_blocks", "times_transpose"]
