"""Second pass: each partition's sufficient statistics in the engine's block layout, summed.

A partition is encoded (:mod:`multilevel.dask.encode`) and its PLS blocks are formed by the
engine's own code (:class:`~multilevel.lmm.structure.SystemStructure`) over the *global* level
codes: Z₁ᵀZ₁ as a stack of q₁ × q₁ blocks, Z_jᵀZ₁ sparse (CSR), Z_jᵀZ_i dense for the later
(small) terms, [X y]ᵀZ_k and [X y]ᵀ[X y] dense, n and Σ log w. The observation-level arrays are
dropped before the statistics leave the worker, so what travels is the size of the blocks, not
of the data. Sums of these blocks over partitions are the blocks of the whole data set, so the
tree reduction ends with the PLS system of the full model.

Two small extras ride along: the unweighted Gram matrix XᵀX when there are prior weights (the
rank decision is made on X itself, as in memory), and per-level minima and maxima of random
slopes, for the note on slopes that are constant within every level (confounded with the
intercept).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from multilevel.dask.encode import Encoder
from multilevel.lmm.structure import SystemStructure
from multilevel.lmm.system import PLSSystem, TermBlock
from multilevel.lmm.theta import ThetaLayout

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class SlopeRange:
    """Per-level minimum and maximum of the slope columns of one term.

    Attributes
    ----------
    columns
        Positions of the slope columns in the term.
    low, high
        (nlevels, len(columns)) minima and maxima (+inf and -inf for unseen levels).
    """

    columns: tuple[int, ...]
    low: FloatArray
    high: FloatArray


@dataclass(frozen=True)
class PartitionStats:
    """The sufficient statistics of one partition, or the sum of several.

    Attributes
    ----------
    system
        The PLS blocks (its terms carry no observations: only q and the number of levels).
    gram
        Unweighted XᵀX over all columns of X (only with prior weights; else None).
    ranges
        Per term: the slope ranges (None where the confounding check does not apply).
    levels
        When not None, the (sorted) levels of the first term that ``a11``, ``xyz[0]`` and the
        first term's slope range hold: a partition that sees few of the first term's levels
        sends only those rows (the sums are dense again once they cover most levels).
    """

    system: PLSSystem
    gram: FloatArray | None
    ranges: tuple[SlopeRange | None, ...]
    levels: IntArray | None = None


def _shell_terms(encoder: Encoder) -> tuple[TermBlock, ...]:
    return tuple(
        TermBlock(np.zeros(0, dtype=np.intp), np.zeros((0, t.q)), t.nlevels)
        for t in encoder.terms
    )


def _range_columns(encoder: Encoder) -> list[tuple[int, ...] | None]:
    with_intercept = {t.grouping.name for t in encoder.terms if "(Intercept)" in t.cnames}
    out: list[tuple[int, ...] | None] = []
    for t in encoder.terms:
        cols = tuple(j for j, n in enumerate(t.cnames) if n != "(Intercept)")
        out.append(cols if cols and t.grouping.name in with_intercept else None)
    return out


def _slope_range(
    cols: tuple[int, ...], z: FloatArray, codes: IntArray, nlevels: int
) -> SlopeRange:
    low = np.full((nlevels, len(cols)), np.inf)
    high = np.full((nlevels, len(cols)), -np.inf)
    if codes.size:
        frame = pd.DataFrame(z[:, list(cols)])
        grouped = frame.groupby(codes, sort=True)
        mins, maxs = grouped.min(), grouped.max()
        idx = mins.index.to_numpy()
        low[idx] = mins.to_numpy()
        high[idx] = maxs.to_numpy()
    return SlopeRange(cols, low, high)


def partition_stats(part: pd.DataFrame, encoder: Encoder) -> PartitionStats:
    """The sufficient statistics of one partition (a pandas DataFrame)."""
    _, frame = encoder.frame(part)
    n = len(frame)
    p = len(encoder.xnames)
    if n:
        y = encoder.response(frame)
        X = encoder.fixed(frame)
        w = encoder.weights_of(frame)
        codes = [t.grouping.codes(frame) for t in encoder.terms]
        zs = [t.z(frame) for t in encoder.terms]
    else:
        y, X, w = np.zeros(0), np.zeros((0, p)), None
        if encoder.weights is not None:
            w = np.zeros(0)
        codes = [np.zeros(0, dtype=np.intp) for _ in encoder.terms]
        zs = [np.zeros((0, t.q)) for t in encoder.terms]
    blocks = tuple(
        TermBlock(c, z, t.nlevels) for c, z, t in zip(codes, zs, encoder.terms, strict=True)
    )
    system = SystemStructure.build(X, blocks).assemble(y, w)
    log_w = float(np.sum(np.log(w))) if w is not None and w.size else 0.0
    system = replace(system, terms=_shell_terms(encoder), log_weights=log_w)
    gram = X.T @ X if encoder.weights is not None else None
    ranges = tuple(
        None if cols is None else _slope_range(cols, z, c, t.nlevels)
        for cols, z, c, t in zip(_range_columns(encoder), zs, codes, encoder.terms, strict=True)
    )
    stats = PartitionStats(system, gram, ranges)
    used = np.unique(codes[0])
    if used.size <= COMPACT_FRACTION * encoder.terms[0].nlevels:
        stats = _merge([stats], used)
    return stats


#: A partition's first-term blocks are sent for its levels only when it sees at most this
#: fraction of them.
COMPACT_FRACTION = 0.5


def _first_term(
    parts: list[PartitionStats], target: IntArray | None
) -> tuple[FloatArray, FloatArray, SlopeRange | None]:
    """The summed first-term blocks (a11, [X y]ᵀZ₁, slope range) on the levels ``target``
    (None: all levels); each part holds the levels ``part.levels`` (None: all)."""
    first = parts[0].system
    n1, q = first.terms[0].nlevels, first.terms[0].q
    p1 = first.xyxy.shape[0]
    size = n1 if target is None else target.size
    a11 = np.zeros((size, q, q))
    xyz0 = np.zeros((p1, size, q))
    r0 = parts[0].ranges[0] if parts[0].ranges else None
    width = 0 if r0 is None else len(r0.columns)
    low = np.full((size, width), np.inf)
    high = np.full((size, width), -np.inf)
    for part in parts:
        src_a11 = part.system.a11
        src_xyz = part.system.xyz[0].reshape(p1, -1, q)
        r = part.ranges[0] if part.ranges else None
        src_low = None if r is None else r.low
        src_high = None if r is None else r.high
        dst: IntArray | slice
        if part.levels is None and target is not None:
            # a part over all levels restricted to some: take those rows
            src_a11, src_xyz = src_a11[target], src_xyz[:, target, :]
            if r is not None:
                src_low, src_high = r.low[target], r.high[target]
            dst = slice(None)
        elif part.levels is None:
            dst = slice(None)
        elif target is None:
            dst = part.levels
        else:
            dst = np.asarray(np.searchsorted(target, part.levels), dtype=np.intp)
        a11[dst] += src_a11
        xyz0[:, dst, :] += src_xyz
        if src_low is not None and src_high is not None:
            low[dst] = np.minimum(low[dst], src_low)
            high[dst] = np.maximum(high[dst], src_high)
    range0 = None if r0 is None else SlopeRange(r0.columns, low, high)
    return a11, xyz0.reshape(p1, size * q), range0


def _merge(parts: list[PartitionStats], target: IntArray | None) -> PartitionStats:
    """The sum of parts, holding the first term's levels ``target`` (None: all)."""
    systems = [p.system for p in parts]
    first = systems[0]
    a11, xyz0, range0 = _first_term(parts, target)
    zz_sparse = []
    for j in range(len(first.zz_sparse)):
        total = first.zz_csr[j]
        for other in systems[1:]:
            total = total + other.zz_csr[j]
        zz_sparse.append(sp.csr_matrix(total))
    zz_dense = {k: _sum([s.zz_dense[k] for s in systems]) for k in first.zz_dense}
    xyz = (xyz0, *(_sum([s.xyz[k] for s in systems]) for k in range(1, len(first.xyz))))
    system = PLSSystem(
        terms=first.terms,
        layout=first.layout,
        a11=a11,
        zz_sparse=tuple(zz_sparse),
        zz_dense=zz_dense,
        xyz=xyz,
        xyxy=_sum([s.xyxy for s in systems]),
        nobs=sum(s.nobs for s in systems),
        log_weights=math.fsum(s.log_weights for s in systems),
    )
    grams = [p.gram for p in parts if p.gram is not None]
    gram = _sum(grams) if grams else None
    ranges = tuple(
        _combine_ranges([p.ranges[k] for p in parts]) for k in range(1, len(parts[0].ranges))
    )
    return PartitionStats(system, gram, (range0, *ranges), target)


def _sum(arrays: list[FloatArray]) -> FloatArray:
    out = arrays[0].copy()
    for a in arrays[1:]:
        out += a
    return out


def _combine_ranges(ranges: list[SlopeRange | None]) -> SlopeRange | None:
    first = ranges[0]
    if first is None:
        return None
    low, high = first.low, first.high
    for r in ranges[1:]:
        assert r is not None
        low, high = np.minimum(low, r.low), np.maximum(high, r.high)
    return SlopeRange(first.columns, low, high)


def combine_stats(parts: list[PartitionStats]) -> PartitionStats:
    """The sum of several partitions' statistics (a tree-reduction step)."""
    if len(parts) == 1:
        return parts[0]
    target = None
    compact = [p.levels for p in parts if p.levels is not None]
    if len(compact) == len(parts):
        union = np.unique(np.concatenate(compact))
        if union.size <= COMPACT_FRACTION * parts[0].system.terms[0].nlevels:
            target = union
    return _merge(parts, target)


def independent_columns_gram(gram: FloatArray, tol: float = 1e-7) -> IntArray:
    """:func:`multilevel.design.fixed.independent_columns` computed from XᵀX alone.

    Columns are taken in order; one is kept when the norm of what is left of it after
    projecting out the kept ones exceeds ``tol`` times its norm. On the Gram matrix (scaled to
    a unit diagonal) the squared relative residual of column j is 1 - cᵀC⁻¹c, with C the kept
    columns' block and c their products with column j, computed with a growing Cholesky factor.
    """
    p = gram.shape[0]
    diag = np.diag(gram).copy()
    keep: list[int] = []
    chol = np.zeros((0, 0))
    for j in range(p):
        if diag[j] <= 0.0:
            continue
        scale = np.sqrt(diag[j] * diag[keep]) if keep else np.zeros(0)
        c = gram[keep, j] / scale if keep else np.zeros(0)
        v = np.linalg.solve(chol, c) if keep else np.zeros(0)
        r2 = 1.0 - float(v @ v)
        if math.sqrt(max(r2, 0.0)) > tol:
            k = len(keep)
            new = np.zeros((k + 1, k + 1))
            new[:k, :k] = chol
            new[k, :k] = v
            new[k, k] = math.sqrt(r2)
            chol = new
            keep.append(j)
    return np.asarray(keep, dtype=np.intp)


def final_system(stats: PartitionStats, keep: IntArray) -> PLSSystem:
    """The PLS system with only the kept columns of X (the response stays last)."""
    if stats.levels is not None:
        stats = _merge([stats], None)
    system = stats.system
    p = system.xyxy.shape[0] - 1
    rows = np.append(keep, p)
    return replace(
        system,
        xyz=tuple(np.ascontiguousarray(b[rows, :]) for b in system.xyz),
        xyxy=np.ascontiguousarray(system.xyxy[np.ix_(rows, rows)]),
        layout=ThetaLayout(tuple(t.q for t in system.terms)),
    )


def confounded_slope_notes(encoder: Encoder, stats: PartitionStats) -> list[str]:
    """The in-memory path's notes on random slopes constant within every level."""
    out = []
    for t, r in zip(encoder.terms, stats.ranges, strict=True):
        if r is None:
            continue
        for k, j in enumerate(r.columns):
            seen = np.isfinite(r.low[:, k])
            if not seen.any():
                continue
            spread = float(np.max(r.high[seen, k] - r.low[seen, k]))
            size = float(np.max(np.maximum(np.abs(r.low[seen, k]), np.abs(r.high[seen, k]))))
            if spread <= 1e-10 * max(size, 1e-300):
                name = t.cnames[j]
                out.append(
                    f"the random slope {name!r} of ({t.term.text}) is constant within every "
                    f"level of {t.grouping.name!r}, so it is confounded with the random "
                    f"intercept of {t.grouping.name!r}: its variance is not identifiable and "
                    "the fit is likely singular (a group-level variable belongs in the fixed "
                    "effects only)"
                )
    return out
