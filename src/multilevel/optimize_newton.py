"""Quasi-Newton minimization on log θ, for the profiled objective of scalar-term models.

The large crossed models with one column per term (InstEval) are fitted with the exact
gradient of :mod:`multilevel.lmm.gradient`, each evaluation costing tens of milliseconds. On
θ itself the profiled objective is far from quadratic between a moment start and the optimum:
L-BFGS-B's first step overshoots to several times θ and its line search spends evaluations
coming back. On log θ the objective is close to quadratic, so Newton steps from a Hessian
taken once by forward differences (of the gradient, or of objective values for up to
:data:`MAX_VALUE_HESSIAN` parameters), then kept current by BFGS updates, converge in a few
steps.

Measured on InstEval from the moment start: 6 gradient evaluations and 3 objective values for
the first Hessian, against L-BFGS-B's 10 gradient evaluations, to the same objective
(237585.5534151691 against ...694); the optimizer's time went from about 0.75 to 0.42 s.

The method needs every θ_j > 0. It gives up, with ``converged`` False, when a θ_j heads for the
boundary (a singular fit, whose log goes to -∞), when a step finds no decrease, or on
``maxeval``; the caller then continues with L-BFGS-B, which handles bounds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from multilevel.numdiff import hessian_from_gradients, hessian_from_values
from multilevel.optimize import OptimizerControl, OptSummary
from multilevel.optimize_gradient import FTOL, GTOL
from multilevel.threads import blas_threads

FloatArray = NDArray[np.float64]

#: Forward-difference step on log θ for the first Hessian.
FD_STEP = 1e-3
#: Longest step on log θ (a factor e² on θ): a trust cap where the Hessian is poor.
MAX_STEP = 2.0
#: Give up (leave it to L-BFGS-B) when θ_j ∘ d_j falls below this: the fit may be singular.
BOUNDARY = 1e-4
#: Stop without another evaluation when the quadratic model promises a decrease below this,
#: relative to f. Far below FTOL: on InstEval, stopping at FTOL's 2.4e-8 left the objective
#: 1.1e-8 above L-BFGS-B's, while one more step brings it to lme4's.
MODEL_TOL = 1e-15
#: Up to this many parameters the first Hessian comes from objective values alone (k + k(k-1)/2
#: of them, with the exact gradient at the start) when the objective is given: on InstEval one
#: gradient evaluation costs about 2.4 objective evaluations (the inverse of the dense block).
MAX_VALUE_HESSIAN = 3
#: Step halvings before a direction is declared without decrease.
MAX_HALVINGS = 30


class _GiveUp(Exception):
    """The method cannot go on (reason in the message)."""


def minimize_newton(
    fun_grad: Callable[[FloatArray], tuple[float, FloatArray]],
    x0: FloatArray,
    control: OptimizerControl,
    scale: FloatArray,
    fun: Callable[[FloatArray], float] | None = None,
) -> OptSummary:
    """Minimize over θ > 0 by quasi-Newton steps on log θ.

    Parameters
    ----------
    fun_grad
        Objective and its gradient at θ.
    x0
        Starting value, every element positive.
    control
        Its ``maxeval`` bounds the evaluations.
    scale
        Positive scale d per parameter: the boundary test is made on θ ∘ d.
    fun
        The objective alone, cheaper than ``fun_grad``; with at most
        :data:`MAX_VALUE_HESSIAN` parameters the first Hessian is taken from its values.

    Returns
    -------
    OptSummary
        ``optimizer`` is "Newton (log θ)"; ``converged`` is True when a step's decrease fell
        below :data:`~multilevel.optimize_gradient.FTOL` relative to f, the quadratic model's
        below :data:`MODEL_TOL`, or the gradient on log θ below
        :data:`~multilevel.optimize_gradient.GTOL`. ``x`` is the best point evaluated.
    """
    x0 = np.asarray(x0, dtype=float)
    d = np.asarray(scale, dtype=float)
    count = 0
    best_x, best_f = x0.copy(), math.inf

    def at(z: FloatArray) -> FloatArray:
        nonlocal count
        if count >= control.maxeval:
            raise _GiveUp(f"maxeval ({control.maxeval}) reached")
        count += 1
        x = np.exp(z)
        if np.any(x * d < BOUNDARY):
            raise _GiveUp("a parameter approaches 0 (the fit may be singular)")
        return x

    def on_log(z: FloatArray) -> tuple[float, FloatArray]:
        nonlocal best_x, best_f
        x = at(z)
        f, g = fun_grad(x)
        if not (math.isfinite(f) and np.all(np.isfinite(g))):
            return math.inf, np.zeros_like(z)
        if f < best_f:
            best_f, best_x = f, x.copy()
        return f, np.asarray(g, dtype=float) * x  # df/dlog θ = θ df/dθ

    value: Callable[[FloatArray], float] | None = None
    if fun is not None and x0.size <= MAX_VALUE_HESSIAN:
        objective = fun

        def value(z: FloatArray) -> float:
            return float(objective(at(z)))

    start = time.perf_counter()
    if np.any(x0 <= 0) or not np.all(np.isfinite(x0)):
        message, ok = "a starting value is not positive", False
    else:
        try:
            with blas_threads():
                message = _newton(on_log, np.log(x0), value)
            ok = True
        except _GiveUp as stop:
            message, ok = str(stop), False
    return OptSummary(
        optimizer="Newton (log θ)",
        x0=x0,
        x=best_x,
        fmin=best_f,
        feval=count,
        returnvalue=message,
        converged=ok and math.isfinite(best_f),
        seconds=time.perf_counter() - start,
        lower=np.zeros_like(x0),
    )


def _newton(
    fg: Callable[[FloatArray], tuple[float, FloatArray]],
    z: FloatArray,
    value: Callable[[FloatArray], float] | None,
) -> str:
    """Iterate from z to convergence; the message says which test stopped it."""
    f, g = fg(z)
    if not math.isfinite(f):
        raise _GiveUp("the objective is not finite at the start")
    fd_steps = np.full(z.size, FD_STEP)
    if value is None:
        h = hessian_from_gradients(lambda e: fg(e)[1], z, g, fd_steps)
    else:
        h = hessian_from_values(value, z, f, g, fd_steps)
        if not np.all(np.isfinite(h)):
            raise _GiveUp("the objective is not finite near the start")
    while True:
        if np.max(np.abs(g)) <= GTOL:
            return "gradient below GTOL"
        p = _newton_step(h, g)
        if -0.5 * float(g @ p) <= MODEL_TOL * max(abs(f), 1.0):
            return "predicted decrease below MODEL_TOL"
        t, f_new, g_new = 1.0, math.inf, g
        for _ in range(MAX_HALVINGS):
            f_new, g_new = fg(z + t * p)
            if f_new <= f + 1e-4 * t * float(g @ p):
                break
            t *= 0.5
        else:
            raise _GiveUp("no decrease along the Newton direction")
        s, y = t * p, g_new - g
        if float(s @ y) > 0:  # BFGS update of the Hessian on log θ
            hs = h @ s
            h = h - np.outer(hs, hs) / float(s @ hs) + np.outer(y, y) / float(s @ y)
        decrease = f - f_new
        z, f, g = z + s, f_new, g_new
        if decrease <= FTOL * max(abs(f), 1.0):
            return "relative decrease below FTOL"


def _newton_step(h: FloatArray, g: FloatArray) -> FloatArray:
    """-H⁻¹g with H's eigenvalues floored (a descent direction), capped at MAX_STEP."""
    w, v = np.linalg.eigh(h)
    top = float(np.max(np.abs(w))) if w.size else 1.0
    w = np.maximum(w, 1e-8 * top if top > 0 else 1.0)
    p = -(v @ ((v.T @ g) / w))
    norm = float(np.linalg.norm(p))
    return p * (MAX_STEP / norm) if norm > MAX_STEP else p


__all__ = ["minimize_newton"]
