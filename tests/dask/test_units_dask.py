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
