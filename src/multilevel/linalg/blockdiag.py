"""Block-diagonal matrices stored as stacks of small square blocks, shape (n, q, q).

The first random-effects term of a model gives a block-diagonal block of the PLS system: one
q × q block per level. These kernels work on the whole stack at once (no Python loop over
levels).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def batched_cholesky(blocks: FloatArray) -> FloatArray:
    """Lower Cholesky factor of every block of a stack of symmetric positive definite blocks.

    Parameters
    ----------
    blocks
        Array of shape (n, q, q).

    Returns
    -------
    ndarray
        Array of shape (n, q, q), lower triangular blocks.
    """
    q = blocks.shape[1]
    if q == 1:
        return np.sqrt(blocks)
    if q == 2:
        a = blocks[:, 0, 0]
        b = blocks[:, 1, 0]
        c = blocks[:, 1, 1]
        l11 = np.sqrt(a)
        l21 = b / l11
        l22 = np.sqrt(c - l21 * l21)
        out = np.zeros_like(blocks)
        out[:, 0, 0] = l11
        out[:, 1, 0] = l21
        out[:, 1, 1] = l22
        return out
    return np.asarray(np.linalg.cholesky(blocks), dtype=np.float64)


def batched_lower_inverse(lower: FloatArray) -> FloatArray:
    """Inverse of every lower-triangular block of an (n, q, q) stack."""
    q = lower.shape[1]
    if q == 1:
        return 1.0 / lower
    if q == 2:
        a, b, c = lower[:, 0, 0], lower[:, 1, 0], lower[:, 1, 1]
        out = np.zeros_like(lower)
        out[:, 0, 0] = 1.0 / a
        out[:, 1, 1] = 1.0 / c
        out[:, 1, 0] = -b / (a * c)
        return out
    return np.asarray(np.linalg.inv(lower), dtype=np.float64)


def blockdiag_sparse(blocks: FloatArray) -> sp.csr_matrix:
    """The block-diagonal sparse matrix with the given (n, q, q) blocks on its diagonal."""
    n, q, _ = blocks.shape
    base = (np.arange(n) * q)[:, None, None]
    rows = np.broadcast_to(base + np.arange(q)[None, :, None], blocks.shape)
    cols = np.broadcast_to(base + np.arange(q)[None, None, :], blocks.shape)
    return sp.csr_matrix(
        (blocks.ravel(), (rows.ravel(), cols.ravel())), shape=(n * q, n * q)
    )


def right_multiply_blocks(dense: FloatArray, blocks: FloatArray) -> FloatArray:
    """``dense @ blockdiag(blocks)`` for a dense (r, n*q) matrix, without forming the product."""
    r = dense.shape[0]
    n, q, _ = blocks.shape
    if q == 1:
        return dense * blocks[:, 0, 0][None, :]
    per_level = np.transpose(dense.reshape(r, n, q), (1, 0, 2))  # (n, r, q)
    out = np.matmul(per_level, blocks)  # (n, r, q)
    return np.transpose(out, (1, 0, 2)).reshape(r, n * q)
