"""The exact gradient of the Laplace objective and the GLMM fits that use it."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.glmm.family import get_family
from multilevel.glmm.gradient import has_gradient, laplace_gradient
from multilevel.glmm.objective import GLMMObjective

glmm_fit = importlib.import_module("multilevel.glmm.fit")


def simulated(family: str, seed: int = 1, n: int = 1500, levels=(120, 25, 6)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = [rng.integers(0, nl, n) for nl in levels]
    x = rng.normal(size=n)
    eta = 0.3 + 0.5 * x + sum(rng.normal(0, s, nl)[gi] for gi, nl, s in
                              zip(g, levels, (0.8, 0.5, 0.3), strict=True))
    exposure = rng.uniform(0.5, 2.0, n)
    if family == "poisson":
        y = rng.poisson(exposure * np.exp(eta))
    else:
        y = rng.binomial(1, 1.0 / (1.0 + np.exp(-eta)))
    cols = {f"g{j}": pd.Categorical(gi) for j, gi in enumerate(g)}
    return pd.DataFrame({"y": y, "x": x, "logexp": np.log(exposure), **cols})


def problem_of(formula, data, family, link=None):
    problem, _ = glmm_fit._problem(formula, data, get_family(family, link), None, None, None,
                                   "omit")
    return problem


CASES = [
    ("y ~ x + (1|g0) + (1|g1)", "binomial"),
    ("y ~ x + (1|g0) + (1|g1) + (1|g2)", "binomial"),
    ("y ~ x + offset(logexp) + (1|g0) + (1|g1) + (1|g2)", "poisson"),
]


@pytest.mark.parametrize("formula,family", CASES)
def test_gradient_equals_finite_differences(formula, family):
    data = simulated(family)
    problem = problem_of(formula, data, family)
    assert has_gradient(problem)
    k = problem.layout.length
    rng = np.random.default_rng(k)
    for _ in range(2):
        x = np.concatenate([rng.uniform(0.3, 1.2, k), [0.2, 0.4]])
        state = GLMMObjective(problem, 1).state(x)
        grad = laplace_gradient(problem, state, x[:k])
        fd = np.empty(x.size)
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = 1e-5
            fd[i] = (GLMMObjective(problem, 1)(x + e) - GLMMObjective(problem, 1)(x - e)) / 2e-5
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-4)


def test_gradient_in_theta_is_zero_on_its_bound():
    data = simulated("binomial", seed=2)
    problem = problem_of("y ~ x + (1|g0) + (1|g1)", data, "binomial")
    x = np.array([0.0, 0.7, 0.2, 0.4])
    grad = laplace_gradient(problem, GLMMObjective(problem, 1).state(x), x[:2])
    assert grad[0] == 0.0 and grad[1] != 0.0


def test_which_models_have_it():
    data = simulated("binomial", seed=3)
    assert not has_gradient(problem_of("y ~ x + (1|g0)", data, "binomial"))  # compiled one-term
    assert not has_gradient(problem_of("y ~ x + (1|g0) + (1|g1)", data, "binomial", "probit"))
    assert not has_gradient(problem_of("y ~ x + (x|g0) + (1|g1)", data, "binomial"))


@pytest.mark.parametrize("formula,family", CASES[1:])
def test_fit_with_the_gradient_equals_bobyqa(formula, family):
    data = simulated(family, seed=4)
    fast = ml.fit(formula, data, family=family)
    slow = ml.fit(formula, data, family=family, control={"gradient": False})
    assert fast.optsummary.optimizer == "L-BFGS-B"
    assert slow.optsummary.optimizer == "bobyqa"
    assert fast.optsummary.feval < slow.optsummary.feval / 2
    assert fast.objective <= slow.objective + 1e-8 * abs(slow.objective)
    np.testing.assert_allclose(fast.fixef, slow.fixef, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast.theta, slow.theta, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(fast.se, slow.se, rtol=1e-3)
    assert fast.warnings == slow.warnings


def test_bobyqa_repeats_the_fit_when_lbfgsb_does_not_converge(monkeypatch):
    data = simulated("binomial", seed=5)
    formula = "y ~ x + (1|g0) + (1|g1)"
    real = glmm_fit.minimize_gradient

    def stops_early(*args, **kwargs):
        out = real(*args, **kwargs)
        return dataclasses.replace(out, x=out.x0, fmin=np.inf, converged=False,
                                   returnvalue="ABNORMAL")

    monkeypatch.setattr(glmm_fit, "minimize_gradient", stops_early)
    m = ml.fit(formula, data, family="binomial")
    ref = ml.fit(formula, data, family="binomial", control={"gradient": False})
    assert m.optsummary.optimizer == "bobyqa"
    assert any("repeated with BOBYQA" in note for note in m.optsummary.notes)
    assert m.objective == pytest.approx(ref.objective, rel=1e-12)


def test_final_state_is_the_last_evaluation_where_it_was_made():
    problem = problem_of(*CASES[0][:1], simulated("binomial"), "binomial")
    obj = GLMMObjective(problem, 1)
    x = np.array([0.8, 0.4, 0.2, 0.4])
    value, _ = obj.value_and_gradient(x)
    last = obj.last
    assert obj.final_state(x) is last  # no PIRLS again at the optimizer's last point
    assert obj.final_state(x).laplace == value
    other = obj.final_state(x + 0.01)  # elsewhere: a new state
    assert other is not last and other is obj.last
    np.testing.assert_allclose(obj.final_state(x).laplace, value, rtol=1e-12)
