"""Sparse kernels: cross-products of random-effects terms and block scalings."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def term_matrix(index: NDArray[np.intp], z: FloatArray, nlevels: int) -> sp.csc_matrix:
    """The sparse model matrix Z of one random-effects term.

    Row i holds z[i] in the columns of level ``index[i]``: column ``level * q + j``.
    """
    n, q = z.shape
    rows = np.repeat(np.arange(n), q)
    cols = (index[:, None] * q + np.arange(q)[None, :]).ravel()
    return sp.csc_matrix((z.ravel(), (rows, cols)), shape=(n, nlevels * q))


def left_multiply_blocks(lam_t: FloatArray, mat: sp.csr_matrix, nlevels: int) -> sp.csr_matrix:
    """``blockdiag(lam_t, ..., lam_t) @ mat`` for sparse ``mat`` with rows grouped by level."""
    q = lam_t.shape[0]
    if q == 1:
        out = mat.copy()
        out.data *= lam_t[0, 0]
        return out
    kron = sp.kron(sp.identity(nlevels, format="csr"), sp.csr_matrix(lam_t), format="csr")
    return sp.csr_matrix(kron @ mat)
