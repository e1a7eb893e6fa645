"""The compiled one-term objective equals the blocked NumPy objective."""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.lmm import build_system, make_objective, objective
from multilevel.lmm.compiled import single_term_objective

from .test_objective import random_problem


@pytest.mark.parametrize("q", [1, 2, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reml", [True, False])
def test_compiled_equals_numpy(q, weighted, reml):
    X, y, terms, weights = random_problem(40 + q, (q,), (11,), weighted)
    system = build_system(X, y, terms, weights)
    fast = single_term_objective(system, reml)
    assert fast is not None and make_objective(system, reml) is not None
    rng = np.random.default_rng(q)
    for _ in range(6):
        theta = system.layout.start() + rng.normal(scale=0.5, size=system.layout.length)
        theta = np.maximum(theta, system.layout.lower_bounds())
        assert fast(theta) == pytest.approx(objective(system, theta, reml), rel=1e-12)
    # boundary: a zero variance is a valid point
    theta = np.zeros(system.layout.length)
    assert fast(theta) == pytest.approx(objective(system, theta, reml), rel=1e-12)


def test_perfect_fit_and_multi_term_fall_back():
    X, y, terms, _ = random_problem(5, (1,), (6,), False)
    y = X @ np.array([1.0, 2.0, 3.0])  # residual exactly zero at θ = 0
    system = build_system(X, y, terms)
    fast = single_term_objective(system, True)
    assert fast is not None
    assert fast(np.zeros(1)) == objective(system, np.zeros(1), True)
    X, y, terms, _ = random_problem(6, (1, 1), (8, 3), False)
    assert single_term_objective(build_system(X, y, terms), True) is None
