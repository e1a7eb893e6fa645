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


def test_start_with_weights_and_a_slope_term_matches_the_moments_of_the_data():
    X, y, terms, weights = random_problem(3, (1, 1), (40, 9), True)
    system = build_system(X, y, terms, weights)
    scale = theta_scale([t.z for t in system.terms])
    got = moment_start(system, scale)
    # the same moments from the data themselves
    sw = np.sqrt(weights)
    xw, yw = X * sw[:, None], y * sw
    beta = np.linalg.lstsq(xw, yw, rcond=None)[0]
    r = yw - xw @ beta
    s2 = r @ r / (len(y) - X.shape[1])
    want = []
    for t in system.terms:
        z = t.z[:, 0]
        szz = np.bincount(t.index, z * z, t.nlevels)
        b = np.bincount(t.index, z * r, t.nlevels) / szz
        want.append(np.sqrt(max(np.mean(b * b) / s2 - np.mean(1 / szz), 0.0)))
    want = np.clip(np.array(want) * scale, LOWEST, HIGHEST) / scale
    np.testing.assert_allclose(got, want, rtol=1e-9)


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
