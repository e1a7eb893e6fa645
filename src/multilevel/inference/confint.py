"""Confidence intervals for the parameters of a mixed model (lme4's ``confint``).

Linear and generalized linear mixed models alike: for GLMMs the variance parameters are the sd
and cor of each term (and σ for Gamma and inverse Gaussian fits), Wald intervals use the
Hessian-based standard errors, profiles are of the Laplace (or AGQ) deviance over θ and β
(:mod:`~multilevel.inference.glmm_profiler`), and bootstrap refits reuse the fitted problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import ModelError
from multilevel.inference._common import result_kind, variance_parameter_names
from multilevel.lazy import stats


def _names(result: Any) -> tuple[list[str], list[str]]:
    return variance_parameter_names(result), list(result.design.xnames)


def _select(names: list[str], nvar: int, parm: Sequence[str] | str | None) -> list[str]:
    if parm is None:
        return names
    if isinstance(parm, str):
        parm = [parm]
    out: list[str] = []
    for p in parm:
        if p == "theta_":
            out.extend(names[:nvar])
        elif p == "beta_":
            out.extend(names[nvar:])
        elif p in names:
            out.append(p)
        else:
            raise ModelError(f"unknown parameter {p!r}; choose from {names}")
    return [n for n in names if n in set(out)]


def wald_confint(result: Any, level: float = 0.95) -> pd.DataFrame:
    """β̂ ± z se for the fixed effects; NaN for the variance parameters (as lme4).

    Parameters
    ----------
    result
        A fitted linear or generalized linear mixed model.
    level
        Confidence level.

    Returns
    -------
    DataFrame
        Index: parameters (variance parameters first); columns lower, upper.
    """
    var, fixed = _names(result)
    z = stats.norm.ppf(0.5 + level / 2.0)
    se = result.se.to_numpy()
    beta = result.fixef.to_numpy()
    lower = np.r_[np.full(len(var), np.nan), beta - z * se]
    upper = np.r_[np.full(len(var), np.nan), beta + z * se]
    return pd.DataFrame({"lower": lower, "upper": upper},
                        index=pd.Index([*var, *fixed], name="parameter"))


def confint(
    result: Any,
    method: str = "profile",
    level: float = 0.95,
    parm: Sequence[str] | str | None = None,
    nsim: int = 500,
    seed: Any = None,
    n_jobs: int = 1,
    boot_type: str = "perc",
    exact: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Confidence intervals for the sd/cor parameters, σ and the fixed effects.

    Parameters
    ----------
    result
        A fitted linear or generalized linear mixed model.
    method
        "profile" (likelihood profile, lme4's default: traces interpolated as lme4 does),
        "wald" (fixed effects only; NaN for variance parameters) or "boot" (parametric
        bootstrap percentile intervals). GLMMs are profiled over θ and β on the Laplace (or
        AGQ) deviance as lme4's ``profile`` of a ``glmer`` fit; Gamma and inverse Gaussian
        fits (with a free scale) cannot be profiled, as in lme4.
    level
        Confidence level.
    parm
        Parameter names (``sd_(Intercept)|g``, ``cor_x.(Intercept)|g``, ``sigma``, fixed
        effects), "theta_", "beta_", or None for all. GLMMs without a scale (binomial,
        Poisson, negative binomial) have no ``sigma``.
    nsim, seed, n_jobs, boot_type, progress
        Bootstrap settings (``boot_type`` "perc", "basic" or "norm").
    exact
        Profile only: solve for the interval ends by root finding instead of interpolating.

    Returns
    -------
    DataFrame
        Index: parameters; columns lower, upper.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> ci = m.confint(method="wald")
    >>> round(float(ci.loc["Days", "lower"]), 3)
    7.438
    """
    result_kind(result)
    if not 0.0 < level < 1.0:
        raise ModelError(f"level must be between 0 and 1, got {level}")
    var, fixed = _names(result)
    chosen = _select([*var, *fixed], len(var), parm)
    method = method.lower()
    if method == "wald":
        return wald_confint(result, level).loc[chosen]
    if method == "profile":
        from multilevel.inference.profile import profile_confint

        return profile_confint(result, level=level, parm=chosen, exact=exact)
    if method in ("boot", "bootstrap"):
        from multilevel.inference.bootstrap import bootstrap

        boot = bootstrap(result, nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)
        return boot.confint(level, type=boot_type).loc[chosen]
    raise ModelError(f"method must be 'profile', 'wald' or 'boot', not {method!r}")
