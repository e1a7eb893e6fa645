"""The Laplace (or AGQ) deviance of a GLMM, profiled one parameter at a time.

As lme4's ``profile`` of a ``glmer`` fit (``devfun2`` on the fitted deviance function): the
parameters are the standard deviations and correlations of each random-effects term, then the
fixed effects. With one parameter held at a value, the deviance -2 log L(θ, β) is minimized
over all the others, variance parameters and fixed effects together (for a linear mixed model
β is profiled out analytically; here it cannot be). ζ = sign(x - x̂) √(d(x) - d̂).

Families with a free scale (Gamma, inverse Gaussian) are not profiled (lme4: "can't (yet)
profile GLMMs with non-fixed scale parameters"); a negative binomial fit is profiled at its
estimated θ of the negative binomial, as lme4 profiles the ``glmer`` fit that ``glmer.nb``
returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.errors import NotSupportedError
from multilevel.glmm.objective import GLMMObjective
from multilevel.inference._common import variance_parameter_names
from multilevel.inference.deviance import is_sd, sdcor_bounds, sdcor_to_theta, theta_to_sdcor
from multilevel.inference.profiler import Profiler, minimize_with_fixed, select_parameters

FloatArray = NDArray[np.float64]


class GLMMProfiler:
    """ζ of each parameter of a GLMM fit (the interface of
    :class:`~multilevel.inference.profiler.Profiler`).

    Parameters
    ----------
    result
        A fitted GLMM (Laplace or AGQ; binomial, Poisson or negative binomial).
    """

    def __init__(self, result: Any):
        if result.family.has_dispersion:
            raise NotSupportedError(
                f"profiles of a {result.family.name} GLMM (a family with a free scale "
                "parameter) are not available, as in lme4; use method='wald' or 'boot'"
            )
        if result.nagq == 0:
            raise NotSupportedError(
                "profiles need the Laplace or AGQ deviance of (θ, β); refit with nagq=1 "
                "(nagq=0 optimizes θ alone)"
            )
        self.fit = result
        self.layout = result.layout
        self.nvar = self.layout.length
        self.var_names = variance_parameter_names(result)
        self.names = [*self.var_names, *result.design.xnames]
        self.sdcor_hat = theta_to_sdcor(self.layout, result.theta, 1.0)[:-1]
        lo, hi = sdcor_bounds(self.layout)
        self.lo = np.r_[lo[:-1], np.full(result.beta.size, -np.inf)]
        self.hi = np.r_[hi[:-1], np.full(result.beta.size, np.inf)]
        self.sd_mask = is_sd(self.layout)[:-1]
        self.opt = np.r_[self.sdcor_hat, result.beta]
        self.objective = GLMMObjective(result.problem, result.nagq)
        self.objective._u = result.state.u
        self.base = float(result.objective)
        self._se = np.sqrt(np.diag(result.vcov_matrix))

    @property
    def nparams(self) -> int:
        """Number of parameters (sd/cor and fixed effects)."""
        return len(self.names)

    def is_variance(self, k: int) -> bool:
        """True for sd/cor parameters."""
        return k < self.nvar

    def bounds(self, k: int) -> tuple[float, float]:
        """(lower, upper) of parameter k: sd ≥ 0, |cor| ≤ 1, fixed effects unbounded."""
        return float(self.lo[k]), float(self.hi[k])

    def estimate(self, k: int) -> float:
        """The estimate of parameter k."""
        return float(self.opt[k])

    def std_error(self, k: int) -> float:
        """Standard error of fixed effect k."""
        return float(self._se[k - self.nvar])

    def first_value(self, k: int, delta: float) -> float:
        """The first point of a trace: 1.01 x̂ (or 0.001 at zero) for every parameter, fixed
        effects included, as lme4 starts the profiles of a GLMM."""
        est = self.estimate(k)
        return 1e-3 if est == 0 else est * 1.01

    def deviance(self, pars: FloatArray) -> float:
        """-2 log-likelihood at (sd/cor, β); ``inf`` where undefined."""
        pars = np.asarray(pars, dtype=float)
        conv = sdcor_to_theta(self.layout, np.r_[pars[: self.nvar], 1.0])
        if conv is None:
            return math.inf
        value = self.objective(np.r_[conv[0], pars[self.nvar :]])
        return value if math.isfinite(value) else math.inf

    def deviance_sdcor(self, sdcor: FloatArray) -> float:
        """The deviance at sd/cor values with β at its estimate (to size first steps)."""
        return self.deviance(np.r_[np.asarray(sdcor, dtype=float)[: self.nvar],
                                   self.opt[self.nvar :]])

    def zeta(self, k: int, value: float, warm: FloatArray | None = None
             ) -> tuple[float, FloatArray]:
        """ζ at parameter k = value, and the minimizer (a warm start for nearby values)."""
        start = self.opt if warm is None else warm
        full, dev = minimize_with_fixed(self.deviance, start, k, value, self.lo, self.hi)
        if not math.isfinite(dev):
            return math.nan, full
        diff = max(dev - self.base, 0.0)
        return math.copysign(math.sqrt(diff), value - self.estimate(k)), full

    def select(self, parm: Sequence[str] | str | None) -> list[int]:
        """Indices of the parameters named by ``parm`` (names, "theta_", "beta_", None)."""
        return select_parameters(list(self.names), self.nvar, parm)


AnyProfiler = Profiler | GLMMProfiler
"""Either profiler (what the trace and root-finding code take)."""
