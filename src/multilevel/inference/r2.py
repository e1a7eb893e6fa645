"""Nakagawa's marginal and conditional R² of a mixed model, with R's performance conventions.

R²_m = σ²_f / (σ²_f + σ²_r + σ²_ε) and R²_c = (σ²_f + σ²_r) / (σ²_f + σ²_r + σ²_ε), where

- σ²_f = var(Xβ̂) with the n - 1 divisor;
- σ²_r = Σ_terms mean_i z_iᵀ Σ_term z_i (Johnson 2014: random slopes contribute their variance
  at the observed covariate values; for a random intercept this is its variance);
- σ²_ε = σ² for a linear mixed model; for a GLMM the latent-scale residual variance: the
  distribution-specific variance of the family and link plus the variance of observation-level
  random effects (:mod:`~multilevel.inference.latent`, as performance for ``glmer`` fits).
  A singular GLMM fit has no random variance in performance: R²_m = σ²_f / (σ²_f + σ²_ε) and
  R²_c is NaN (with a warning).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from multilevel.errors import MultilevelWarning
from multilevel.inference._common import result_kind


@dataclass(frozen=True)
class R2:
    """Nakagawa's R² and the variance components it is made of.

    Attributes
    ----------
    marginal
        Variance explained by the fixed effects.
    conditional
        Variance explained by fixed and random effects.
    var_fixed, var_random, var_residual
        σ²_f, σ²_r and σ²_ε.
    var_distribution, var_dispersion
        The two parts of σ²_ε for a GLMM (distribution-specific variance, variance of
        observation-level random effects); σ² and 0 for a linear mixed model.
    """

    marginal: float
    conditional: float
    var_fixed: float
    var_random: float
    var_residual: float
    var_distribution: float = math.nan
    var_dispersion: float = 0.0

    def __repr__(self) -> str:
        return f"R2(marginal={self.marginal:.4f}, conditional={self.conditional:.4f})"


def random_variance(result: Any) -> float:
    """σ²_r: Σ over random-effects terms of the mean over observations of z_iᵀ Σ z_i."""
    total = 0.0
    for t, lam in zip(result.design.terms, result.lambdas, strict=True):
        cov = result.sigma**2 * (lam @ lam.T)
        z = np.asarray(t.z, dtype=float)
        total += float(np.mean(np.einsum("ij,jk,ik->i", z, cov, z)))
    return total


def r2(result: Any) -> R2:
    """Nakagawa's marginal and conditional R² (as R's ``performance::r2_nakagawa``).

    Parameters
    ----------
    result
        A fitted linear mixed model, or a GLMM of a family and link with a latent-scale
        distribution variance (binomial logit, probit, cloglog; Poisson and negative
        binomial log or sqrt; Gamma): see :mod:`multilevel.inference.latent`.

    Returns
    -------
    R2
        Fields ``marginal`` and ``conditional`` and the three variance components.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(m.r2().marginal, 3)
    0.279
    """
    if result_kind(result) == "glmm":
        return _r2_glmm(result)
    fixed = np.asarray(result.design.X @ result.estimates.beta, dtype=float)
    var_f = float(np.var(fixed, ddof=1)) if fixed.size > 1 else 0.0
    var_r = random_variance(result)
    var_e = float(result.sigma**2)
    total = var_f + var_r + var_e
    return R2(var_f / total, (var_f + var_r) / total, var_f, var_r, var_e, var_e, 0.0)


def _r2_glmm(result: Any) -> R2:
    from multilevel.inference.latent import latent_variances

    v = latent_variances(result)
    if v.random is None:
        warnings.warn(
            "singular fit: the random-effects variances are left out of R² (as performance "
            "does); the conditional R² is NaN",
            MultilevelWarning,
            stacklevel=3,
        )
        marginal = v.fixed / (v.fixed + v.residual)
        return R2(marginal, math.nan, v.fixed, math.nan, v.residual, v.distribution,
                  v.dispersion)
    total = v.fixed + v.random + v.residual
    return R2(v.fixed / total, (v.fixed + v.random) / total, v.fixed, v.random, v.residual,
              v.distribution, v.dispersion)
