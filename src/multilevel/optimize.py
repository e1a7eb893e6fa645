"""Derivative-free minimization of a profiled objective over θ, with an optimizer record.

BOBYQA (Powell 2009) from NLopt is the default, as in lme4 (``nloptwrap``) and MixedModels.jl;
NEWUOA and Nelder-Mead are there for ``allfit``-style cross-checks (NEWUOA only when θ has no
active bounds). Tolerances are tighter than lme4's defaults so that objectives are converged to
about 1e-10 relative: likelihood-ratio tests subtract them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import nlopt
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_ALGORITHMS = {
    "bobyqa": nlopt.LN_BOBYQA,
    "newuoa": nlopt.LN_NEWUOA_BOUND,
    "neldermead": nlopt.LN_NELDERMEAD,
    "cobyla": nlopt.LN_COBYLA,
}

_RETURN_CODES = {
    nlopt.SUCCESS: "success",
    nlopt.STOPVAL_REACHED: "stopval reached",
    nlopt.FTOL_REACHED: "ftol reached",
    nlopt.XTOL_REACHED: "xtol reached",
    nlopt.MAXEVAL_REACHED: "maximum number of evaluations reached",
    nlopt.MAXTIME_REACHED: "maximum time reached",
    nlopt.ROUNDOFF_LIMITED: "roundoff limited",
    nlopt.FAILURE: "failure",
}


@dataclass(frozen=True)
class OptimizerControl:
    """Settings of the optimizer.

    Attributes
    ----------
    optimizer
        "bobyqa" (default), "newuoa", "neldermead" or "cobyla".
    ftol_rel, ftol_abs, xtol_abs
        Stopping tolerances on the objective (relative, absolute) and on θ (absolute).
    maxeval
        Maximum number of objective evaluations.
    initial_step
        Initial trust-region radius / simplex size.
    restart
        After convergence, restart once from the optimum with half the initial step and keep
        the better point: BOBYQA's model can stop short on flat ridges (and lme4 restarts at
        boundaries for the same reason).
    """

    optimizer: str = "bobyqa"
    ftol_rel: float = 1e-14
    ftol_abs: float = 0.0
    xtol_abs: float = 1e-9
    maxeval: int = 100_000
    initial_step: float = 0.2
    restart: bool = True


@dataclass(frozen=True)
class OptSummary:
    """What the optimizer did: the record kept on every result.

    Attributes
    ----------
    optimizer
        Name of the algorithm.
    x0, x
        Starting point and final θ.
    fmin
        Objective at ``x``.
    feval
        Number of objective evaluations.
    returnvalue
        The optimizer's own return message.
    converged
        True when the optimizer stopped on a tolerance (not on maxeval or a failure).
    seconds
        Wall-clock time spent in the optimizer.
    """

    optimizer: str
    x0: FloatArray
    x: FloatArray
    fmin: float
    feval: int
    returnvalue: str
    converged: bool
    seconds: float
    lower: FloatArray = field(repr=False, default_factory=lambda: np.zeros(0))


def minimize(
    fun: Callable[[FloatArray], float],
    x0: FloatArray,
    lower: FloatArray,
    control: OptimizerControl | None = None,
    step: FloatArray | None = None,
) -> OptSummary:
    """Minimize ``fun`` over θ ≥ ``lower`` from ``x0``.

    Parameters
    ----------
    fun
        Objective, a pure function of θ; it may return ``inf`` where undefined.
    x0
        Starting value.
    lower
        Lower bounds (``-inf`` for free elements).
    control
        Optimizer settings.
    step
        Initial step per parameter (default: ``control.initial_step`` for all).

    Returns
    -------
    OptSummary
    """
    control = control or OptimizerControl()
    if control.optimizer not in _ALGORITHMS:
        raise ValueError(
            f"unknown optimizer {control.optimizer!r}; choose one of {sorted(_ALGORITHMS)}"
        )
    start = time.perf_counter()
    x0 = np.asarray(x0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    steps = np.full(x0.size, control.initial_step) if step is None else np.asarray(step, float)
    x, fmin, nev, code = _run(fun, x0, lower, control, steps)
    if control.restart and x.size:
        x2, f2, nev2, code2 = _run(fun, x, lower, control, 0.5 * steps)
        nev += nev2
        if f2 <= fmin:
            x, fmin, code = x2, f2, code2
    ok = code in (nlopt.SUCCESS, nlopt.FTOL_REACHED, nlopt.XTOL_REACHED, nlopt.ROUNDOFF_LIMITED)
    return OptSummary(
        optimizer=control.optimizer,
        x0=x0,
        x=x,
        fmin=fmin,
        feval=nev,
        returnvalue=_RETURN_CODES.get(code, str(code)),
        converged=bool(ok and math.isfinite(fmin)),
        seconds=time.perf_counter() - start,
        lower=lower,
    )


def _run(
    fun: Callable[[FloatArray], float],
    x0: FloatArray,
    lower: FloatArray,
    control: OptimizerControl,
    steps: FloatArray,
) -> tuple[FloatArray, float, int, int]:
    n = x0.size
    count = 0
    best_x = x0.copy()
    best_f = math.inf

    def wrapped(x: FloatArray, grad: FloatArray) -> float:
        nonlocal count, best_x, best_f
        count += 1
        f = fun(x)
        if not math.isfinite(f):
            return 1e300
        if f < best_f:
            best_f, best_x = f, x.copy()
        return f

    if n == 0:
        f0 = fun(x0)
        return x0, f0, 1, nlopt.SUCCESS
    algo = _ALGORITHMS[control.optimizer]
    opt = nlopt.opt(algo, n)
    opt.set_min_objective(wrapped)
    opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -np.inf))
    opt.set_ftol_rel(control.ftol_rel)
    opt.set_ftol_abs(control.ftol_abs)
    opt.set_xtol_abs(control.xtol_abs)
    opt.set_maxeval(control.maxeval)
    opt.set_initial_step(steps)
    start = np.maximum(x0, lower)
    try:
        x = opt.optimize(start)
        code = opt.last_optimize_result()
        f = opt.last_optimum_value()
    except nlopt.RoundoffLimited:
        x, f, code = best_x, best_f, nlopt.ROUNDOFF_LIMITED
    except (RuntimeError, ValueError):
        x, f, code = best_x, best_f, nlopt.FAILURE
    if best_f < f:
        x, f = best_x, best_f
    return np.asarray(x, dtype=float), float(f), count, code
