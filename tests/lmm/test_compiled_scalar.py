"""The compiled objective of all-scalar-terms models equals the blocked objective."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel.lmm.compiled_scalar as cs
from multilevel.lmm import build_system, make_objective, objective

from .test_objective import random_problem

SCALAR = [
    ((1, 1), (20, 7), False),
    ((1, 1), (12, 12), True),
    ((1, 1, 1), (30, 10, 3), False),
    ((1, 1, 1), (25, 9, 4), True),
]


@pytest.mark.parametrize("qs,nlevels,weighted", SCALAR)
@pytest.mark.parametrize("reml", [True, False])
def test_scalar_terms_equals_blocked(qs, nlevels, weighted, reml):
    X, y, terms, weights = random_problem(len(qs) * 5 + sum(nlevels), qs, nlevels, weighted)
    system = build_system(X, y, terms, weights)
    fast = cs.scalar_terms_objective(system, reml)
    assert fast is not None
    rng = np.random.default_rng(sum(nlevels))
    for _ in range(5):
        theta = np.abs(rng.normal(scale=1.0, size=system.layout.length))
        assert fast(theta) == pytest.approx(objective(system, theta, reml), rel=1e-11)
    for theta in (np.zeros(system.layout.length), np.array([0.0] + [1.0] * (len(qs) - 1)),
                  np.array([1.0] + [0.0] * (len(qs) - 1))):
        assert fast(theta) == pytest.approx(objective(system, theta, reml), rel=1e-11)
    assert make_objective(system, reml)(theta) == fast(theta)


def test_only_scalar_terms_with_few_later_levels():
    X, y, terms, _ = random_problem(2, (2, 1), (15, 6), False)
    assert cs.scalar_terms_objective(build_system(X, y, terms), True) is None
    X, y, terms, _ = random_problem(3, (1,), (15,), False)
    assert cs.scalar_terms_objective(build_system(X, y, terms), True) is None
    X, y, terms, _ = random_problem(4, (1, 1), (20, 7), False)
    system = build_system(X, y, terms)
    old = cs.MAX_LATER
    try:
        cs.MAX_LATER = 6
        assert cs.scalar_terms_objective(system, True) is None
    finally:
        cs.MAX_LATER = old


def test_perfect_fit_gives_minus_infinity_not_an_error():
    X, _y, terms, _ = random_problem(5, (1, 1), (10, 4), False)
    system = build_system(X, X[:, 0] * 2.0, terms)  # y in the column space of X: r² = 0
    fast = cs.scalar_terms_objective(system, False)
    assert fast is not None
    assert fast(np.array([0.0, 0.0])) == -np.inf
