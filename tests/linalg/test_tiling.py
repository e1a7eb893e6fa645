"""The tiled downdate against the one-pass downdate and dense algebra."""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.linalg import kernels, tiling
from multilevel.linalg.blocksparse import BlockPattern, BlockSparse


def random_blocks(rng, nrows, ncols, qr, qc, density=0.3):
    mask = rng.random((nrows, ncols)) < density
    mask[rng.integers(0, nrows, ncols), np.arange(ncols)] = True
    rows, cols = np.nonzero(mask)
    pattern = BlockPattern.from_pairs(rows, cols, nrows, ncols)
    return BlockSparse(pattern, rng.normal(size=(pattern.nnz, qr, qc)))


@pytest.mark.parametrize("tile_rows", [1, 2, 3, 5, 100])
def test_row_tiles_partition_the_pattern(tile_rows):
    rng = np.random.default_rng(tile_rows)
    p = random_blocks(rng, 13, 17, 1, 1).pattern
    tiles = tiling.row_tiles(p, tile_rows)
    assert tiling.row_tiles(p, tile_rows) is tiles  # cached per pattern
    ntiles = tiles.colptrs.shape[0]
    assert ntiles == -(-13 // tile_rows)
    perm = np.arange(p.nnz) if tiles.perm is None else tiles.perm
    np.testing.assert_array_equal(np.sort(perm), np.arange(p.nnz))
    np.testing.assert_array_equal(tiles.rows, p.rows[perm])
    for t in range(ntiles):
        for k in range(p.ncols):
            sel = slice(tiles.colptrs[t, k], tiles.colptrs[t, k + 1])
            np.testing.assert_array_equal(p.cols[perm[sel]], k)
            rows = tiles.rows[sel]
            assert np.all(rows // tile_rows == t)
            assert np.all(np.diff(rows) > 0)
        assert tiles.colptrs[t, -1] - tiles.colptrs[t, 0] == np.sum(p.rows // tile_rows == t)


@pytest.mark.parametrize("qa,qb,qc", [(1, 1, 1), (1, 1, 2), (2, 1, 1), (1, 2, 2), (2, 3, 2)])
@pytest.mark.parametrize("tile", [1, 2, 4, 7])
def test_tiled_downdate_is_the_untiled_one(monkeypatch, qa, qb, qc, tile):
    rng = np.random.default_rng(100 * qa + 10 * qb + qc + tile)
    a = random_blocks(rng, 11, 23, qa, qc)
    b = random_blocks(rng, 9, 23, qb, qc)
    da, db = a.tocsr().toarray(), b.tocsr().toarray()
    out0 = rng.normal(size=(11 * qa, 9 * qb))
    sym0 = rng.normal(size=(11 * qa, 11 * qa))
    plain, plain_sym = out0.copy(), sym0.copy()
    kernels.downdate(plain, a, b, lower=False)
    kernels.downdate(plain_sym, a, a, lower=True)

    monkeypatch.setattr(tiling, "TILED_MIN_BYTES", 0)
    monkeypatch.setattr(tiling, "TILE_ELEMENTS", tile)
    tiled, tiled_sym = out0.copy(), sym0.copy()
    kernels.downdate(tiled, a, b, lower=False)
    kernels.downdate(tiled_sym, a, a, lower=True)

    # same terms summed in the same order: identical to the last bit
    np.testing.assert_array_equal(tiled, plain)
    np.testing.assert_allclose(tiled, out0 - da @ db.T, rtol=1e-12, atol=1e-12)
    want = sym0 - da @ da.T
    for r in range(11):
        for s in range(r + 1):
            blk = np.s_[r * qa:(r + 1) * qa, s * qa:(s + 1) * qa]
            np.testing.assert_array_equal(tiled_sym[blk], plain_sym[blk])
            np.testing.assert_allclose(tiled_sym[blk], want[blk], rtol=1e-12, atol=1e-12)
