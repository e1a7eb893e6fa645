"""Refits on a new response: the same fit as from scratch, by Newton steps or BOBYQA."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import multilevel as ml
import multilevel.inference.refit as refit_module
from multilevel.inference.refit import design_system, refit, with_response
from multilevel.optimize import OptSummary


@pytest.fixture(scope="module")
def sleep():
    data = ml.datasets.load("sleepstudy")
    return data, ml.fit("Reaction ~ Days + (Days|Subject)", data)


def new_response(m, seed):
    rng = np.random.default_rng(seed)
    return m.fitted.to_numpy() + rng.normal(scale=m.sigma, size=m.fitted.size)


def test_refit_equals_a_fresh_fit(sleep):
    data, m = sleep
    y = new_response(m, 1)
    r = refit(m, y=y)
    fresh = ml.fit("Reaction ~ Days + (Days|Subject)", data.assign(Reaction=y))
    assert r.optsummary.optimizer == "Newton (finite differences)"
    assert r.optsummary.converged and r.optsummary.feval > 0
    assert r.objective <= fresh.objective + 1e-11 * abs(fresh.objective)
    np.testing.assert_allclose(r.theta, fresh.theta, rtol=1e-4)
    np.testing.assert_allclose(r.fixef, fresh.fixef, rtol=1e-8)
    assert r.sigma == pytest.approx(fresh.sigma, rel=1e-7)


def test_bobyqa_takes_over_when_newton_stops(sleep, monkeypatch):
    _, m = sleep
    y = new_response(m, 2)
    newton = refit(m, y=y)

    def stops(system, reml, x0, lower, scale):
        return OptSummary("Newton (finite differences)", x0, x0, math.inf, 10,
                          "the Hessian is not positive definite", False, 0.0, lower)

    monkeypatch.setattr(refit_module, "minimize_local", stops)
    r = refit(m, y=y)
    assert r.optsummary.optimizer == "bobyqa"
    assert r.optsummary.notes[-1].startswith("Newton from the start stopped (the Hessian")
    assert r.optsummary.feval > 10
    assert r.objective == pytest.approx(newton.objective, rel=1e-11)


def test_a_chosen_optimizer_is_used(sleep):
    _, m = sleep
    control = dataclasses.replace(m.options.control, optimizer="newuoa")
    r = refit(m, y=new_response(m, 3), control=control)
    assert r.optsummary.optimizer == "newuoa"


def test_refit_system_keeps_the_design_memos(sleep):
    _, m = sleep
    system = design_system(m)
    new = with_response(system, new_response(m, 4), None)
    for key in ("_weighted_x", "_theta_scale"):
        assert new.__dict__[key] is system.__dict__[key]
    pen = ml.fit("diameter ~ 1 + (1|plate) + (1|sample)", ml.datasets.load("Penicillin"))
    r1 = refit(pen, y=new_response(pen, 5))
    assert "_scalar_structure" in design_system(pen).__dict__
    assert r1.system.__dict__["_scalar_structure"] is design_system(pen).__dict__[
        "_scalar_structure"
    ]


def test_weighted_refits_match_bobyqa(monkeypatch):
    data = ml.datasets.load("sleepstudy")
    w = 1.0 + (np.arange(len(data)) % 3)
    m = ml.fit("Reaction ~ Days + (Days|Subject)", data.assign(w=w), weights="w")
    rng = np.random.default_rng(0)
    ys = [m.fitted.to_numpy() + rng.normal(scale=m.sigma, size=len(data)) / np.sqrt(w)
          for _ in range(12)]
    newton = [refit(m, y=y) for y in ys]
    monkeypatch.setattr(refit_module, "minimize_local", lambda *args: None)  # not applicable
    for y, a in zip(ys, newton, strict=True):
        b = refit(m, y=y)
        assert b.optsummary.optimizer == "bobyqa"
        assert a.objective <= b.objective + 1e-12 * abs(b.objective)
        np.testing.assert_allclose(a.fixef, b.fixef, rtol=1e-7)
    assert sum(a.optsummary.optimizer.startswith("Newton") for a in newton) >= 6
