"""The symbolic structure of a PLS system, computed once and reused for every set of weights.

PIRLS (new working weights every iteration), bootstrap and simulation (new responses) need the
blocks of [Z X y]ᵀW[Z X y] many times for the same Z and X. The sparsity pattern of every
Z_jᵀZ_i block and the observation-to-entry index maps are found once here; assembling a system
is then a handful of ``bincount`` calls over the observations (no sparse-matrix construction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from multilevel.linalg.blocksparse import BlockPattern, BlockSparse
from multilevel.lmm.system import PLSSystem, TermBlock
from multilevel.lmm.theta import ThetaLayout

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class PairMap:
    """Which (level of term j, level of term i) pair each observation falls in.

    Attributes
    ----------
    pair
        Pair number of every observation.
    rows, cols
        Level of term j and of term i of every pair.
    """

    pair: IntArray
    rows: IntArray
    cols: IntArray

    @property
    def npairs(self) -> int:
        """Number of distinct pairs."""
        return int(self.rows.shape[0])


def _pairs(a: TermBlock, b: TermBlock) -> PairMap:
    key = a.index.astype(np.int64) * b.nlevels + b.index
    uniq, inverse = np.unique(key, return_inverse=True)
    return PairMap(
        inverse.astype(np.intp),
        (uniq // b.nlevels).astype(np.intp),
        (uniq % b.nlevels).astype(np.intp),
    )


def _block_products(pm: PairMap, za: FloatArray, zb: FloatArray, w: FloatArray) -> FloatArray:
    """The (npairs, qa, qb) blocks of Z_aᵀ W Z_b, one per pair, in pair order."""
    qa, qb = za.shape[1], zb.shape[1]
    vals = np.empty((pm.npairs, qa, qb))
    for r in range(qa):
        wr = w * za[:, r]
        for c in range(qb):
            vals[:, r, c] = np.bincount(pm.pair, weights=wr * zb[:, c], minlength=pm.npairs)
    return vals


def _pair_products(
    pm: PairMap, za: FloatArray, zb: FloatArray, w: FloatArray
) -> tuple[FloatArray, IntArray, IntArray]:
    """Entries of Z_aᵀ W Z_b on the pair pattern: values, row and column indices."""
    qa, qb = za.shape[1], zb.shape[1]
    vals = _block_products(pm, za, zb, w)
    rows = (pm.rows[:, None, None] * qa + np.arange(qa)[None, :, None]).repeat(qb, axis=2)
    cols = (pm.cols[:, None, None] * qb + np.arange(qb)[None, None, :]).repeat(qa, axis=1)
    return vals.ravel(), rows.ravel(), cols.ravel()


@dataclass(frozen=True)
class SystemStructure:
    """Z, X and the index maps of a PLS system, without weights or response.

    Attributes
    ----------
    X
        Fixed-effects model matrix (n, p).
    terms
        Random-effects terms in engine order (unweighted).
    pairs
        Pair maps for every (j, i) with j > i (and (j, j) for j ≥ 1), keyed by term positions.
    blocks
        For each j ≥ 1: the block pattern of Z_jᵀZ₁ and the permutation from the pair order of
        ``pairs[(j, 0)]`` to the pattern's column-major order.
    """

    X: FloatArray
    terms: tuple[TermBlock, ...]
    pairs: dict[tuple[int, int], PairMap]
    blocks: tuple[tuple[BlockPattern, IntArray], ...]

    @classmethod
    def build(
        cls, X: FloatArray, terms: tuple[TermBlock, ...] | list[TermBlock]
    ) -> SystemStructure:
        """Find the patterns and index maps for X and the terms (engine order)."""
        terms = tuple(terms)
        pairs: dict[tuple[int, int], PairMap] = {}
        blocks = []
        for j in range(1, len(terms)):
            for i in range(j + 1):
                pairs[(j, i)] = _pairs(terms[j], terms[i])
            pm = pairs[(j, 0)]
            order = np.lexsort((pm.rows, pm.cols)).astype(np.intp)
            pattern = BlockPattern.from_pairs(pm.rows, pm.cols, terms[j].nlevels,
                                              terms[0].nlevels)
            blocks.append((pattern, order))
        return cls(np.asarray(X, dtype=float), terms, pairs, tuple(blocks))

    def assemble(self, y: FloatArray, weights: FloatArray | None = None) -> PLSSystem:
        """The PLS system for a response and prior/working weights.

        Parameters
        ----------
        y
            Response (offset already subtracted).
        weights
            Weights (None for all ones).

        Returns
        -------
        PLSSystem
            Equal to :func:`multilevel.lmm.build_system` on the same inputs.
        """
        terms = self.terms
        n = y.shape[0]
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
        xy = np.column_stack([self.X, y])
        first = terms[0]
        q1 = first.q
        a11 = np.empty((first.nlevels, q1, q1))
        for r in range(q1):
            wr = w * first.z[:, r]
            for c in range(r, q1):
                a11[:, r, c] = np.bincount(
                    first.index, weights=wr * first.z[:, c], minlength=first.nlevels
                )
                a11[:, c, r] = a11[:, r, c]
        zz_sparse = []
        zz_dense: dict[tuple[int, int], FloatArray] = {}
        for j in range(1, len(terms)):
            vals = _block_products(self.pairs[(j, 0)], terms[j].z, first.z, w)
            pattern, order = self.blocks[j - 1]
            zz_sparse.append(BlockSparse(pattern, vals[order]))
            for i in range(1, j + 1):
                vals, rows, cols = _pair_products(self.pairs[(j, i)], terms[j].z, terms[i].z, w)
                dense = np.zeros((terms[j].size, terms[i].size))
                dense[rows, cols] = vals
                zz_dense[(j, i)] = dense
        wxy = xy * w[:, None]
        xyz = []
        for t in terms:
            blocks = np.empty((xy.shape[1], t.nlevels, t.q))
            for a in range(t.q):
                za = t.z[:, a]
                for c in range(xy.shape[1]):
                    blocks[c, :, a] = np.bincount(
                        t.index, weights=wxy[:, c] * za, minlength=t.nlevels
                    )
            xyz.append(blocks.reshape(xy.shape[1], t.size))
        log_w = float(np.sum(np.log(w))) if weights is not None else 0.0
        sw = np.sqrt(w)
        weighted_terms = tuple(TermBlock(t.index, t.z * sw[:, None], t.nlevels) for t in terms)
        return PLSSystem(
            terms=weighted_terms,
            layout=ThetaLayout(tuple(t.q for t in terms)),
            a11=a11,
            zz_sparse=tuple(zz_sparse),
            zz_dense=zz_dense,
            xyz=tuple(xyz),
            xyxy=wxy.T @ xy,
            nobs=n,
            log_weights=log_w,
        )
