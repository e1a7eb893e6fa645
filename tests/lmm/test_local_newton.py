"""Finite-difference Newton on the compiled objectives (refits from a nearby start)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.inference.refit import design_system, with_response
from multilevel.lmm import make_objective
from multilevel.lmm.compiled import compiled_kernel
from multilevel.lmm.local_newton import _problem, minimize_local
from multilevel.optimize import minimize, theta_scale

pytest.importorskip("numba")

MODELS = [
    ("sleepstudy", "Reaction ~ Days + (Days|Subject)", 0),
    ("Penicillin", "diameter ~ 1 + (1|plate) + (1|sample)", 1),
    ("Dyestuff", "Yield ~ 1 + (1|Batch)", 0),
]


def bootstrap_systems(name, formula, n, seed=3, reml=True):
    data = ml.datasets.load(name)
    m = ml.fit(formula, data, reml=reml)
    system = design_system(m)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        y = m.fitted.to_numpy() + rng.normal(scale=m.sigma, size=len(data))
        yield m, with_response(system, y, None)


@pytest.mark.parametrize(("name", "formula", "kind"), MODELS)
def test_objective_rows_equal_the_objective(name, formula, kind):
    m, system = next(bootstrap_systems(name, formula, 1))
    problem = _problem(system)
    assert problem is not None and problem[0] == kind
    _, single, scalar, xyxy, nobs = problem
    rng = np.random.default_rng(0)
    points = np.abs(m.theta + 0.1 * rng.normal(size=(5, m.theta.size)))
    rows = compiled_kernel("objective_rows")(
        kind, points, single, scalar, xyxy, nobs, True, float(system.log_weights)
    )
    fun = make_objective(system, True)
    np.testing.assert_allclose(rows, [fun(p) for p in points], rtol=1e-14)


@pytest.mark.parametrize(("name", "formula", "kind"), MODELS)
def test_reaches_bobyqas_optimum_from_the_fitted_theta(name, formula, kind):
    converged = 0
    for m, system in bootstrap_systems(name, formula, 40):
        lower = system.layout.lower_bounds()
        scale = theta_scale([t.z for t in system.terms])
        out = minimize_local(system, True, m.theta, lower, scale)
        assert out is not None
        ref = minimize(make_objective(system, True), m.theta, lower, m.options.control, scale=scale)
        assert out.optimizer == "Newton (finite differences)" and out.feval > 0
        if not out.converged:
            continue
        converged += 1
        assert out.fmin == pytest.approx(make_objective(system, True)(out.x), rel=1e-15)
        assert abs(out.fmin - ref.fmin) <= 1e-11 * abs(ref.fmin)
        np.testing.assert_allclose(out.x, ref.x, rtol=2e-4, atol=2e-5)
    assert converged >= 25  # the rest (singular or near-boundary refits) go to BOBYQA


def test_stops_short_of_a_boundary_optimum():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(8), 6)
    y = rng.normal(size=g.size)  # no group variance: the optimum is θ = 0
    data = pd.DataFrame({"y": y, "g": pd.Categorical(g)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.fit("y ~ 1 + (1|g)", data)
    system = design_system(m)
    out = minimize_local(system, True, np.array([0.5]), system.layout.lower_bounds(),
                         np.ones(1))
    assert out is not None and not out.converged
    assert "bound" in out.returnvalue or "positive definite" in out.returnvalue


def test_not_applicable_without_a_compiled_kernel():
    data = ml.datasets.load("sleepstudy")
    m = ml.fit("Reaction ~ Days + (Days|Subject) + (1|Days)", data)  # general blocked path
    system = design_system(m)
    out = minimize_local(system, True, m.theta, system.layout.lower_bounds(),
                         np.ones(m.theta.size))
    assert out is None  # not applicable: the caller runs BOBYQA


def test_stencil_newton_is_exact_on_a_quadratic():
    stencil_newton = compiled_kernel("stencil_newton")
    a = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
    b = np.array([1.0, -2.0, 0.5])
    z, h = np.array([0.3, 0.1, -0.2]), 1e-3

    def f(x):
        return 0.5 * x @ a @ x - b @ x

    eye = np.eye(3)
    pts = [z] + [z + h * e for e in eye] + [z - h * e for e in eye]
    pts += [z + h * (eye[i] + eye[j]) for i, j in zip(*np.triu_indices(3, 1), strict=True)]
    g, p, ok = stencil_newton(np.array([f(x) for x in pts]), 3, h)
    assert ok
    np.testing.assert_allclose(g, a @ z - b, rtol=1e-8)
    np.testing.assert_allclose(z + p, np.linalg.solve(a, b), rtol=1e-6)
    _, _, ok = stencil_newton(np.array([-f(x) for x in pts]), 3, h)  # concave: refused
    assert not ok
