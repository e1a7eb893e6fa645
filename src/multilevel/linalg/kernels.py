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
        from multilevel.linalg import numba_kernels as nk
    except ImportError:  # pragma: no cover - numba is a dependency; kept for odd platforms
        return None
    return nk.downdate, nk.times_transpose, nk.lower_blocks, nk.first_block


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
