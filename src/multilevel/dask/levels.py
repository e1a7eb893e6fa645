"""First pass over a Dask DataFrame: row counts and the levels of every factor the model uses.

Each partition reports its number of rows, its missing values per used column, the values each
factor-like column takes on the complete rows (categories of a categorical, FALSE/TRUE of a
logical, distinct numbers or strings otherwise), the distinct combinations of the columns of
every interaction grouping factor (``a:b``, nested terms) and one complete row. The reports are
reduced by union; the client then orders the levels as the in-memory path does (a
categorical's order, FALSE before TRUE, numbers and strings sorted), so that every partition is
encoded with the same columns and the same integer codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.grouping import _r_number

IntArray = NDArray[np.intp]


def is_numeric(dtype: Any) -> bool:
    """True for a numeric (not logical, not categorical) column type."""
    return (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
    )


def complete_rows(
    frame: pd.DataFrame, names: Iterable[str]
) -> tuple[NDArray[np.bool_], dict[str, int]]:
    """Rows without a missing or infinite value in the used columns, as the model frame has
    them, and the number of bad values per column (columns without any left out)."""
    bad = np.zeros(len(frame), dtype=bool)
    counts: dict[str, int] = {}
    for name in names:
        col = frame[name]
        miss = col.isna().to_numpy()
        if is_numeric(col.dtype):
            with np.errstate(invalid="ignore"):
                miss = miss | ~np.isfinite(col.to_numpy(dtype=float, na_value=np.nan))
        if miss.any():
            counts[name] = int(miss.sum())
        bad |= miss
    return ~bad, counts


def normalize(col: pd.Series) -> pd.Series:
    """R's view of a column: a logical becomes a factor with levels FALSE, TRUE."""
    if pd.api.types.is_bool_dtype(col.dtype) and not isinstance(col.dtype, pd.CategoricalDtype):
        labels = np.where(col.to_numpy(dtype=bool), "TRUE", "FALSE")
        return pd.Series(
            pd.Categorical(labels, categories=["FALSE", "TRUE"]), index=col.index, name=col.name
        )
    return col


@dataclass(frozen=True)
class LevelPlan:
    """What the first pass looks at.

    Attributes
    ----------
    columns
        Every used column (complete rows are complete on all of them).
    factors
        Columns whose levels are collected.
    interactions
        Column tuples of the grouping factors made of several columns.
    """

    columns: tuple[str, ...]
    factors: tuple[str, ...]
    interactions: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class LevelSummary:
    """One partition's report, or the union of several.

    Attributes
    ----------
    nrows
        Rows in total.
    ncomplete
        Rows with every used column present.
    missing
        Missing or infinite values per used column.
    observed
        Distinct values of each factor column on the complete rows (logicals as FALSE/TRUE).
    categories
        Categories of each categorical factor column, in order (union over partitions).
    combos
        Distinct value combinations of each interaction grouping factor.
    example
        One complete row (of the used columns), or None.
    """

    nrows: int
    ncomplete: int
    missing: dict[str, int]
    observed: dict[str, pd.Index]
    categories: dict[str, pd.Index]
    combos: dict[tuple[str, ...], pd.DataFrame]
    example: pd.DataFrame | None


def distinct_values(values: np.ndarray) -> pd.Index:
    """The distinct values of an array. Integers spanning a range not much wider than their
    number are found by counting (sorted, linear time); anything else by hashing."""
    if values.dtype.kind in "iu" and values.size:
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 4 * values.size + 1024 and -(2**62) < lo and hi < 2**62:
            seen = np.bincount(values.astype(np.int64) - lo, minlength=hi - lo + 1)
            return pd.Index((np.flatnonzero(seen) + lo).astype(values.dtype))
    return pd.Index(pd.unique(values))


def partition_levels(part: pd.DataFrame, plan: LevelPlan) -> LevelSummary:
    """The first-pass report of one partition."""
    mask, missing = complete_rows(part, plan.columns)
    ncomplete = int(mask.sum())
    whole = ncomplete == len(part)
    observed: dict[str, pd.Index] = {}
    categories: dict[str, pd.Index] = {}
    for name in plan.factors:
        col = part[name] if whole else part[name][mask]
        col = normalize(col)
        if isinstance(col.dtype, pd.CategoricalDtype):
            categories[name] = pd.Index(col.cat.categories)
            codes = col.cat.codes.to_numpy()
            observed[name] = pd.Index(col.cat.categories[np.unique(codes[codes >= 0])])
        else:
            observed[name] = distinct_values(col.to_numpy())
    combos = {}
    for cols in plan.interactions:
        sub = part.loc[:, list(cols)] if whole else part.loc[mask, list(cols)]
        combos[cols] = pd.DataFrame({c: normalize(sub[c]) for c in cols}).drop_duplicates()
    example = None
    if ncomplete:
        first = int(np.argmax(mask))
        example = part.iloc[first : first + 1][list(plan.columns)].copy()
    return LevelSummary(
        nrows=len(part),
        ncomplete=ncomplete,
        missing=missing,
        observed=observed,
        categories=categories,
        combos=combos,
        example=example,
    )


def _union(indexes: list[pd.Index]) -> pd.Index:
    """Union keeping the order of first appearance."""
    if len(indexes) == 1:
        return indexes[0]
    return pd.Index(pd.unique(np.concatenate([np.asarray(i) for i in indexes])))


def _union_set(indexes: list[pd.Index]) -> pd.Index:
    """Union in any order (integers by counting, as :func:`distinct_values`)."""
    if len(indexes) == 1:
        return indexes[0]
    arrays = [np.asarray(i) for i in indexes]
    if all(a.dtype.kind in "iu" for a in arrays):
        return distinct_values(np.concatenate(arrays))
    return _union(indexes)


def combine_levels(parts: list[LevelSummary]) -> LevelSummary:
    """The union of several first-pass reports (a tree-reduction step)."""
    if len(parts) == 1:
        return parts[0]
    missing: dict[str, int] = {}
    for p in parts:
        for k, v in p.missing.items():
            missing[k] = missing.get(k, 0) + v
    first = parts[0]
    return LevelSummary(
        nrows=sum(p.nrows for p in parts),
        ncomplete=sum(p.ncomplete for p in parts),
        missing=missing,
        observed={k: _union_set([p.observed[k] for p in parts]) for k in first.observed},
        categories={k: _union([p.categories[k] for p in parts]) for k in first.categories},
        combos={
            k: pd.concat([p.combos[k] for p in parts], ignore_index=True).drop_duplicates()
            for k in first.combos
        },
        example=next((p.example for p in parts if p.example is not None), None),
    )


def number_labels(values: NDArray[np.float64]) -> tuple[str, ...]:
    """R's labels of numeric levels (as :func:`multilevel.design.grouping._r_number`): whole
    numbers without a decimal point, others as Python prints them."""
    whole = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < 2.0**53)
    if whole.all():
        return tuple(map(str, values.astype(np.int64).tolist()))
    return tuple(_r_number(float(v)) for v in values)


def _table_codes(values: np.ndarray, lo: int, table: NDArray[np.intp]) -> NDArray[np.intp]:
    """Codes of numeric values by a lookup table over the integers lo, lo + 1, ... (compared
    as floats, as the levels are: exact for the integers of the table, |x| < 2⁵²)."""
    values = values.astype(float)
    with np.errstate(invalid="ignore"):
        inside = (values >= lo) & (values < lo + table.size)
        shifted = np.where(inside, values - lo, 0.0).astype(np.intp)
        inside &= shifted + lo == values
    return np.where(inside, table[shifted], -1)


@dataclass(frozen=True)
class ColumnLevels:
    """The levels of one factor-like column over all complete rows, in R's order.

    Attributes
    ----------
    name
        The column.
    kind
        "categorical", "bool", "numeric" or "string".
    values
        The level values in order (categories; "FALSE"/"TRUE"; numbers; strings).
    categories
        Categories of the column in the model frame (all of FALSE, TRUE for a logical), or
        None for numbers and strings.
    ordered
        An ordered categorical.
    """

    name: str
    kind: str
    values: pd.Index
    categories: pd.Index | None
    ordered: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        """Level labels as the grouping factors print them."""
        if self.kind == "numeric":
            return number_labels(np.asarray(self.values, dtype=float))
        return tuple(str(v) for v in self.values)

    @cached_property
    def _table(self) -> tuple[int, NDArray[np.intp]] | None:
        """For integer-valued numeric levels over a range not much wider than their number: the
        smallest level and the code of every integer of the range (-1 for none)."""
        if self.kind != "numeric" or len(self.values) == 0:
            return None
        values = np.asarray(self.values, dtype=float)
        lo, hi = float(values.min()), float(values.max())
        if not (np.all(np.floor(values) == values) and -2.0**52 < lo and hi < 2.0**52):
            return None
        if hi - lo >= 4 * len(values) + 1024:
            return None
        table = np.full(int(hi - lo) + 1, -1, dtype=np.intp)
        table[(values - lo).astype(np.intp)] = np.arange(len(values))
        return int(lo), table

    @cached_property
    def _lookup(self) -> pd.Index:
        """The levels as the index rows are looked up in (built, and hashed, once per process)."""
        if self.kind == "numeric":
            return pd.Index(np.asarray(self.values, dtype=float))
        if self.kind == "string":
            return pd.Index(np.asarray([str(v) for v in self.values], dtype=object))
        return self.values

    def codes(self, col: pd.Series) -> IntArray:
        """Position of each value among the levels (-1 for a value not among them)."""
        col = normalize(col)
        if self.kind == "numeric" and self._table is not None:
            found = _table_codes(col.to_numpy(), *self._table)
        elif self.kind == "numeric":
            found = self._lookup.get_indexer(pd.Index(col.to_numpy(dtype=float)))
        elif self.kind == "string":
            found = self._lookup.get_indexer(pd.Index(col.astype(str).to_numpy(dtype=object)))
        elif isinstance(col.dtype, pd.CategoricalDtype):
            mapping = np.append(self._lookup.get_indexer(col.cat.categories), -1)
            found = mapping[col.cat.codes.to_numpy()]
        else:
            found = self._lookup.get_indexer(pd.Index(col.to_numpy(dtype=object)))
        return np.asarray(found, dtype=np.intp)

    def template(self, m: int) -> pd.Series:
        """``m`` values cycling through every level, with the model frame's type."""
        values = np.resize(np.asarray(self.values, dtype=object), m)
        if self.categories is not None:
            return pd.Series(
                pd.Categorical(values, categories=self.categories, ordered=self.ordered),
                name=self.name,
            )
        if self.kind == "numeric":
            return pd.Series(np.resize(self.values.to_numpy(), m), name=self.name)
        return pd.Series(values, name=self.name)


def resolve_levels(
    summary: LevelSummary, meta: pd.DataFrame, plan: LevelPlan
) -> dict[str, ColumnLevels]:
    """Order the collected levels of every factor column as the in-memory path does."""
    out = {}
    for name in plan.factors:
        dtype = meta[name].dtype
        obs = summary.observed[name]
        if pd.api.types.is_bool_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
            values = pd.Index([v for v in ("FALSE", "TRUE") if v in set(obs)], dtype=object)
            out[name] = ColumnLevels(name, "bool", values, pd.Index(["FALSE", "TRUE"]))
        elif isinstance(dtype, pd.CategoricalDtype):
            order = summary.categories.get(name, pd.Index([]))
            values = pd.Index(order[order.isin(obs)])
            out[name] = ColumnLevels(name, "categorical", values, values, bool(dtype.ordered))
        elif is_numeric(dtype):
            out[name] = ColumnLevels(name, "numeric", pd.Index(np.sort(obs.to_numpy())), None)
        else:
            raw = list(obs)
            raw.sort(key=str)
            out[name] = ColumnLevels(name, "string", pd.Index(raw, dtype=object), None)
    return out


@dataclass(frozen=True)
class GroupingLevels:
    """A grouping factor's levels: its columns' levels, and for an interaction the observed
    combinations (what the workers need to code rows; the labels are made on the client).

    Attributes
    ----------
    name
        The group's name (``Subject``, ``cask:batch``).
    columns
        Its columns.
    components
        Levels of each column.
    keys
        For several columns: sorted mixed-radix keys (first column slowest) of the observed
        combinations; None for one column.
    numeric
        Some column was numeric (converted to a factor).
    """

    name: str
    columns: tuple[str, ...]
    components: tuple[ColumnLevels, ...]
    keys: NDArray[np.int64] | None
    numeric: bool

    @property
    def nlevels(self) -> int:
        """Number of levels."""
        if self.keys is None:
            return len(self.components[0].values)
        return len(self.keys)

    def labels(self) -> tuple[str, ...]:
        """Level labels in code order, as the in-memory grouping factor has them
        (``"a-level:b-level"`` for an interaction)."""
        if self.keys is None:
            return self.components[0].labels
        parts = []
        rem = self.keys.copy()
        for c in reversed(self.components):
            parts.append(rem % len(c.values))
            rem = rem // len(c.values)
        parts.reverse()
        out = np.asarray(self.components[0].labels, dtype=object)[parts[0]]
        for c, part in zip(self.components[1:], parts[1:], strict=True):
            out = out + ":" + np.asarray(c.labels, dtype=object)[part]
        return tuple(str(v) for v in out)

    def _key(self, frame: pd.DataFrame) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        key = np.zeros(len(frame), dtype=np.int64)
        known = np.ones(len(frame), dtype=bool)
        for col, levels in zip(self.columns, self.components, strict=True):
            codes = levels.codes(frame[col])
            known &= codes >= 0
            key = key * len(levels.values) + codes
        return key, known

    def codes(self, frame: pd.DataFrame) -> IntArray:
        """The level code of every row (-1 for a level not seen in fitting)."""
        if self.keys is None:
            return self.components[0].codes(frame[self.columns[0]])
        key, known = self._key(frame)
        pos = np.searchsorted(self.keys, key)
        pos = np.minimum(pos, max(len(self.keys) - 1, 0))
        found = known & (self.keys[pos] == key) if len(self.keys) else np.zeros_like(known)
        return np.where(found, pos, -1).astype(np.intp)


def grouping_levels(
    name: str,
    columns: tuple[str, ...],
    levels: dict[str, ColumnLevels],
    summary: LevelSummary,
) -> GroupingLevels:
    """The grouping factor formed by ``columns``, with the in-memory path's codes."""
    components = tuple(levels[c] for c in columns)
    numeric = any(c.kind == "numeric" for c in components)
    if len(columns) == 1:
        return GroupingLevels(name, columns, components, None, numeric)
    probe = GroupingLevels(name, columns, components, np.zeros(0, dtype=np.int64), numeric)
    key, known = probe._key(summary.combos[columns])
    return GroupingLevels(name, columns, components, np.unique(key[known]), numeric)
