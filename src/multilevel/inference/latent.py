"""Variance components of a GLMM on the latent (link) scale, as R's ``insight::get_variance``
(version 0.19, behind ``performance::r2_nakagawa`` 0.10) computes them for ``glmer`` fits.

- fixed: var(Xβ̂) with the n - 1 divisor (the offset left out);
- random: Σ over random-effects terms of mean_i z_iᵀ Σ z_i (Johnson 2014), Σ on VarCorr's scale
  (ΛΛᵀ, times σ² for Gamma fits as lme4's ``VarCorr``); terms whose grouping factor has one
  level per observation (observation-level random effects, for overdispersion) are counted as
  dispersion instead;
- distribution-specific variance, by family and link:

  ===================  =========================  ==========================================
  family               link                       variance
  ===================  =========================  ==========================================
  binomial             logit / probit / cloglog   π²/3 / 1 / π²/6
  Poisson              log                        ln(1 + 1/μ₀)
  negative binomial    log                        ln(1 + 1/μ₀ + 1/θ)
  Poisson, neg. bin.   sqrt                       0.25
  Gamma                inverse / log / identity   σ²
  ===================  =========================  ==========================================

  μ₀ = exp(β₀) of the null model: the same random effects, offset, weights and rows with an
  intercept only, refitted (a negative binomial's null model keeps the fitted θ, as
  ``update`` of a ``glmer.nb`` fit does); performance warns when μ₀ < 6. Other combinations
  (inverse Gaussian, a binomial log or cauchit link, identity links for counts) raise
  NotSupportedError: performance has no distribution-specific variance for them (for the
  inverse Gaussian it falls back to σ, which is not one).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from multilevel.errors import MultilevelWarning, NotSupportedError
from multilevel.inference._common import cached
from multilevel.result import is_singular

SINGULAR_TOL = 1e-5
"""insight's tolerance for a singular fit (random variances are then not computed)."""


@dataclass(frozen=True)
class LatentVariances:
    """Variance components of a GLMM on the latent scale.

    Attributes
    ----------
    fixed
        var(Xβ̂) (n - 1 divisor).
    random
        Sum of the random-effects variances (observation-level terms excluded); None for a
        singular fit (performance then leaves the random variance out).
    distribution
        The distribution-specific variance of the family and link.
    dispersion
        Variance of observation-level random effects (0 without them).
    """

    fixed: float
    random: float | None
    distribution: float
    dispersion: float

    @property
    def residual(self) -> float:
        """Distribution-specific plus dispersion variance."""
        return self.distribution + self.dispersion


def _null_mean(result: Any) -> float:
    """μ₀ = exp(β₀) of the intercept-only refit with the same random effects (cached)."""
    from multilevel.inference.glmm_refit import optimize_problem, replace_problem

    def compute() -> float:
        problem = result.problem
        null = replace_problem(problem, X=np.ones((problem.y.shape[0], 1)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt, stage = optimize_problem(null, result.nagq, result.options.control)
        beta0 = stage.state(opt.x).beta[0] if result.nagq == 0 else opt.x[-1]
        return math.exp(float(beta0))

    return cached(result, "null_mean", compute)


def _count_variance(result: Any, family: str) -> float:
    mu = _null_mean(result)
    if mu < 6:
        warnings.warn(
            f"mu of {mu:.1f} is too close to zero: the distribution-specific variance "
            "ln(1 + Var/mu²) may be unreliable (as performance warns)",
            MultilevelWarning,
            stacklevel=5,
        )
    ratio = 1.0 / mu
    if family == "negative.binomial":
        ratio += 1.0 / float(result.nb_theta_opt or result.family.nb_theta)
    return math.log1p(ratio)


def distribution_variance(result: Any) -> float:
    """The distribution-specific variance of a GLMM (see the module docstring).

    Parameters
    ----------
    result
        A fitted GLMM.

    Returns
    -------
    float
    """
    family, link = result.family.name, result.family.link.name
    if family == "binomial":
        table = {"logit": math.pi**2 / 3.0, "probit": 1.0, "cloglog": math.pi**2 / 6.0}
        if link in table:
            return table[link]
    elif family in ("poisson", "negative.binomial"):
        if link == "log":
            return _count_variance(result, family)
        if link == "sqrt":
            return 0.25
    elif family == "Gamma":
        return float(result.sigma) ** 2
    raise NotSupportedError(
        f"no distribution-specific (latent-scale) variance for the {family} family with a "
        f"{link} link; R² and latent ICCs are defined for binomial (logit, probit, cloglog), "
        "Poisson and negative binomial (log, sqrt) and Gamma models"
    )


def latent_variances(result: Any) -> LatentVariances:
    """Fixed, random, distribution-specific and dispersion variances of a GLMM.

    Parameters
    ----------
    result
        A fitted GLMM.

    Returns
    -------
    LatentVariances
    """
    eta = np.asarray(result.design.X @ result.beta, dtype=float)
    fixed = float(np.var(eta, ddof=1)) if eta.size > 1 else 0.0
    scale = float(result.sigma) ** 2 if result.family.has_dispersion else 1.0
    random = 0.0
    dispersion = 0.0
    for t, lam in zip(result.design.terms, result.lambdas, strict=True):
        z = np.asarray(t.z, dtype=float)
        part = float(np.mean(np.einsum("ij,jk,ik->i", z, scale * (lam @ lam.T), z)))
        if t.nlevels == result.nobs:
            dispersion += part
        else:
            random += part
    singular = is_singular(result.theta, result.layout.diagonal_mask(), SINGULAR_TOL)
    return LatentVariances(fixed, None if singular else random,
                           distribution_variance(result), dispersion)
