"""Pieces of the Dask fit on pandas partitions (no scheduler): ranks, reductions, levels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.dask.encode import build_encoder, level_plan
from multilevel.dask.levels import combine_levels, partition_levels, resolve_levels
from multilevel.dask.stats import (
    combine_stats,
    final_system,
    independent_columns_gram,
    partition_stats,
)
from multilevel.design import build_design
from multilevel.design.fixed import independent_columns
from multilevel.fit import parsed_formula, pls_system


@pytest.mark.parametrize("seed", range(5))
def test_gram_rank_rule_matches_the_qr_rule(seed) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    base = rng.standard_normal((n, 4))
    cols = [np.ones(n), base[:, 0], 3.0 * base[:, 0] - base[:, 1], base[:, 1], np.zeros(n),
            base[:, 2] + 1e-3 * base[:, 3], base[:, 0] + 2.0 * base[:, 2], 1000.0 + base[:, 3]]
    order = rng.permutation(len(cols))
    X = np.column_stack([cols[k] for k in order])
    np.testing.assert_array_equal(independent_columns_gram(X.T @ X), independent_columns(X))


def _pieces(data: pd.DataFrame, formula: str, chunks: list[slice]):
    parsed = parsed_formula(formula)
    columns = tuple(parsed.variables)
    plan = level_plan(parsed, columns, data.iloc[:0])
    parts = [data.iloc[c] for c in chunks]
    summary = combine_levels([partition_levels(p, plan) for p in parts])
    levels = resolve_levels(summary, data.iloc[:0], plan)
    encoder = build_encoder(parsed, plan, levels, summary, None, None, None)
    return parsed, encoder, [partition_stats(p, encoder) for p in parts]


def test_reductions_in_any_grouping_give_the_in_memory_system() -> None:
    data = ml.datasets.load("sleepstudy")
    formula = "Reaction ~ Days + (Days | Subject)"
    chunks = [slice(k, k + 20) for k in range(0, 180, 20)] + [slice(0, 0)]
    parsed, encoder, stats = _pieces(data, formula, chunks)
    assert stats[0].levels is not None  # a chunk sees two subjects: sent compact
    memory = pls_system(build_design(parsed, data))
    keep = np.arange(len(encoder.xnames))
    groupings = [
        [stats],
        [[stats[0], stats[1]], stats[2:6], stats[6:]],
        [[stats[9], stats[3]], [stats[0]], stats[1:3] + stats[4:9]],
    ]
    for grouping in groupings:
        inner = [combine_stats(g) if isinstance(g, list) else g for g in grouping]
        system = final_system(combine_stats(inner), keep)
        np.testing.assert_allclose(system.a11, memory.a11, rtol=1e-13)
        np.testing.assert_allclose(system.xyz[0], memory.xyz[0], rtol=1e-13)
        np.testing.assert_allclose(system.xyxy, memory.xyxy, rtol=1e-13)
        assert system.nobs == memory.nobs


def test_levels_ordered_as_in_memory() -> None:
    """Categorical order (unused categories dropped), sorted strings and numbers, FALSE/TRUE,
    interactions as observed combinations, whatever each partition holds."""
    data = pd.DataFrame({
        "y": np.arange(12.0) + np.sin(np.arange(12.0)),
        "c": pd.Categorical(list("zzyyxxzzyyxx"), categories=["z", "w", "y", "x"]),
        "s": ["b", "a", "c", "b", "a", "c", "b", "a", "c", "b", "a", "c"],
        "k": [10, 2, 10, 2, 33, 2, 10, 2, 33, 2, 10, 2],
        "t": [True, False] * 6,
    })
    formula = "y ~ t + (1 | c) + (1 | s) + (1 | k) + (1 | c:s)"
    _, encoder, _ = _pieces(data, formula, [slice(0, 4), slice(4, 9), slice(9, 12)])
    design = build_design(parsed_formula(formula), data)
    got = {t.grouping.name: t.grouping.labels() for t in encoder.terms}
    want = {t.group: t.grouping.levels for t in design.terms}
    assert got == want
    assert [t.label for t in encoder.terms] == [t.label for t in design.terms]
    frame = encoder.frame(data)[1]
    for t, m in zip(encoder.terms, design.terms, strict=True):
        np.testing.assert_array_equal(t.grouping.codes(frame), m.grouping.codes)


@pytest.mark.parametrize(
    "values",
    [
        np.array([5, -3, 5, 7, -3, 100], dtype=np.int8),
        np.array([2**40, 2**40 + 3, 2**40], dtype=np.int64),
        np.array([0, 10**12, 3], dtype=np.int64),  # too wide for counting: hashed
        np.array([3, 1, 2], dtype=np.uint16),
        np.array([1.5, -2.0, 1.5, np.inf]),
    ],
)
def test_distinct_values(values) -> None:
    from multilevel.dask.levels import distinct_values

    got = distinct_values(values)
    assert sorted(got.tolist()) == sorted(set(values.tolist()))
    assert got.dtype == values.dtype


@pytest.mark.parametrize(
    "levels",
    [
        np.array([-3.0, 0.0, 1.0, 4.0, 7.0]),  # integers in a range: lookup table
        np.array([-3.0, 0.5, 1.0, 4.0]),  # not all integers: hashed lookup
        np.array([0.0, 1e9]),  # too wide a range: hashed lookup
    ],
)
def test_numeric_level_codes(levels) -> None:
    from multilevel.dask.levels import ColumnLevels

    column = ColumnLevels("g", "numeric", pd.Index(levels), None)
    values = np.array([-3.0, 0.0, 0.5, 1.0, 2.0, 4.0, 7.0, 8.0, -4.0, 1e9, np.nan, 1.0000001])
    want = pd.Index(levels).get_indexer(pd.Index(values))
    np.testing.assert_array_equal(column.codes(pd.Series(values)), want)
    ints = np.array([-3, 0, 1, 2, 4, 7, 8, -4], dtype=np.int64)
    np.testing.assert_array_equal(column.codes(pd.Series(ints)),
                                  pd.Index(levels).get_indexer(pd.Index(ints.astype(float))))
    assert column.labels == tuple(
        str(int(v)) if float(v).is_integer() else repr(float(v)) for v in levels
    )


@pytest.mark.parametrize(
    ("dataset", "formula", "weights"),
    [
        ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "w"),
        ("Penicillin", "diameter ~ 1 + (1|plate) + (1|sample)", None),
        ("sleepstudy", "Reaction ~ 1 + (1 | Subject) + (0 + Days | Subject)", None),
    ],
)
def test_theta_scale_from_the_reduced_system(dataset, formula, weights) -> None:
    """θ's scale read off the reduced blocks is the in-memory one, computed from Z."""
    from multilevel.dask.fit import system_theta_scale
    from multilevel.optimize import theta_scale

    data = ml.datasets.load(dataset)
    parsed = parsed_formula(formula)
    columns = tuple(dict.fromkeys([*parsed.variables, *([weights] if weights else [])]))
    plan = level_plan(parsed, columns, data.iloc[:0])
    parts = [data.iloc[k::3] for k in range(3)]
    summary = combine_levels([partition_levels(p, plan) for p in parts])
    levels = resolve_levels(summary, data.iloc[:0], plan)
    encoder = build_encoder(parsed, plan, levels, summary, None, weights, None)
    stats = combine_stats([partition_stats(p, encoder) for p in parts])
    system = final_system(stats, np.arange(len(encoder.xnames)))
    memory = pls_system(build_design(parsed, data, weights=weights))
    np.testing.assert_allclose(system_theta_scale(system),
                               theta_scale([t.z for t in memory.terms]), rtol=1e-12)
