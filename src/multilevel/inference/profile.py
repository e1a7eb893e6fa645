"""Likelihood profiles (lme4's ``profile``) and profile confidence intervals.

The trace of each parameter is built as lme4 builds it: from the estimate, a first point a
little away (1.01 x̂ for a variance parameter, x̂ + δ·se for a fixed effect), then steps chosen
by linear extrapolation of ζ to move it by δ = cutoff/8 (at most 10 times the previous step),
until |ζ| exceeds cutoff = √χ²(1 - alphamax, number of parameters) or the parameter reaches a
bound. Intervals are read off the traces as lme4's ``confint``: an interpolating natural cubic
spline of ζ against the parameter, inverted as a monotone piecewise cubic (R's
``backSpline``). ``exact=True`` instead solves ζ = ±z by root finding.

GLMMs are profiled by :class:`~multilevel.inference.glmm_profiler.GLMMProfiler` (the deviance
minimized over θ and β together); as lme4 does for GLMMs, every trace, fixed effects included,
starts at 1.01 x̂.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.inference._common import result_kind
from multilevel.inference.glmm_profiler import AnyProfiler, GLMMProfiler
from multilevel.inference.profiler import Profiler
from multilevel.inference.splines import back_spline_predict
from multilevel.lazy import stats

FloatArray = NDArray[np.float64]

_MAX_FLAT = 4


def _nextpar(rows: list[tuple[float, float]], absstep: float, lower: float, upper: float,
             maxmult: float = 10.0, minstep: float = 1e-6) -> float:
    """lme4's ``nextpar``: the next value from the last two (value, ζ) points."""
    (p1, z1), (p2, z2) = rows[-2], rows[-1]
    num = p2 - p1
    denom = z2 - z1
    if not math.isfinite(denom) or denom == 0.0:
        step = minstep
    else:
        step = absstep * num / denom
        if step < 0:
            step = minstep
        elif abs(step) > maxmult * abs(num):
            step = maxmult * abs(num)
    return min(upper, max(lower, p2 + math.copysign(1.0, num) * step))


def make_profiler(result: Any) -> AnyProfiler:
    """The profiler of a fit: :class:`Profiler` for an LMM, :class:`GLMMProfiler` for a GLMM."""
    if result_kind(result) == "glmm":
        return GLMMProfiler(result)
    return Profiler(result)


def _fill(prof: AnyProfiler, k: int, rows: list[tuple[float, float]], warms: list[Any],
          cutoff: float, delta: float, maxpts: int) -> None:
    lower, upper = prof.bounds(k)
    flat = 0
    while len(rows) < maxpts:
        p, z = rows[-1]
        if not (lower < p < upper) or not math.isfinite(z) or abs(z) > cutoff:
            break
        flat = flat + 1 if z == rows[-2][1] else 0
        if flat > _MAX_FLAT:  # a plateau (lme4 would creep on in steps of 1e-6)
            break
        nxt = _nextpar(rows, delta, lower, upper)
        z_new, warm = prof.zeta(k, nxt, warms[-1])
        rows.append((nxt, z_new))
        warms.append(warm)


def trace(prof: AnyProfiler, k: int, cutoff: float, delta: float, maxpts: int = 100
          ) -> list[tuple[float, float]]:
    """The (value, ζ) points of parameter k, sorted by value (lme4's algorithm)."""
    est = prof.estimate(k)
    lower, _ = prof.bounds(k)
    first = prof.first_value(k, delta)
    z1, warm1 = prof.zeta(k, first)
    pos: list[tuple[float, float]] = [(est, 0.0), (first, z1)]
    _fill(prof, k, pos, [None, warm1], cutoff, delta, maxpts)
    neg: list[tuple[float, float]] = [(first, z1), (est, 0.0)]
    if est > lower:
        _fill(prof, k, neg, [warm1, None], cutoff, delta, maxpts)
    points = sorted(set(pos) | set(neg))
    return [(p, z) for p, z in points if math.isfinite(z)]


@dataclass(frozen=True)
class Profile:
    """Profile traces of a fit: ζ against each parameter (lme4's ``profile``).

    Attributes
    ----------
    traces
        Columns parameter, value, zeta (the estimate is the row with ζ = 0).
    estimates
        ML estimate of each profiled parameter.
    lower, upper
        Bounds of each parameter (sd: 0; correlations: ±1; otherwise ∓inf), used when a
        trace ends at a bound.
    """

    traces: pd.DataFrame
    estimates: pd.Series
    lower: pd.Series
    upper: pd.Series

    def trace(self, parameter: str) -> pd.DataFrame:
        """The (value, zeta) points of one parameter."""
        out = self.traces[self.traces["parameter"] == parameter]
        return out[["value", "zeta"]].reset_index(drop=True)

    def confint(self, level: float = 0.95) -> pd.DataFrame:
        """Intervals read off the traces (lme4's ``confint`` of a profile).

        Returns
        -------
        DataFrame
            Index: parameters; columns lower, upper.
        """
        z = float(stats.norm.ppf(0.5 + level / 2.0))
        rows = []
        for name in self.estimates.index:
            tr = self.trace(name)
            vals = back_spline_predict(tr["value"].to_numpy(), tr["zeta"].to_numpy(),
                                       np.array([-z, z]))
            lo = float(vals[0]) if np.isfinite(vals[0]) else float(self.lower[name])
            hi = float(vals[1]) if np.isfinite(vals[1]) else float(self.upper[name])
            rows.append((lo, hi))
        out = pd.DataFrame(rows, columns=["lower", "upper"], index=self.estimates.index)
        out.index.name = "parameter"
        return out

    def plot(self, level: float = 0.95, absolute: bool = False) -> Any:
        """ζ against each parameter, one panel per parameter (needs matplotlib).

        Parameters
        ----------
        level
            Horizontal reference lines at ζ = ±z of this confidence level.
        absolute
            Plot |ζ| (lme4's ``absVal=TRUE``).
        """
        from multilevel.inference.plots import profile_plot

        return profile_plot(self, level=level, absolute=absolute)


def profile(result: Any, parm: Sequence[str] | str | None = None, alphamax: float = 0.01,
            maxpts: int = 100, delta: float | None = None) -> Profile:
    """Profile the ML deviance over each parameter (lme4's ``profile``).

    Parameters
    ----------
    result
        A fitted linear mixed model (a REML fit is refitted with ML, as lme4 does), or a GLMM
        (binomial, Poisson or negative binomial; Laplace or AGQ) whose deviance is profiled
        over θ and β.
    parm
        Parameter names (``sd_(Intercept)|g``, ``cor_x.(Intercept)|g``, ``sigma`` or a fixed
        effect), "theta_" (all variance parameters), "beta_" (all fixed effects) or None (all).
    alphamax
        Traces extend until |ζ| > √χ²(1 - alphamax) with as many df as parameters.
    maxpts
        Maximum number of points per side.
    delta
        Target step in ζ between points (default: cutoff / 8).

    Returns
    -------
    Profile
    """
    prof = make_profiler(result)
    cutoff = math.sqrt(stats.chi2.ppf(1.0 - alphamax, prof.nparams))
    step = cutoff / 8.0 if delta is None else float(delta)
    rows: list[dict[str, Any]] = []
    est, lo, hi = {}, {}, {}
    for k in prof.select(parm):
        name = prof.names[k]
        est[name] = prof.estimate(k)
        lo[name], hi[name] = prof.bounds(k)
        if not prof.is_variance(k):
            lo[name] = hi[name] = math.nan
        for value, z in trace(prof, k, cutoff, step, maxpts):
            rows.append({"parameter": name, "value": value, "zeta": z})
    return Profile(
        traces=pd.DataFrame(rows, columns=["parameter", "value", "zeta"]),
        estimates=pd.Series(est, name="estimate"),
        lower=pd.Series(lo, name="lower"),
        upper=pd.Series(hi, name="upper"),
    )


def profile_confint(result: Any, level: float = 0.95, parm: Sequence[str] | str | None = None,
                    exact: bool = False) -> pd.DataFrame:
    """Profile-likelihood confidence intervals (rows: sd/cor/sigma, then fixed effects).

    Parameters
    ----------
    result
        A fitted linear mixed model or GLMM (see :func:`profile`).
    level
        Confidence level.
    parm
        Parameters to profile (see :func:`profile`).
    exact
        Solve ζ = ±z by root finding instead of interpolating lme4's trace: more accurate
        where a profile is strongly curved (correlations near ±1), but not lme4's numbers.
    """
    if exact:
        from multilevel.inference.profile_exact import exact_bounds

        return exact_bounds(make_profiler(result), level, parm)
    return profile(result, parm=parm).confint(level)
