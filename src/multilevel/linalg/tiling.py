"""Row tiles of a block pattern, for downdates of dense blocks too large for the cache.

The downdate ``D -= A Bᵀ`` (:func:`multilevel.linalg.kernels.downdate`) runs over the first-term
levels k and, for each, over every pair of stored blocks of column k, writing to the row of D of
the first and the column of D of the second. Over the whole pattern these writes fall anywhere
in D: once D outgrows the cache (a 2000 × 2000 block is 32 MB), nearly every one is a miss to
memory, and the downdate costs several times the Cholesky factor of D that follows it.

Cutting the block rows of A and of B into tiles and running over each pair of tiles in turn
keeps the writes inside one tile × tile square of D, which stays in cache; each tile reads only
its own stored blocks, column by column. A :class:`RowTiles` is that split of one pattern: the
stored blocks reordered by (tile, column, row), with one column-pointer array per tile. It
depends on the pattern alone and is computed once per pattern and tile size (the pattern's
own order is unchanged: values are gathered into tile order for the downdate).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from multilevel.linalg.blocksparse import BlockPattern

IntArray = NDArray[np.intp]

#: Rows (and columns) of D in one tile: 512² doubles are 2 MiB. Measured for a 2000 × 2000 block
#: (1M rows, 50k × 2000 levels): 256 rows 260 ms, 384 215 ms, 512 185-195 ms, 768 325 ms, one
#: tile (untiled) 525 ms; smaller tiles re-read A and B more often than they save in misses.
TILE_ELEMENTS = 512

#: Dense blocks of D smaller than this many bytes are downdated in one pass, untiled: they stay
#: in the last-level cache, and the tiled pass's extra reads of A and B do not pay (measured:
#: untiled is faster for InstEval's 1128 × 1128 block, tiled 2.8 times faster for 2000 × 2000).
TILED_MIN_BYTES = 16 * 2**20


@dataclass(frozen=True, eq=False)
class RowTiles:
    """The stored blocks of a pattern grouped by tiles of block rows.

    Attributes
    ----------
    perm
        Position in the pattern's order of every stored block in tile order (None when there
        is a single tile: the pattern's own order).
    rows
        Block row of every stored block, in tile order.
    colptrs
        (tiles, ncols + 1): the blocks of tile t in column k are
        ``colptrs[t, k]:colptrs[t, k + 1]``, rows ascending.
    """

    perm: IntArray | None
    rows: IntArray
    colptrs: IntArray


_CACHE: weakref.WeakKeyDictionary[BlockPattern, dict[int, RowTiles]] = (
    weakref.WeakKeyDictionary()
)


def row_tiles(pattern: BlockPattern, tile_rows: int) -> RowTiles:
    """The pattern's stored blocks in tiles of ``tile_rows`` block rows (cached per pattern).

    Parameters
    ----------
    pattern
        A block pattern.
    tile_rows
        Block rows per tile (at least 1); ``tile_rows >= pattern.nrows`` gives one tile.

    Returns
    -------
    RowTiles
    """
    tile_rows = max(1, int(tile_rows))
    per_pattern = _CACHE.setdefault(pattern, {})
    tiles = per_pattern.get(tile_rows)
    if tiles is None:
        tiles = _build(pattern, tile_rows)
        per_pattern[tile_rows] = tiles
    return tiles


def _build(pattern: BlockPattern, tile_rows: int) -> RowTiles:
    ntiles = max(1, -(-pattern.nrows // tile_rows))
    if ntiles == 1:
        return RowTiles(None, pattern.rows, pattern.colptr[None, :])
    tile = pattern.rows // tile_rows
    # A stable sort by tile keeps the pattern's (column, row) order inside each tile.
    perm = np.argsort(tile, kind="stable").astype(np.intp)
    cols = pattern.cols[perm]
    starts = np.searchsorted(tile[perm], np.arange(ntiles + 1))
    colptrs = np.empty((ntiles, pattern.ncols + 1), dtype=np.intp)
    levels = np.arange(pattern.ncols + 1)
    for t in range(ntiles):
        lo, hi = starts[t], starts[t + 1]
        colptrs[t] = np.searchsorted(cols[lo:hi], levels) + lo
    return RowTiles(perm, np.ascontiguousarray(pattern.rows[perm]), colptrs)


__all__ = ["TILED_MIN_BYTES", "TILE_ELEMENTS", "RowTiles", "row_tiles"]
