"""Derivative-free minimization of a profiled objective over θ, with an optimizer record.

BOBYQA (Powell 2009) from NLopt is the default, as in lme4 (``nloptwrap``) and MixedModels.jl;
NEWUOA and Nelder-Mead are there for ``allfit``-style cross-checks (NEWUOA only when θ has no
active bounds). Tolerances are tighter than lme4's defaults so that objectives are converged to
about 1e-10 relative: likelihood-ratio tests subtract them.

The optimizer can work on a rescaled parameter x' = x ∘ d (``scale=d``): θ of a random slope
whose variable is on scale 1e8 is of order 1e-8, which a fixed initial step and absolute xtol
cannot resolve; :func:`theta_scale` gives the d under which every θ element is of order one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import nlopt
import numpy as np
from numpy.typing import NDArray

from multilevel.errors import ConvergenceError, ModelError
from multilevel.threads import blas_threads

FloatArray = NDArray[np.float64]

_ALGORITHMS = {
    "bobyqa": nlopt.LN_BOBYQA,
    "newuoa": nlopt.LN_NEWUOA_BOUND,
    "neldermead": nlopt.LN_NELDERMEAD,
    "cobyla": nlopt.LN_COBYLA,
}

# NLopt's C++ exceptions (nlopt.invalid_argument and the rest derive from nlopt.exception)
_NLOPT_ERROR: type[Exception] = getattr(nlopt, "exception", RuntimeError)
_NLOPT_INVALID: type[Exception] = getattr(nlopt, "invalid_argument", _NLOPT_ERROR)

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
        When the optimizer stops for a reason other than its tolerances (round-off, the
        evaluation limit, a failure), restart once from the best point with half the initial
        step and keep the better point. (A restart after every clean stop changed no reference
        objective by more than 3e-11 once θ was optimized on its scaled form, at 30-40% more
        evaluations, so it is no longer done.)
    gradient
        With the default optimizer, fit large linear mixed models whose random-effects terms
        all have one column (e.g. InstEval's crossed intercepts) with the exact gradient of the
        profiled objective (:mod:`multilevel.lmm.gradient`) and quasi-Newton steps on log θ
        (:mod:`multilevel.optimize_newton`), which need a small fraction of BOBYQA's
        evaluations; L-BFGS-B, then BOBYQA, take over if it does not converge (e.g. a
        singular fit). False always uses ``optimizer``.
    """

    optimizer: str = "bobyqa"
    ftol_rel: float = 1e-14
    ftol_abs: float = 0.0
    xtol_abs: float = 1e-9
    maxeval: int = 100_000
    initial_step: float = 0.2
    restart: bool = True
    gradient: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in _ALGORITHMS:
            raise ModelError(
                f"unknown optimizer {self.optimizer!r}; choose one of "
                f"{', '.join(repr(k) for k in _ALGORITHMS)}"
            )


def optimizer_control(control: OptimizerControl | Mapping[str, Any] | None) -> OptimizerControl:
    """Optimizer settings from ``None``, an :class:`OptimizerControl` or a mapping of its fields.

    Parameters
    ----------
    control
        The settings as given to :func:`multilevel.fit`.

    Returns
    -------
    OptimizerControl

    Raises
    ------
    ModelError
        If a key is not a setting, or the optimizer name is unknown.
    """
    if control is None:
        return OptimizerControl()
    if isinstance(control, OptimizerControl):
        return control
    if not isinstance(control, Mapping):
        raise ModelError(
            f"control must be an OptimizerControl or a dict, not {type(control).__name__}"
        )
    valid = [f.name for f in fields(OptimizerControl)]
    unknown = [k for k in control if k not in valid]
    if unknown:
        raise ModelError(
            f"unknown control setting{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)}; the settings are {', '.join(valid)}"
        )
    return OptimizerControl(**dict(control))


def theta_scale(columns: Sequence[FloatArray]) -> FloatArray:
    """Scale of each element of θ: the root mean square of its row's random-effects column.

    θ holds each term's lower-triangular Λ column by column; element (i, j) multiplies the
    term's column i of Z, so multiplying that column by s divides the element by s. With
    d = :func:`theta_scale`, x' = θ ∘ d does not depend on the scale of the columns.

    Parameters
    ----------
    columns
        Each random-effects term's model-matrix columns, shape (n, q), in θ's term order.

    Returns
    -------
    numpy.ndarray
        One positive scale per element of θ (1 for a column that is zero or not finite).
    """
    out: list[float] = []
    for z in columns:
        rms = column_scale(z)
        q = rms.size
        out.extend(float(rms[row]) for col in range(q) for row in range(col, q))
    return np.asarray(out, dtype=float)


def column_scale(a: FloatArray) -> FloatArray:
    """Root mean square of each column of ``a`` (1 for a column that is zero or not finite).

    Parameters
    ----------
    a
        A model matrix, shape (n, k).

    Returns
    -------
    numpy.ndarray
        k positive scales.
    """
    a = np.asarray(a, dtype=float)
    if a.shape[0] == 0:
        return np.ones(a.shape[1])
    rms = np.sqrt(np.mean(a * a, axis=0))
    return np.where(np.isfinite(rms) & (rms > 0), rms, 1.0)


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
    lower
        Lower bounds of ``x``.
    notes
        What was changed on the way (e.g. BOBYQA run for NEWUOA on a one-parameter problem).
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
    notes: tuple[str, ...] = ()


def minimize(
    fun: Callable[[FloatArray], float],
    x0: FloatArray,
    lower: FloatArray,
    control: OptimizerControl | None = None,
    step: FloatArray | None = None,
    scale: FloatArray | None = None,
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
        Initial step per parameter (default: ``control.initial_step`` for all), in the
        coordinates the optimizer works on (those of ``x ∘ scale`` when ``scale`` is given).
    scale
        Positive scale d per parameter: the optimizer works on x' = x ∘ d (from ``x0 ∘ d``,
        with bounds ``lower ∘ d``: zero and infinite bounds are unchanged) and the record
        holds x. Default: no rescaling.

    Returns
    -------
    OptSummary

    Raises
    ------
    ModelError
        If NLopt refuses the problem (an invalid argument).
    ConvergenceError
        If NLopt fails in a way that leaves no point to return.
    """
    control = control or OptimizerControl()
    x0 = np.asarray(x0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    d: FloatArray | None = None
    if scale is not None:
        d = np.asarray(scale, dtype=float)
        if d.shape != x0.shape or not np.all(np.isfinite(d) & (d > 0)):
            raise ModelError("optimizer scale must be positive and finite, one per parameter")
    # the optimizer's coordinates: x ∘ d (bounds 0 and ±inf are unchanged)
    xs0 = x0 if d is None else x0 * d
    lower_s = lower if d is None else lower * d
    notes: tuple[str, ...] = ()
    if control.optimizer == "newuoa" and x0.size == 1:
        # NLopt's NEWUOA needs at least two parameters; BOBYQA is its bounded sibling
        notes = ("NEWUOA needs at least 2 parameters: BOBYQA was used for this 1-parameter "
                 "problem",)  # fmt: skip
        control = replace(control, optimizer="bobyqa")
    start = time.perf_counter()
    steps = np.full(x0.size, control.initial_step) if step is None else np.asarray(step, float)
    with blas_threads():
        x, fmin, nev, code = _run(fun, xs0, lower_s, control, steps, d)
        clean = code in (nlopt.FTOL_REACHED, nlopt.XTOL_REACHED, nlopt.SUCCESS)
        if control.restart and x.size and not clean:
            # BOBYQA stopped for another reason (round-off, evaluation limit, a failure): start
            # again from the best point with half the initial step
            x2, f2, nev2, code2 = _run(fun, x, lower_s, control, 0.5 * steps, d)
            nev += nev2
            if f2 <= fmin:
                x, fmin, code = x2, f2, code2
    ok = code in (nlopt.SUCCESS, nlopt.FTOL_REACHED, nlopt.XTOL_REACHED, nlopt.ROUNDOFF_LIMITED)
    return OptSummary(
        optimizer=control.optimizer,
        x0=x0,
        x=x if d is None else x / d,
        fmin=fmin,
        feval=nev,
        returnvalue=_RETURN_CODES.get(code, str(code)),
        converged=bool(ok and math.isfinite(fmin)),
        seconds=time.perf_counter() - start,
        lower=lower,
        notes=notes,
    )


def _run(
    fun: Callable[[FloatArray], float],
    x0: FloatArray,
    lower: FloatArray,
    control: OptimizerControl,
    steps: FloatArray,
    scale: FloatArray | None = None,
) -> tuple[FloatArray, float, int, int]:
    """One NLopt run on the coordinates x' = x ∘ ``scale`` (``fun`` takes x); the point
    returned is x'."""
    n = x0.size
    count = 0
    best_x = x0.copy()
    best_f = math.inf

    def wrapped(x: FloatArray, grad: FloatArray) -> float:
        nonlocal count, best_x, best_f
        count += 1
        f = fun(x) if scale is None else fun(x / scale)
        if not math.isfinite(f):
            return 1e300
        if f < best_f:
            best_f, best_x = f, x.copy()
        return f

    if n == 0:
        f0 = fun(x0 if scale is None else x0 / scale)
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
    except _NLOPT_INVALID as err:
        raise ModelError(
            f"the optimizer {control.optimizer!r} refused this problem ({n} parameter"
            f"{'s' if n > 1 else ''}): {str(err) or type(err).__name__}; try optimizer='bobyqa'"
        ) from err
    except _NLOPT_ERROR as err:
        if not math.isfinite(best_f):
            raise ConvergenceError(
                f"the optimizer {control.optimizer!r} failed before finding a finite objective: "
                f"{str(err) or type(err).__name__}"
            ) from err
        x, f, code = best_x, best_f, nlopt.FAILURE
    except (RuntimeError, ValueError):
        x, f, code = best_x, best_f, nlopt.FAILURE
    if best_f < f:
        x, f = best_x, best_f
    return np.asarray(x, dtype=float), float(f), count, code
