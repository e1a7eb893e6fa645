"""The blocked-Cholesky objective against a direct dense computation of the likelihood.

For any θ, the profiled deviance must equal -2 log-likelihood computed from the marginal
covariance V = σ²(W⁻¹ + ZΛΛᵀZᵀ) with β and σ at their profiled values. Random designs cover
vector-valued first terms, crossed and nested later terms, and weights.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from multilevel.lmm import TermBlock, build_system, estimates, objective, update_factor


def dense_objective(X, y, terms, theta, layout, weights, reml):
    n, p = X.shape
    lams = layout.factors(theta)
    zs = []
    for t, lam in zip(terms, lams, strict=True):
        z = t.matrix().toarray()
        big = np.kron(np.eye(t.nlevels), lam)
        zs.append(z @ big)
    zl = np.hstack(zs)
    w = np.ones(n) if weights is None else weights
    v0 = np.diag(1.0 / w) + zl @ zl.T
    vinv = np.linalg.inv(v0)
    xtv = X.T @ vinv
    beta = np.linalg.solve(xtv @ X, xtv @ y)
    r = y - X @ beta
    r2 = float(r @ vinv @ r)
    _, logdet = np.linalg.slogdet(v0)
    if reml:
        _, ldx = np.linalg.slogdet(xtv @ X)
        s2 = r2 / (n - p)
        return (n - p) * math.log(2 * math.pi * s2) + logdet + ldx + (n - p), beta
    s2 = r2 / n
    return n * math.log(2 * math.pi * s2) + logdet + n, beta


def random_problem(seed: int, qs: tuple[int, ...], nlevels: tuple[int, ...], weighted: bool):
    rng = np.random.default_rng(seed)
    n = 120
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = X @ np.array([1.0, 2.0, -1.0]) + rng.normal(size=n)
    terms = []
    for q, nl in zip(qs, nlevels, strict=True):
        index = rng.integers(0, nl, size=n)
        index[:nl] = np.arange(nl)  # every level observed
        z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(q - 1)])
        terms.append(TermBlock(index.astype(np.intp), z, nl))
    terms.sort(key=lambda t: -t.nlevels)
    weights = rng.uniform(0.5, 2.0, size=n) if weighted else None
    return X, y, terms, weights


CASES = [
    ((1,), (10,), False),
    ((2,), (12,), False),
    ((3,), (8,), True),
    ((1, 1), (20, 7), False),
    ((2, 1), (15, 6), True),
    ((1, 2), (15, 6), False),
    ((2, 2, 1), (14, 9, 4), True),
    ((1, 1, 1), (30, 10, 3), False),
]


@pytest.mark.parametrize("qs,nlevels,weighted", CASES)
@pytest.mark.parametrize("reml", [True, False])
def test_blocked_equals_dense(qs, nlevels, weighted, reml):
    X, y, terms, weights = random_problem(len(qs) * 7 + sum(nlevels), qs, nlevels, weighted)
    system = build_system(X, y, terms, weights)
    rng = np.random.default_rng(1)
    for _ in range(3):
        theta = system.layout.start() + rng.normal(scale=0.3, size=system.layout.length)
        theta = np.maximum(theta, system.layout.lower_bounds())
        want, beta = dense_objective(X, y, terms, theta, system.layout, weights, reml)
        got = objective(system, theta, reml)
        assert got == pytest.approx(want, rel=1e-10)
        est = estimates(system, update_factor(system, theta), reml)
        np.testing.assert_allclose(est.beta, beta, rtol=1e-8, atol=1e-10)


def test_conditional_modes_solve_the_penalized_system():
    X, y, terms, weights = random_problem(3, (2, 1), (15, 6), True)
    system = build_system(X, y, terms, weights)
    theta = np.array([0.8, 0.2, 0.5, 1.3])
    est = estimates(system, update_factor(system, theta), reml=False)
    lams = system.layout.factors(theta)
    zl = np.hstack(
        [
            t.matrix().toarray() @ np.kron(np.eye(t.nlevels), lam)
            for t, lam in zip(terms, lams, strict=True)
        ]
    )
    sw = np.sqrt(weights)
    a = np.hstack([zl, X]) * sw[:, None]
    penalty = np.zeros((a.shape[1], a.shape[1]))
    m = zl.shape[1]
    penalty[:m, :m] = np.eye(m)
    sol = np.linalg.solve(a.T @ a + penalty, a.T @ (y * sw))
    u = np.concatenate([ui.ravel() for ui in est.u])
    np.testing.assert_allclose(u, sol[:m], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(est.beta, sol[m:], rtol=1e-8)


def test_zero_theta_gives_the_linear_model():
    X, y, terms, _ = random_problem(5, (1,), (10,), False)
    system = build_system(X, y, terms)
    _, rss = np.linalg.lstsq(X, y, rcond=None)[:2]
    n = len(y)
    want = n * (1 + math.log(2 * math.pi * float(rss[0]) / n))
    assert objective(system, np.zeros(1), reml=False) == pytest.approx(want, rel=1e-12)
