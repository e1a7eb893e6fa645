"""The dense small-model objective equals the blocked objective."""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.lmm import build_system, make_objective, objective
from multilevel.lmm.dense import dense_objective, full_matrix

from .test_objective import CASES, random_problem

MULTI = [c for c in CASES if len(c[0]) > 1]


@pytest.mark.parametrize("qs,nlevels,weighted", MULTI)
@pytest.mark.parametrize("reml", [True, False])
def test_dense_equals_blocked(qs, nlevels, weighted, reml):
    X, y, terms, weights = random_problem(len(qs) * 11 + sum(nlevels), qs, nlevels, weighted)
    system = build_system(X, y, terms, weights)
    fast = dense_objective(system, reml)
    assert fast is not None
    rng = np.random.default_rng(sum(qs))
    for _ in range(5):
        theta = system.layout.start() + rng.normal(scale=0.5, size=system.layout.length)
        theta = np.maximum(theta, system.layout.lower_bounds())
        assert fast(theta) == pytest.approx(objective(system, theta, reml), rel=1e-11)
    zero = np.zeros(system.layout.length)
    assert fast(zero) == pytest.approx(objective(system, zero, reml), rel=1e-11)
    assert make_objective(system, reml)(zero) == pytest.approx(fast(zero), rel=1e-11)


def test_full_matrix_is_the_cross_product():
    X, y, terms, weights = random_problem(3, (2, 1), (9, 4), True)
    system = build_system(X, y, terms, weights)
    z = np.hstack([t.matrix().toarray() for t in terms])
    zxy = np.column_stack([z, X, y]) * np.sqrt(weights)[:, None]
    np.testing.assert_allclose(full_matrix(system), zxy.T @ zxy, rtol=1e-12, atol=1e-10)


def test_large_models_use_the_blocked_path():
    X, y, terms, _ = random_problem(4, (1, 1), (20, 7), False)
    system = build_system(X, y, terms)
    import multilevel.lmm.dense as dense

    old = dense.MAX_RANDOM
    try:
        dense.MAX_RANDOM = 10
        assert dense_objective(system, True) is None
    finally:
        dense.MAX_RANDOM = old
