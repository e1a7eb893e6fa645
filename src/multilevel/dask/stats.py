"""Second pass: each partition's sufficient statistics in the engine's block layout, summed.

A partition is encoded (:mod:`multilevel.dask.encode`) and its blocks of [Z X y]ᵀW[Z X y] are
formed over the *global* level codes with a few vectorized calls per block (``bincount`` over
the level codes, and SciPy's COO → CSR conversion, which sums duplicate entries, for the
products of two terms); no Python loop runs over rows or levels. The observation-level arrays
are dropped before the statistics leave the worker, so what travels is the size of the blocks,
not of the data, and sums of these blocks over partitions are the blocks of the whole data set:

- Z₁ᵀZ₁ as a stack of q₁ × q₁ blocks and [X y]ᵀZ₁ as (p + 1, levels, q₁), over the levels of
  the first (largest) term that the partition sees when it sees at most half of them
  (:attr:`PartitionStats.levels`), so that a partition of a data set sorted by group sends
  little; the reduction widens them as the union of levels grows;
- every Z_jᵀZ_i with j ≥ 1 as a SciPy CSR matrix with 32-bit indices (only the observed pairs
  of levels are stored; the later terms' blocks are made dense on the client);
- [X y]ᵀZ_k, [X y]ᵀW[X y], n and Σ log w.

Two small extras ride along: the unweighted Gram matrix XᵀX when there are prior weights (the
rank decision is made on X itself, as in memory), and per-level minima and maxima of random
slopes, for the note on slopes that are constant within every level (confounded with the
intercept).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from multilevel.dask.encode import Encoder
from multilevel.lmm.system import PLSSystem, TermBlock
from multilevel.lmm.theta import ThetaLayout

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: A partition's first-term blocks are sent for its levels only when it sees at most this
#: fraction of them.
COMPACT_FRACTION = 0.5


@dataclass(frozen=True)
class SlopeRange:
    """Per-level minimum and maximum of the slope columns of one term.

    Attributes
    ----------
    columns
        Positions of the slope columns in the term.
    low, high
        (levels, len(columns)) minima and maxima (+inf and -inf for unseen levels).
    """

    columns: tuple[int, ...]
    low: FloatArray
    high: FloatArray


@dataclass(frozen=True)
class PartitionStats:
    """The sufficient statistics of one partition, or the sum of several.

    Attributes
    ----------
    q, nlevels
        Columns per level and number of levels of every term (engine order).
    levels
        The sorted first-term levels that ``a11``, ``xyz[0]`` and the first slope range hold,
        or None for all of them.
    a11
        Z₁ᵀWZ₁ as a (levels, q₁, q₁) stack.
    xyz
        [X y]ᵀWZ_k as (p + 1, levels, q_k) arrays (the first on ``levels``).
    zz
        Z_jᵀWZ_i for 1 ≤ j, 0 ≤ i ≤ j, keyed ``(j, i)``, CSR over the global codes.
    xyxy
        [X y]ᵀW[X y].
    nobs
        Number of observations.
    log_weights
        Σ log wᵢ (0 without prior weights).
    gram
        Unweighted XᵀX over all columns of X (only with prior weights; else None).
    ranges
        Per term: the slope ranges (None where the confounding check does not apply).
    """

    q: tuple[int, ...]
    nlevels: tuple[int, ...]
    levels: IntArray | None
    a11: FloatArray
    xyz: tuple[FloatArray, ...]
    zz: dict[tuple[int, int], sp.csr_matrix]
    xyxy: FloatArray
    nobs: int
    log_weights: float
    gram: FloatArray | None
    ranges: tuple[SlopeRange | None, ...]


# -- one partition -------------------------------------------------------------------------
def _range_columns(encoder: Encoder) -> list[tuple[int, ...] | None]:
    with_intercept = {t.grouping.name for t in encoder.terms if "(Intercept)" in t.cnames}
    out: list[tuple[int, ...] | None] = []
    for t in encoder.terms:
        cols = tuple(j for j, n in enumerate(t.cnames) if n != "(Intercept)")
        out.append(cols if cols and t.grouping.name in with_intercept else None)
    return out


def _slope_range(cols: tuple[int, ...], z: FloatArray, codes: IntArray, size: int) -> SlopeRange:
    low = np.full((size, len(cols)), np.inf)
    high = np.full((size, len(cols)), -np.inf)
    if codes.size:
        grouped = pd.DataFrame(z[:, list(cols)]).groupby(codes, sort=True)
        mins, maxs = grouped.min(), grouped.max()
        idx = mins.index.to_numpy()
        low[idx] = mins.to_numpy()
        high[idx] = maxs.to_numpy()
    return SlopeRange(cols, low, high)


def _by_level(codes: IntArray, z: FloatArray, values: FloatArray, size: int) -> FloatArray:
    """Σ over the rows of each level of ``values[:, c] * z[:, a]``: shape (c, size, a)."""
    out = np.empty((values.shape[1], size, z.shape[1]))
    for a in range(z.shape[1]):
        for c in range(values.shape[1]):
            out[c, :, a] = np.bincount(codes, weights=values[:, c] * z[:, a], minlength=size)
    return out


def _gram_by_level(codes: IntArray, z: FloatArray, wz: FloatArray, size: int) -> FloatArray:
    """Σ over the rows of each level of wz zᵀ: a (size, q, q) stack, symmetric by copying."""
    q = z.shape[1]
    out = np.empty((size, q, q))
    for r in range(q):
        for c in range(r, q):
            out[:, r, c] = np.bincount(codes, weights=wz[:, r] * z[:, c], minlength=size)
            out[:, c, r] = out[:, r, c]
    return out


def _index_dtype(*sizes: int) -> type:
    return np.int32 if max(sizes, default=0) < np.iinfo(np.int32).max else np.int64


def _pair_block(
    rows: IntArray, zr: FloatArray, cols: IntArray, zc: FloatArray, w: FloatArray | None,
    shape: tuple[int, int],
) -> sp.csr_matrix:
    """Σ wᵢ zr_i zc_iᵀ placed at the levels (rows[i], cols[i]): a CSR matrix of ``shape``
    (duplicate entries summed by the COO → CSR conversion)."""
    qr, qc = zr.shape[1], zc.shape[1]
    kind = _index_dtype(*shape)
    wzr = zr if w is None else zr * w[:, None]
    r_idx, c_idx, vals = [], [], []
    for a in range(qr):
        for b in range(qc):
            r_idx.append((rows * qr + a).astype(kind))
            c_idx.append((cols * qc + b).astype(kind))
            vals.append(wzr[:, a] * zc[:, b])
    coo = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(r_idx), np.concatenate(c_idx))), shape=shape
    )
    return coo.tocsr()


def partition_stats(part: pd.DataFrame, encoder: Encoder) -> PartitionStats:
    """The sufficient statistics of one partition (a pandas DataFrame)."""
    _, frame = encoder.frame(part)
    n = len(frame)
    p = len(encoder.xnames)
    terms = encoder.terms
    xy = np.empty((n, p + 1))
    w = None
    if n:
        xy[:, :p] = encoder.fixed(frame)
        xy[:, p] = encoder.response(frame)
        w = encoder.weights_of(frame)
    elif encoder.weights is not None:
        w = np.zeros(0)
    codes = [t.grouping.codes(frame) if n else np.zeros(0, dtype=np.intp) for t in terms]
    zs = [t.z(frame) if n else np.zeros((0, t.q)) for t in terms]
    wxy = xy if w is None else xy * w[:, None]
    # the first term over the levels this partition sees, if it sees few of them
    n1 = terms[0].nlevels
    present = np.bincount(codes[0], minlength=n1) > 0
    used = np.flatnonzero(present)
    levels: IntArray | None = None
    local, size = codes[0], n1
    if used.size <= COMPACT_FRACTION * n1:
        levels, size = used, used.size
        local = (np.cumsum(present, dtype=np.intp) - 1)[codes[0]]
    z1 = zs[0]
    wz1 = z1 if w is None else z1 * w[:, None]
    a11 = _gram_by_level(local, z1, wz1, size)
    xyz = [_by_level(local, z1, wxy, size)]
    xyz += [_by_level(c, z, wxy, t.nlevels) for c, z, t in zip(codes[1:], zs[1:], terms[1:],
                                                              strict=True)]
    zz = {
        (j, i): _pair_block(codes[j], zs[j], codes[i], zs[i], w,
                            (terms[j].q * terms[j].nlevels, terms[i].q * terms[i].nlevels))
        for j in range(1, len(terms))
        for i in range(j + 1)
    }
    range_cols = _range_columns(encoder)
    ranges = tuple(
        None if cols is None else _slope_range(cols, z, c, s)
        for cols, z, c, s in zip(range_cols, zs, [local, *codes[1:]],
                                 [size, *(t.nlevels for t in terms[1:])], strict=True)
    )
    return PartitionStats(
        q=tuple(t.q for t in terms),
        nlevels=tuple(t.nlevels for t in terms),
        levels=levels,
        a11=a11,
        xyz=tuple(xyz),
        zz=zz,
        xyxy=wxy.T @ xy,
        nobs=n,
        log_weights=float(np.sum(np.log(w))) if w is not None and w.size else 0.0,
        gram=xy[:, :p].T @ xy[:, :p] if encoder.weights is not None else None,
        ranges=ranges,
    )


# -- the reduction -------------------------------------------------------------------------
def _first_term(
    parts: list[PartitionStats], target: IntArray | None
) -> tuple[FloatArray, FloatArray, SlopeRange | None]:
    """The summed first-term blocks (a11, [X y]ᵀZ₁, slope range) on the levels ``target``
    (None: all levels); each part holds the levels ``part.levels`` (None: all)."""
    first = parts[0]
    q, p1 = first.q[0], first.xyxy.shape[0]
    size = first.nlevels[0] if target is None else target.size
    a11 = np.zeros((size, q, q))
    xyz0 = np.zeros((p1, size, q))
    r0 = first.ranges[0]
    width = 0 if r0 is None else len(r0.columns)
    low = np.full((size, width), np.inf)
    high = np.full((size, width), -np.inf)
    for part in parts:
        src_a11, src_xyz = part.a11, part.xyz[0]
        r = part.ranges[0]
        src_low = None if r is None else r.low
        src_high = None if r is None else r.high
        dst: IntArray | slice = slice(None)
        if part.levels is None and target is not None:
            # a part over all levels restricted to some: take those rows
            src_a11, src_xyz = src_a11[target], src_xyz[:, target, :]
            if r is not None:
                src_low, src_high = r.low[target], r.high[target]
        elif part.levels is not None and target is None:
            dst = part.levels
        elif part.levels is not None and target is not None:
            dst = np.asarray(np.searchsorted(target, part.levels), dtype=np.intp)
        a11[dst] += src_a11
        xyz0[:, dst, :] += src_xyz
        if src_low is not None and src_high is not None:
            low[dst] = np.minimum(low[dst], src_low)
            high[dst] = np.maximum(high[dst], src_high)
    range0 = None if r0 is None else SlopeRange(r0.columns, low, high)
    return a11, xyz0, range0


def _sum(arrays: list[FloatArray]) -> FloatArray:
    out = arrays[0].copy()
    for a in arrays[1:]:
        out += a
    return out


def _sum_sparse(mats: list[sp.csr_matrix]) -> sp.csr_matrix:
    """The sum of CSR matrices, merged row by row (linear in the stored entries)."""
    total = mats[0]
    for m in mats[1:]:
        total = total + m
    return sp.csr_matrix(total)


def _combine_ranges(ranges: list[SlopeRange | None]) -> SlopeRange | None:
    first = ranges[0]
    if first is None:
        return None
    low, high = first.low, first.high
    for r in ranges[1:]:
        assert r is not None
        low, high = np.minimum(low, r.low), np.maximum(high, r.high)
    return SlopeRange(first.columns, low, high)


def _merge(parts: list[PartitionStats], target: IntArray | None) -> PartitionStats:
    """The sum of parts, holding the first term's levels ``target`` (None: all)."""
    first = parts[0]
    a11, xyz0, range0 = _first_term(parts, target)
    grams = [p.gram for p in parts if p.gram is not None]
    return PartitionStats(
        q=first.q,
        nlevels=first.nlevels,
        levels=target,
        a11=a11,
        xyz=(xyz0, *(_sum([p.xyz[k] for p in parts]) for k in range(1, len(first.xyz)))),
        zz={key: _sum_sparse([p.zz[key] for p in parts]) for key in first.zz},
        xyxy=_sum([p.xyxy for p in parts]),
        nobs=sum(p.nobs for p in parts),
        log_weights=math.fsum(p.log_weights for p in parts),
        gram=_sum(grams) if grams else None,
        ranges=(range0, *(_combine_ranges([p.ranges[k] for p in parts])
                          for k in range(1, len(first.ranges)))),
    )


def combine_stats(parts: list[PartitionStats]) -> PartitionStats:
    """The sum of several partitions' statistics (a tree-reduction step)."""
    if len(parts) == 1:
        return parts[0]
    target = None
    compact = [p.levels for p in parts if p.levels is not None]
    if len(compact) == len(parts):
        seen = np.zeros(parts[0].nlevels[0], dtype=bool)
        for levels in compact:
            seen[levels] = True
        union = np.flatnonzero(seen)  # sorted, in time linear in the levels
        if union.size <= COMPACT_FRACTION * parts[0].nlevels[0]:
            target = union
    return _merge(parts, target)


# -- on the client -------------------------------------------------------------------------
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


def x_gram(stats: PartitionStats) -> FloatArray:
    """The (unweighted) XᵀX the rank of X is decided on."""
    p = stats.xyxy.shape[0] - 1
    return stats.gram if stats.gram is not None else stats.xyxy[:p, :p]


def final_system(stats: PartitionStats, keep: IntArray) -> PLSSystem:
    """The PLS system of the whole data, with only the kept columns of X (y stays last).

    Its terms carry no observations (only q and the number of levels); Z_jᵀZ₁ stays sparse
    (CSR) and the later terms' blocks are made dense, as the engine stores them.
    """
    if stats.levels is not None:
        stats = _merge([stats], None)
    p = stats.xyxy.shape[0] - 1
    rows = np.append(keep, p)
    terms = tuple(
        TermBlock(np.zeros(0, dtype=np.intp), np.zeros((0, q)), m)
        for q, m in zip(stats.q, stats.nlevels, strict=True)
    )
    xyz = tuple(
        np.ascontiguousarray(b[rows].reshape(rows.size, -1)) for b in stats.xyz
    )
    return PLSSystem(
        terms=terms,
        layout=ThetaLayout(stats.q),
        a11=stats.a11,
        zz_sparse=tuple(stats.zz[(j, 0)] for j in range(1, len(terms))),
        zz_dense={k: m.toarray() for k, m in stats.zz.items() if k[1] > 0},
        xyz=xyz,
        xyxy=np.ascontiguousarray(stats.xyxy[np.ix_(rows, rows)]),
        nobs=stats.nobs,
        log_weights=stats.log_weights,
    )


def column_sums_of_squares(system: PLSSystem) -> list[FloatArray]:
    """Σ wᵢ z²ᵢ of every random-effects column, read off the diagonal blocks of ZᵀWZ (per
    term, engine order): what :func:`multilevel.optimize.theta_scale` computes from Z."""
    out = [np.einsum("lcc->c", system.a11)]
    for k in range(1, len(system.terms)):
        t = system.terms[k]
        out.append(np.diag(system.zz_dense[(k, k)]).reshape(t.nlevels, t.q).sum(axis=0))
    return out


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
