"""Block-sparse matrices and the compiled kernels against dense NumPy products."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from multilevel.linalg import kernels
from multilevel.linalg.blocksparse import BlockPattern, BlockSparse


def random_blocks(rng, nrows, ncols, qr, qc, density=0.4):
    mask = rng.random((nrows, ncols)) < density
    mask[rng.integers(0, nrows, ncols), np.arange(ncols)] = True  # every column used
    rows, cols = np.nonzero(mask)
    pattern = BlockPattern.from_pairs(rows, cols, nrows, ncols)
    return BlockSparse(pattern, rng.normal(size=(pattern.nnz, qr, qc)))


@pytest.mark.parametrize("qr,qc", [(1, 1), (2, 1), (1, 3), (2, 2)])
def test_csr_round_trip_and_products(qr, qc):
    rng = np.random.default_rng(qr * 10 + qc)
    a = random_blocks(rng, 7, 11, qr, qc)
    dense = a.tocsr().toarray()
    assert dense.shape == (7 * qr, 11 * qc)
    # every stored block sits where its pattern says
    for n in range(a.pattern.nnz):
        r, c = a.pattern.rows[n], a.pattern.cols[n]
        np.testing.assert_array_equal(dense[r * qr:(r + 1) * qr, c * qc:(c + 1) * qc],
                                      a.values[n])
    back = BlockSparse.from_csr(sp.csr_matrix(dense), qr, qc)
    np.testing.assert_allclose(back.tocsr().toarray(), dense)
    x = rng.normal(size=7 * qr)
    np.testing.assert_allclose(a.transpose_matvec(x), dense.T @ x, rtol=1e-12, atol=1e-12)
    m = rng.normal(size=(4, 11 * qc))
    np.testing.assert_allclose(kernels.times_transpose(m, a), m @ dense.T, rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("qa,qb,qc", [(1, 1, 1), (2, 1, 1), (1, 2, 2), (2, 3, 2)])
def test_downdate(qa, qb, qc):
    rng = np.random.default_rng(qa + 3 * qb + 7 * qc)
    a = random_blocks(rng, 6, 9, qa, qc)
    b = random_blocks(rng, 5, 9, qb, qc)
    da, db = a.tocsr().toarray(), b.tocsr().toarray()
    out = rng.normal(size=(6 * qa, 5 * qb))
    want = out - da @ db.T
    kernels.downdate(out, a, b, lower=False)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    # the symmetric case: only the block lower triangle is needed, and it is exact
    sym = rng.normal(size=(6 * qa, 6 * qa))
    want = sym - da @ da.T
    kernels.downdate(sym, a, a, lower=True)
    for r in range(6):
        for s in range(r + 1):
            blk = np.s_[r * qa:(r + 1) * qa, s * qa:(s + 1) * qa]
            np.testing.assert_allclose(sym[blk], want[blk], rtol=1e-12, atol=1e-12)


def test_scalar_from_csr_sums_duplicates_and_sorts():
    rows = np.array([3, 0, 3, 1, 0])
    cols = np.array([2, 2, 2, 0, 1])
    vals = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    mat = sp.coo_matrix((vals, (rows, cols)), shape=(4, 3))
    b = BlockSparse.from_csr(mat, 1, 1)
    np.testing.assert_array_equal(b.tocsr().toarray(), mat.toarray())
    np.testing.assert_array_equal(b.pattern.cols, [0, 1, 2, 2])
    np.testing.assert_array_equal(b.pattern.rows, [1, 0, 0, 3])
    np.testing.assert_array_equal(b.pattern.colptr, [0, 1, 2, 4])
    np.testing.assert_array_equal(b.values.ravel(), [8.0, 16.0, 2.0, 5.0])


@pytest.mark.parametrize("qj,q1", [(1, 2), (1, 3), (2, 2), (2, 3), (3, 1)])
def test_lower_blocks_kernel(qj, q1):
    rng = np.random.default_rng(qj * 5 + q1)
    a = random_blocks(rng, 6, 9, qj, q1)
    lam = np.tril(rng.normal(size=(qj, qj)))
    p1 = rng.normal(size=(9, q1, q1))
    got = kernels.lower_blocks(a, lam, p1)
    want = np.einsum("yx,nyt,ntu->nxu", lam, a.values, p1[a.pattern.cols])
    np.testing.assert_allclose(got.values, want, rtol=1e-12, atol=1e-12)
    assert got.pattern is a.pattern


@pytest.mark.parametrize("q", [2, 3, 4])
def test_first_block_matches_dense_algebra(q):
    from multilevel.linalg.blockdiag import batched_cholesky, batched_lower_inverse

    rng = np.random.default_rng(q)
    z = rng.normal(size=(6, 5, q))
    a11 = np.einsum("nia,nib->nab", z, z)
    a11[0] = 0.0  # a level without data
    lam = np.tril(rng.normal(size=(q, q)))
    lam[0, 0] = 0.0  # a boundary θ
    l11, p1 = kernels.first_block(a11, lam)
    m = np.matmul(np.matmul(lam.T, a11), lam) + np.eye(q)
    want_l = batched_cholesky(m)
    want_p = np.matmul(lam, np.transpose(batched_lower_inverse(want_l), (0, 2, 1)))
    np.testing.assert_allclose(l11, want_l, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p1, want_p, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.triu(l11, 1), 0.0)
