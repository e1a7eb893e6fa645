"""The exact gradient of the profiled objective (all-scalar-terms models) and fits using it."""

from __future__ import annotations

import dataclasses
import importlib
import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.lmm import build_system, objective
from multilevel.lmm.gradient import has_gradient, use_gradient, value_and_gradient

from .test_objective import random_problem

fit_module = importlib.import_module("multilevel.fit")


def central_difference(system, theta, reml, h=1e-5):
    out = np.empty(theta.size)
    for i in range(theta.size):
        e = np.zeros(theta.size)
        e[i] = h
        out[i] = (objective(system, theta + e, reml) - objective(system, theta - e, reml)) / (2 * h)
    return out


@pytest.mark.parametrize("nlevels,weighted", [((20, 7), False), ((15, 9, 4), True),
                                              ((30, 10, 3), False), ((12, 12), True)])
@pytest.mark.parametrize("reml", [True, False])
def test_gradient_equals_finite_differences(nlevels, weighted, reml):
    X, y, terms, weights = random_problem(sum(nlevels), (1,) * len(nlevels), nlevels, weighted)
    system = build_system(X, y, terms, weights)
    assert has_gradient(system)
    rng = np.random.default_rng(len(nlevels))
    for _ in range(3):
        theta = rng.uniform(0.2, 2.0, size=len(nlevels))
        value, grad = value_and_gradient(system, theta, reml)
        assert value == pytest.approx(objective(system, theta, reml), rel=1e-13)
        np.testing.assert_allclose(grad, central_difference(system, theta, reml),
                                   rtol=1e-5, atol=1e-6)


def test_gradient_is_zero_in_a_direction_at_its_bound():
    X, y, terms, _ = random_problem(3, (1, 1), (20, 7), False)
    system = build_system(X, y, terms)
    theta = np.array([0.0, 0.8])
    _, grad = value_and_gradient(system, theta, True)
    assert grad[0] == 0.0  # the objective is even in a scalar term's θ
    fd = central_difference(system, np.array([1e-3, 0.8]), True, h=1e-6)
    assert abs(fd[0]) < 1e-2 * (1 + abs(fd[1]))
    np.testing.assert_allclose(grad[1], central_difference(system, theta, True)[1], rtol=1e-5)


def test_only_scalar_terms_have_it():
    X, y, terms, _ = random_problem(2, (2, 1), (15, 6), False)
    assert not has_gradient(build_system(X, y, terms))
    X, y, terms, _ = random_problem(2, (1,), (15,), False)
    assert not has_gradient(build_system(X, y, terms))
    X, y, terms, _ = random_problem(2, (1, 1), (20, 7), False)
    assert not use_gradient(build_system(X, y, terms))  # small: compiled objective instead


def crossed_data(seed=1, n=6000, a=600, b=160):
    rng = np.random.default_rng(seed)
    g1 = rng.integers(0, a, n)
    g2 = rng.integers(0, b, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(0, 0.7, a)[g1] + rng.normal(0, 0.4, b)[g2] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "g1": pd.Categorical(g1), "g2": pd.Categorical(g2)})


@pytest.mark.parametrize("reml", [True, False])
def test_large_crossed_fit_uses_the_gradient_and_equals_bobyqa(reml):
    data = crossed_data()
    formula = "y ~ 1 + x + (1|g1) + (1|g2)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast = ml.fit(formula, data, reml=reml)
    slow = ml.fit(formula, data, reml=reml, control={"gradient": False})
    assert use_gradient(fast.system)
    assert fast.optsummary.optimizer == "Newton (log θ)"
    assert slow.optsummary.optimizer == "bobyqa"
    assert fast.optsummary.feval < slow.optsummary.feval / 2
    assert fast.objective <= slow.objective + 1e-9 * abs(slow.objective)
    np.testing.assert_allclose(fast.theta, slow.theta, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fast.fixef, slow.fixef, rtol=1e-7)
    assert fast.convergence.ok
    np.testing.assert_allclose(fast.convergence.hessian, slow.convergence.hessian, rtol=2e-3)


def stopping_early(real):
    def stops_early(*args, **kwargs):
        out = real(*args, **kwargs)
        return dataclasses.replace(out, x=out.x0, converged=False, returnvalue="ABNORMAL")

    return stops_early


def test_lbfgsb_takes_over_when_newton_does_not_converge(monkeypatch):
    data = crossed_data(seed=2)
    formula = "y ~ 1 + x + (1|g1) + (1|g2)"
    newton = ml.fit(formula, data)
    monkeypatch.setattr(fit_module, "minimize_newton", stopping_early(fit_module.minimize_newton))
    m = ml.fit(formula, data)
    assert m.optsummary.optimizer == "L-BFGS-B"
    assert m.optsummary.notes == ("Newton on log θ stopped (ABNORMAL); L-BFGS-B continued",)
    assert m.optsummary.x0 is not None and m.convergence.ok
    assert m.objective == pytest.approx(newton.objective, rel=1e-12)
    np.testing.assert_allclose(m.theta, newton.theta, rtol=1e-5)


def test_singular_crossed_fit_leaves_newton_for_lbfgsb():
    rng = np.random.default_rng(7)
    n, a, b = 6000, 600, 160
    g1, g2 = rng.integers(0, a, n), rng.integers(0, b, n)
    y = 1 + rng.normal(0, 0.7, a)[g1] + rng.normal(size=n)  # no g2 variance at all
    data = pd.DataFrame({"y": y, "g1": pd.Categorical(g1), "g2": pd.Categorical(g2)})
    formula = "y ~ 1 + (1|g1) + (1|g2)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = ml.fit(formula, data, reml=False)
        slow = ml.fit(formula, data, reml=False, control={"gradient": False})
    assert fast.optsummary.optimizer in ("L-BFGS-B", "bobyqa")
    assert fast.optsummary.notes[-1].startswith("Newton on log θ stopped")
    assert fast.objective <= slow.objective + 1e-9 * abs(slow.objective)
    np.testing.assert_allclose(fast.theta, slow.theta, atol=2e-3)


def test_bobyqa_takes_over_when_lbfgsb_does_not_converge(monkeypatch):
    data = crossed_data(seed=2)
    formula = "y ~ 1 + x + (1|g1) + (1|g2)"
    monkeypatch.setattr(fit_module, "minimize_newton", stopping_early(fit_module.minimize_newton))
    monkeypatch.setattr(
        fit_module, "minimize_gradient", stopping_early(fit_module.minimize_gradient)
    )
    m = ml.fit(formula, data)
    ref = ml.fit(formula, data, control={"gradient": False})
    assert m.optsummary.optimizer == "bobyqa"
    assert any("BOBYQA continued" in note for note in m.optsummary.notes)
    assert m.objective == pytest.approx(ref.objective, rel=1e-10)


def test_user_optimizer_is_respected():
    data = crossed_data(seed=3, n=3000, a=300, b=120)
    m = ml.fit("y ~ 1 + x + (1|g1) + (1|g2)", data, control={"optimizer": "newuoa"})
    assert m.optsummary.optimizer == "newuoa"



def test_gradient_fit_reuses_its_last_factor_and_estimates(monkeypatch):
    from multilevel.lmm import estimates, update_factor

    data = crossed_data(seed=4)
    calls = []
    real = fit_module.update_factor
    monkeypatch.setattr(fit_module, "update_factor", lambda *a: calls.append(1) or real(*a))
    m = ml.fit("y ~ 1 + x + (1|g1) + (1|g2)", data)
    assert m.optsummary.optimizer == "Newton (log θ)"
    assert calls == []  # the optimizer's last evaluation was at the optimum
    fresh = estimates(m.system, update_factor(m.system, m.theta), True)
    # the same numbers (up to BLAS's summation order, which differs outside a fit)
    np.testing.assert_allclose(m.estimates.beta, fresh.beta, rtol=1e-13)
    assert m.estimates.sigma == pytest.approx(fresh.sigma, rel=1e-13)
    for u, v in zip(m.estimates.u, fresh.u, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-11, atol=1e-14)
