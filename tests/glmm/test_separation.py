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


def test_mixed_rows_that_span_skip_the_program_and_agree_with_it(monkeypatch):
    """Distinct rows with both outcomes and full column rank rule separation out; where they
    do not span (a separating column), the linear program still decides."""
    from multilevel.glmm import separation

    rng = np.random.default_rng(3)
    n = 300
    x = rng.integers(0, 5, n).astype(float)
    X = np.column_stack([np.ones(n), x, x**2])
    y = rng.binomial(1, 0.5, n).astype(float)
    sign = np.where(y >= 1, 1.0, -1.0)
    assert separation._mixed_rows_span(X, sign)
    calls = []
    real = separation.linprog
    monkeypatch.setattr(separation, "linprog", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert separated_columns(X, y, np.ones(n), ["a", "b", "c"]) == []
    assert calls == []  # decided without the program
    # x = 4 only with successes, and a column marking it: the mixed rows (x < 4) have 0 there
    X_sep = np.column_stack([np.ones(n), x, (x == 4).astype(float)])
    y_sep = np.where(x == 4, 1.0, y)
    assert not separation._mixed_rows_span(X_sep, np.where(y_sep >= 1, 1.0, -1.0))
    assert separated_columns(X_sep, y_sep, np.ones(n), ["a", "b", "four"]) == ["four"]
    assert calls  # the program ran
    # proportions strictly inside (0, 1) count as both outcomes
    sign = np.zeros(n)
    assert separation._mixed_rows_span(X, sign)
    assert not separation._mixed_rows_span(X[:, :2].repeat(2, axis=1), sign)  # rank 2 of 4
