"""Exact quantiles of a Dask series in two passes (a radix select), without gathering it.

Floats are mapped to unsigned integers in the same order. The first pass counts the values by
the top 20 bits of that key (a sparse histogram: only the bins that occur); the client finds the
bins holding the order statistics that ``numpy.quantile`` interpolates between (its default,
linear method); the second pass gathers the values of those few bins only, and the order
statistics are read off them. The result equals ``numpy.quantile`` on the whole series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.dask.graph import compute_one, tree_reduce

FloatArray = NDArray[np.float64]
KeyArray = NDArray[np.uint64]

#: The histogram of the first pass keys values by their top ``64 - SHIFT`` bits.
SHIFT = np.uint64(44)
_SIGN = np.uint64(1 << 63)


def sort_keys(values: FloatArray) -> KeyArray:
    """Unsigned keys in the order of the floats (NaN-free input)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    negative = (bits & _SIGN) != 0
    return np.where(negative, ~bits, bits | _SIGN)


@dataclass(frozen=True)
class Histogram:
    """Counts of values per bin (the top bits of the key), bins sorted."""

    bins: KeyArray
    counts: NDArray[np.int64]


def _histogram(part: pd.Series) -> Histogram:
    values = part.to_numpy(dtype=float)
    values = values[~np.isnan(values)]
    bins, counts = np.unique(sort_keys(values) >> SHIFT, return_counts=True)
    return Histogram(bins.astype(np.uint64), counts.astype(np.int64))


def _merge(parts: list[Histogram]) -> Histogram:
    bins = np.concatenate([p.bins for p in parts])
    counts = np.concatenate([p.counts for p in parts])
    uniq, inverse = np.unique(bins, return_inverse=True)
    return Histogram(uniq, np.bincount(inverse, weights=counts).astype(np.int64))


def _values_in(part: pd.Series, bins: KeyArray) -> FloatArray:
    values = part.to_numpy(dtype=float)
    values = values[~np.isnan(values)]
    return np.asarray(values[np.isin(sort_keys(values) >> SHIFT, bins)], dtype=float)


def _concat(parts: list[FloatArray]) -> FloatArray:
    return np.concatenate(parts)


def exact_quantiles(series: Any, probs: Sequence[float]) -> FloatArray:
    """``numpy.quantile(series, probs)`` of a Dask series (NaN ignored), in two passes.

    Parameters
    ----------
    series
        A Dask series of floats.
    probs
        Probabilities in [0, 1].

    Returns
    -------
    ndarray
        The quantiles, by linear interpolation between order statistics as numpy's default.
    """
    import dask

    parts = series.to_delayed(optimize_graph=True)
    hist_task = dask.delayed(_histogram, pure=True)
    hist: Histogram = compute_one(tree_reduce([hist_task(p) for p in parts], _merge))
    n = int(hist.counts.sum())
    if n == 0:
        return np.full(len(probs), np.nan)
    positions = [(n - 1) * float(p) for p in probs]
    ranks = sorted({r for h in positions for r in (int(np.floor(h)), int(np.ceil(h)))})
    ends = np.cumsum(hist.counts)
    which = np.searchsorted(ends, np.asarray(ranks), side="right")
    wanted = np.unique(hist.bins[which])
    take = dask.delayed(_values_in, pure=True)
    gathered = compute_one(tree_reduce([take(p, wanted) for p in parts], _concat))
    gathered = np.sort(gathered)
    # rank r sits in bin b at offset r - (count of values in bins before b)
    order: dict[int, float] = {}
    for r, b in zip(ranks, which, strict=True):
        before = int(ends[b] - hist.counts[b])
        inside = int(np.sum(sort_keys(gathered) >> SHIFT < hist.bins[b]))
        order[r] = float(gathered[inside + r - before])
    out = []
    for h in positions:
        lo, hi = int(np.floor(h)), int(np.ceil(h))
        t, a, b = h - lo, order[lo], order[hi]
        # numpy's lerp, written the same way for the same rounding
        out.append(b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t)
    return np.asarray(out, dtype=float)
