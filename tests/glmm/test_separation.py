"""Separation detection: repeated rows are merged without changing the linear program."""

from __future__ import annotations

import numpy as np

from multilevel.glmm.separation import _unique_rows, separated_columns


def test_unique_rows_equal_numpy():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, size=(500, 4)).astype(float)
    rows, counts = _unique_rows(a)
    want, want_counts = np.unique(a, axis=0, return_counts=True)
    np.testing.assert_array_equal(rows, want)
    np.testing.assert_array_equal(counts, want_counts)


def test_separated_column_named_with_repeated_rows():
    rng = np.random.default_rng(2)
    n = 400
    x = rng.integers(0, 4, n).astype(float)
    z = rng.integers(0, 2, n).astype(float)
    y = np.where(x >= 2, 1.0, rng.binomial(1, 0.5, n).astype(float))  # x ≥ 2: all successes
    X = np.column_stack([np.ones(n), (x >= 2).astype(float), z])
    assert separated_columns(X, y, np.ones(n), ["(Intercept)", "high", "z"]) == ["high"]
    y2 = rng.binomial(1, 0.5, n).astype(float)
    assert separated_columns(X, y2, np.ones(n), ["(Intercept)", "high", "z"]) == []
