"""Moment-based starting values of θ for the gradient fit of scalar-term models."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.lmm import build_system
from multilevel.lmm.start import HIGHEST, LOWEST, moment_start
from multilevel.optimize import theta_scale

from .test_gradient import crossed_data
from .test_objective import random_problem

fit_module = importlib.import_module("multilevel.fit")


def test_start_is_near_the_estimate_and_the_fit_reaches_the_same_optimum(monkeypatch):
    data = crossed_data(seed=4, n=8000, a=700, b=150)
    formula = "y ~ 1 + x + (1|g1) + (1|g2)"
    m = ml.fit(formula, data)
    scale = theta_scale([t.z for t in m.system.terms])
    start = moment_start(m.system, scale)
    assert start is not None
    assert m.optsummary.optimizer == "Newton (log θ)"
    np.testing.assert_allclose(m.optsummary.x0, start)
    # simulated θ = (0.7, 0.4) (σ = 1); the moments ignore the other term: within 30 %
    np.testing.assert_allclose(start, m.theta, rtol=0.3)
    monkeypatch.setattr(fit_module, "moment_start", lambda system, scale: None)
    from_identity = ml.fit(formula, data)
    np.testing.assert_allclose(from_identity.optsummary.x0, 1.0 / scale)
    assert m.objective == pytest.approx(from_identity.objective, rel=1e-12)
    np.testing.assert_allclose(m.theta, from_identity.theta, rtol=1e-5)
    assert m.optsummary.feval <= from_identity.optsummary.feval


def moments_from_data(X, y, weights, system):
    """The moment equations of :func:`moment_start`, computed from the observations."""
    sw = np.sqrt(weights)
    xw, yw = X * sw[:, None], y * sw
    beta = np.linalg.lstsq(xw, yw, rcond=None)[0]
    r = yw - xw @ beta
    total = r @ r / (len(y) - X.shape[1])
    terms = system.terms  # their z carry √w already
    k = len(terms)
    a, rhs = np.zeros((k + 1, k + 1)), np.zeros(k + 1)
    for j, t in enumerate(terms):
        z = t.z[:, 0]
        szz = np.bincount(t.index, z * z, t.nlevels)
        b = np.bincount(t.index, z * r, t.nlevels) / szz
        rhs[j] = np.mean(b * b)
        a[j, k] = np.mean(1 / szz)
        a[k, j] = np.mean(z * z)
        for m, u in enumerate(terms):
            if m == j:
                a[j, m] = 1.0
                continue
            pair = t.index * u.nlevels + u.index
            cell = np.bincount(pair, z * u.z[:, 0], t.nlevels * u.nlevels)
            per_level = np.sum(cell.reshape(t.nlevels, u.nlevels) ** 2, axis=1)
            a[j, m] = np.mean(per_level / szz**2)
    a[k, k], rhs[k] = 1.0, total
    v = np.linalg.solve(a, rhs)
    return np.sqrt(np.maximum(v[:k], 0) / v[k]), total


def test_start_with_weights_and_a_slope_term_matches_the_moments_of_the_data():
    X, y, terms, weights = random_problem(3, (1, 1), (40, 9), True)
    system = build_system(X, y, terms, weights)
    scale = theta_scale([t.z for t in system.terms])
    got = moment_start(system, scale)
    want, _ = moments_from_data(X, y, weights, system)
    want = np.clip(want * scale, LOWEST, HIGHEST) / scale
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_three_crossed_terms_start_near_the_estimate():
    rng = np.random.default_rng(8)
    n = 8000
    g1, g2, g3 = rng.integers(0, 700, n), rng.integers(0, 150, n), rng.integers(0, 40, n)
    y = (rng.normal(0, 0.8, 700)[g1] + rng.normal(0, 0.5, 150)[g2] + rng.normal(0, 1.2, 40)[g3]
         + rng.normal(size=n))
    data = pd.DataFrame({"y": y, "g1": pd.Categorical(g1), "g2": pd.Categorical(g2),
                         "g3": pd.Categorical(g3)})
    m = ml.fit("y ~ 1 + (1|g1) + (1|g2) + (1|g3)", data, control={"gradient": False})
    scale = theta_scale([t.z for t in m.system.terms])
    start = moment_start(m.system, scale)
    np.testing.assert_allclose(start, m.theta, rtol=0.2)
    X = np.ones((n, 1))
    want, total = moments_from_data(X, y, np.ones(n), m.system)
    np.testing.assert_allclose(start, want, rtol=1e-9)
    # each term alone, against the residual variance (the fallback), starts farther away
    alone = []
    for t in m.system.terms:
        szz = np.bincount(t.index, minlength=t.nlevels).astype(float)
        b = np.bincount(t.index, y - y.mean(), t.nlevels) / szz
        alone.append(np.sqrt(max(np.mean(b * b) / total - np.mean(1 / szz), 0.0)))
    assert np.max(np.abs(np.log(start / m.theta))) < np.max(np.abs(np.log(alone / m.theta)))


def test_start_is_kept_off_zero_and_refused_for_vector_terms():
    rng = np.random.default_rng(5)
    n = 2000
    data = pd.DataFrame({
        "y": rng.normal(size=n),  # no group variation at all
        "x": rng.normal(size=n),
        "g1": pd.Categorical(rng.integers(0, 300, n)),
        "g2": pd.Categorical(rng.integers(0, 120, n)),
    })
    with pytest.warns(ml.SingularFitWarning):
        m = ml.fit("y ~ 1 + (1|g1) + (1|g2)", data, control={"gradient": False})
    scale = theta_scale([t.z for t in m.system.terms])
    start = moment_start(m.system, scale)
    assert start is not None
    assert np.all(start * scale >= LOWEST - 1e-15)
    X, y, terms, _ = random_problem(2, (2, 1), (15, 6), False)
    system = build_system(X, y, terms)
    assert moment_start(system, theta_scale([t.z for t in system.terms])) is None


def test_unsolvable_moments_fall_back_to_each_term_alone():
    import warnings

    from multilevel.lmm.start import _crossed_variances

    rng = np.random.default_rng(9)
    g = rng.integers(0, 50, 1000)
    data = pd.DataFrame({"y": rng.normal(0, 1, 50)[g] + rng.normal(size=1000),
                         "g": pd.Categorical(g), "h": pd.Categorical(g)})  # h is g again
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.fit("y ~ 1 + (1|g) + (1|h)", data, control={"gradient": False})
    system = m.system
    szz = [system.a11[:, 0, 0], np.diagonal(system.zz_dense[(1, 1)])]
    assert _crossed_variances(system, szz, np.ones(2), np.full(2, 0.05), 2.0) is None
    start = moment_start(system, theta_scale([t.z for t in system.terms]))
    assert start is not None and np.all(np.isfinite(start)) and np.all(start > 0)
