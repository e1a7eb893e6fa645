"""Sparse matrices of small dense blocks on a fixed pattern, stored column by column.

The blocks of the PLS system below the first term, Z_jᵀZ₁ and L_j1, pair a level of term j
(a block row of q_j rows) with a level of the first term (a block column of q₁ columns). Their
pattern (which pairs of levels occur together in the data) is fixed by the design; only the
values change with θ or with the working weights of PIRLS. A :class:`BlockPattern` is found
once; a :class:`BlockSparse` is a pattern plus an (nnz, q_j, q₁) array of values, in the
pattern's order: by block column (first-term level), then by block row. The products the
factorization needs run over that layout in compiled kernels (:mod:`multilevel.linalg.kernels`)
or as a few vectorized NumPy calls, never through general sparse-matrix objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class BlockPattern:
    """Which (block row, block column) pairs are stored, in column-major order.

    Attributes
    ----------
    rows
        Block row (level of term j) of every stored block; ascending within a column.
    cols
        Block column (level of the first term) of every stored block; ascending.
    nrows, ncols
        Number of block rows and block columns.
    colptr
        Stored blocks of column k are ``colptr[k]:colptr[k + 1]``.
    """

    rows: IntArray
    cols: IntArray
    nrows: int
    ncols: int
    colptr: IntArray

    @classmethod
    def from_pairs(cls, rows: IntArray, cols: IntArray, nrows: int, ncols: int) -> BlockPattern:
        """The pattern of the given distinct (row, col) pairs, put in column-major order."""
        order = np.lexsort((rows, cols))
        r = np.ascontiguousarray(rows[order], dtype=np.intp)
        c = np.ascontiguousarray(cols[order], dtype=np.intp)
        colptr = np.searchsorted(c, np.arange(ncols + 1)).astype(np.intp)
        return cls(r, c, int(nrows), int(ncols), colptr)

    @property
    def nnz(self) -> int:
        """Number of stored blocks."""
        return int(self.rows.shape[0])


@dataclass(frozen=True, eq=False)
class BlockSparse:
    """A block-sparse matrix: a pattern and the (nnz, qr, qc) values of its blocks.

    Attributes
    ----------
    pattern
        The shared, fixed pattern.
    values
        Block values in the pattern's order.
    """

    pattern: BlockPattern
    values: FloatArray

    @property
    def block_shape(self) -> tuple[int, int]:
        """(rows, columns) of one block."""
        return int(self.values.shape[1]), int(self.values.shape[2])

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the full matrix."""
        qr, qc = self.block_shape
        return self.pattern.nrows * qr, self.pattern.ncols * qc

    @classmethod
    def from_csr(cls, mat: sp.spmatrix, qr: int, qc: int) -> BlockSparse:
        """The block form of a scalar sparse matrix whose blocks are qr × qc."""
        if qr == 1 and qc == 1:
            # Scalar blocks: the CSC arrays are already the pattern (linear time and memory).
            csc = sp.csc_matrix(mat, copy=True)
            csc.sum_duplicates()
            csc.sort_indices()
            nrows, ncols = csc.shape
            counts = np.diff(csc.indptr)
            cols = np.repeat(np.arange(ncols, dtype=np.intp), counts)
            pattern = BlockPattern(
                np.asarray(csc.indices, dtype=np.intp), cols, int(nrows), int(ncols),
                np.asarray(csc.indptr, dtype=np.intp),
            )
            return cls(pattern, np.asarray(csc.data, dtype=float).reshape(-1, 1, 1))
        coo = sp.coo_matrix(mat)
        brow = coo.row.astype(np.intp) // qr
        bcol = coo.col.astype(np.intp) // qc
        nrows, ncols = coo.shape[0] // qr, coo.shape[1] // qc
        key = bcol.astype(np.int64) * nrows + brow
        uniq, inverse = np.unique(key, return_inverse=True)
        pattern = BlockPattern.from_pairs(uniq % nrows, uniq // nrows, nrows, ncols)
        values = np.zeros((uniq.shape[0], qr, qc))
        np.add.at(values, (inverse, coo.row % qr, coo.col % qc), coo.data)
        return cls(pattern, values)

    def tocsr(self) -> sp.csr_matrix:
        """The matrix as a SciPy CSR matrix (for code off the hot path)."""
        qr, qc = self.block_shape
        pat = self.pattern
        rows = (pat.rows[:, None, None] * qr + np.arange(qr)[None, :, None]).repeat(qc, axis=2)
        cols = (pat.cols[:, None, None] * qc + np.arange(qc)[None, None, :]).repeat(qr, axis=1)
        return sp.csr_matrix(
            (self.values.ravel(), (rows.ravel(), cols.ravel())), shape=self.shape
        )

    def transpose_matvec(self, x: FloatArray) -> FloatArray:
        """``Aᵀ x`` for a vector x with one entry per row of A."""
        qr, qc = self.block_shape
        pat = self.pattern
        per_block = np.einsum("nrc,nr->nc", self.values, x.reshape(-1, qr)[pat.rows])
        out = np.empty((pat.ncols, qc))
        for c in range(qc):
            out[:, c] = np.bincount(pat.cols, weights=per_block[:, c], minlength=pat.ncols)
        return out.ravel()

    @cached_property
    def csr(self) -> sp.csr_matrix:
        """:meth:`tocsr`, computed once."""
        return self.tocsr()


__all__ = ["BlockPattern", "BlockSparse"]
