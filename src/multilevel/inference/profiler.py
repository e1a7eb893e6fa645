"""The profiled ML deviance of a linear mixed model, one parameter at a time.

Parameters are lme4's: the standard deviations and correlations of each random-effects term,
σ, then the fixed effects. As lme4 (``devfun2`` refits with ML), profiles are of the ML
deviance; REML fits are refitted with ML first. With one parameter held at a value, the
deviance is minimized over the others: over the other sd/cor/σ values for a variance parameter
(the deviance with σ explicit, :func:`~multilevel.inference.deviance.varpar_deviance`), over θ
for a fixed effect (its column moved to the offset). ζ = sign(x - x̂) √(d(x) - d̂).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import nlopt
import numpy as np
from numpy.typing import NDArray

from multilevel.errors import ModelError
from multilevel.inference._common import response_vector
from multilevel.inference.deviance import (
    is_sd,
    sdcor_bounds,
    sdcor_names,
    sdcor_to_theta,
    theta_to_sdcor,
    varpar_deviance,
)
from multilevel.inference.refit import attach_x, refit, with_response
from multilevel.lmm import TermBlock, build_system, make_objective
from multilevel.optimize import OptimizerControl, minimize

FloatArray = NDArray[np.float64]

_INNER = OptimizerControl(ftol_rel=1e-13, xtol_abs=1e-10, initial_step=0.05)


def bobyqa_box(
    fun: Callable[[FloatArray], float], x0: FloatArray, lo: FloatArray, hi: FloatArray
) -> tuple[FloatArray, float]:
    """Minimize over a box with nlopt's BOBYQA; returns the best (x, f) seen."""
    n = x0.size
    if n == 0:
        return x0, fun(x0)
    best: list[Any] = [np.clip(x0, lo, hi), math.inf]

    def wrapped(x: FloatArray, grad: FloatArray) -> float:
        f = fun(x)
        if not math.isfinite(f):
            return 1e300
        if f < best[1]:
            best[0], best[1] = x.copy(), f
        return f

    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    opt.set_min_objective(wrapped)
    opt.set_lower_bounds(lo)
    opt.set_upper_bounds(hi)
    opt.set_ftol_rel(1e-13)
    opt.set_xtol_abs(1e-10)
    opt.set_maxeval(20_000)
    width = np.where(np.isfinite(hi - lo), (hi - lo) / 4.0, np.inf)
    opt.set_initial_step(np.minimum(np.maximum(0.1 * np.abs(x0), 0.02), width))
    try:
        opt.optimize(np.clip(x0, lo, hi))
    except (nlopt.RoundoffLimited, RuntimeError, ValueError):
        pass
    return np.asarray(best[0]), float(best[1])


def minimize_with_fixed(
    fun: Callable[[FloatArray], float],
    start: FloatArray,
    k: int,
    value: float,
    lo: FloatArray,
    hi: FloatArray,
) -> tuple[FloatArray, float]:
    """Minimize ``fun`` over all parameters but the k-th, which is held at ``value``.

    Returns the full parameter vector at the minimum (element k = ``value``) and the minimum;
    the other elements start from ``start`` and stay in the box [lo, hi].
    """
    free = np.ones(start.size, dtype=bool)
    free[k] = False

    def inner(xf: FloatArray) -> float:
        full = np.empty(start.size)
        full[free] = xf
        full[k] = value
        return fun(full)

    xf, f = bobyqa_box(inner, np.array(start[free], dtype=float), lo[free], hi[free])
    full = np.empty(start.size)
    full[free] = xf
    full[k] = value
    return full, f


def select_parameters(
    names: list[str], nvar: int, parm: Sequence[str] | str | None
) -> list[int]:
    """Indices of the parameters named by ``parm``: names, "theta_" (the ``nvar`` variance
    parameters), "beta_" (the fixed effects after them) or None (all)."""
    if parm is None:
        return list(range(len(names)))
    if isinstance(parm, str):
        parm = [parm]
    out: list[int] = []
    for p in parm:
        if p == "theta_":
            out.extend(range(nvar))
        elif p == "beta_":
            out.extend(range(nvar, len(names)))
        elif p in names:
            out.append(names.index(p))
        else:
            raise ModelError(f"unknown parameter {p!r}; choose from {names}")
    return sorted(set(out))


class Profiler:
    """ζ of each parameter of one fit (the ML refit of a REML fit).

    Parameters
    ----------
    result
        A fitted linear mixed model.
    """

    def __init__(self, result: Any):
        fit = refit(result, reml=False) if result.reml else result
        self.fit = fit
        self.system = fit.system
        self.layout = fit.system.layout
        terms = fit.design.terms
        self.nvar = self.layout.length + 1
        self.var_names = sdcor_names([t.group for t in terms], [t.cnames for t in terms])
        self.names = [*self.var_names, *fit.design.xnames]
        self.sdcor_hat = theta_to_sdcor(self.layout, fit.theta, fit.sigma)
        self.lo, self.hi = sdcor_bounds(self.layout)
        self.sd_mask = is_sd(self.layout)
        self.base = float(fit.objective)
        self._fixed_systems: dict[int, Any] = {}

    @property
    def nparams(self) -> int:
        """Number of parameters (variance parameters and fixed effects)."""
        return len(self.names)

    def is_variance(self, k: int) -> bool:
        """True for sd/cor/σ parameters."""
        return k < self.nvar

    def bounds(self, k: int) -> tuple[float, float]:
        """(lower, upper) of parameter k: sd ≥ 0, |cor| ≤ 1, fixed effects unbounded."""
        if k < self.nvar:
            return float(self.lo[k]), float(self.hi[k])
        return -math.inf, math.inf

    def estimate(self, k: int) -> float:
        """The ML estimate of parameter k."""
        if k < self.nvar:
            return float(self.sdcor_hat[k])
        return float(self.fit.estimates.beta[k - self.nvar])

    def std_error(self, k: int) -> float:
        """Standard error of fixed effect k (ML fit)."""
        j = k - self.nvar
        return float(self.fit.sigma * math.sqrt(self.fit.estimates.vcov_unscaled[j, j]))

    def first_value(self, k: int, delta: float) -> float:
        """The first point of a trace, as lme4: 1.01 x̂ (0.001 at zero) for a variance
        parameter, x̂ + δ·se for a fixed effect."""
        est = self.estimate(k)
        if self.is_variance(k):
            return 1e-3 if est == 0 else est * 1.01
        return est + delta * self.std_error(k)

    def deviance_sdcor(self, sdcor: FloatArray) -> float:
        """ML deviance at sd/cor/σ values (β at its conditional optimum)."""
        conv = sdcor_to_theta(self.layout, sdcor)
        if conv is None:
            return math.inf
        theta, sigma = conv
        return varpar_deviance(self.system, np.r_[theta, sigma], False)

    def _var_point(self, k: int, value: float, warm: FloatArray | None) -> tuple[float, FloatArray]:
        start = self.sdcor_hat if warm is None else warm
        full, f = minimize_with_fixed(self.deviance_sdcor, start, k, value, self.lo, self.hi)
        return f, full

    def _system_without(self, j: int) -> Any:
        if j not in self._fixed_systems:
            d = self.fit.design
            x = np.delete(d.X, j, axis=1)
            raw = tuple(TermBlock(t.grouping.codes, t.z, t.nlevels) for t in d.terms)
            system = build_system(x, response_vector(self.fit), raw, d.weights)
            xw = x if d.weights is None else x * np.sqrt(d.weights)[:, None]
            self._fixed_systems[j] = attach_x(system, xw)
        return self._fixed_systems[j]

    def _fixed_point(self, j: int, value: float, warm: FloatArray | None
                     ) -> tuple[float, FloatArray]:
        d = self.fit.design
        base = self._system_without(j)
        y = response_vector(self.fit) - d.X[:, j] * value
        system = with_response(base, y, d.weights)
        start = self.fit.theta if warm is None else warm
        lower = system.layout.lower_bounds()
        opt = minimize(make_objective(system, False), np.maximum(start, lower), lower, _INNER)
        return opt.fmin, opt.x

    def zeta(self, k: int, value: float, warm: FloatArray | None = None
             ) -> tuple[float, FloatArray]:
        """ζ at parameter k = value, and the minimizer (a warm start for nearby values)."""
        if k < self.nvar:
            dev, arg = self._var_point(k, value, warm)
        else:
            dev, arg = self._fixed_point(k - self.nvar, value, warm)
        if not math.isfinite(dev):
            return math.nan, arg
        diff = max(dev - self.base, 0.0)
        return math.copysign(math.sqrt(diff), value - self.estimate(k)), arg

    def select(self, parm: Sequence[str] | str | None) -> list[int]:
        """Indices of the parameters named by ``parm`` (names, "theta_", "beta_", None)."""
        return select_parameters(list(self.names), self.nvar, parm)
