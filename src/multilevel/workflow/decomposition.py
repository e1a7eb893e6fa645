"""Variance components of a fitted mixed model on one scale: fixed, random by level, residual.

The definitions are those of R's ``insight::get_variance`` (behind ``performance::icc`` and
``performance::r2_nakagawa``):

* fixed: the variance of the fixed-effects linear predictor Xβ̂ (n - 1 divisor);
* random: for each random-effects term, the mean over observations of z_i'Σz_i (Johnson 2014),
  which is the intercept variance τ² for a random intercept and averages a random slope's
  contribution over the observed x; a grouping factor's variance is the sum over its terms;
* residual: σ² for a linear mixed model; on the latent scale of a GLMM the distribution-specific
  variance of :func:`multilevel.inference.latent.distribution_variance`: π²/3 (logit), 1
  (probit), π²/6 (cloglog) for binomial models, ln(1 + 1/μ) for Poisson models with a log link,
  μ = exp(β₀) from the null model (the same random effects and offset, intercept only), as
  insight's default "lognormal" approximation (more families there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import ModelError


@dataclass(frozen=True)
class VarianceComponents:
    """Variances of a fitted mixed model on the linear-predictor (latent) scale.

    Attributes
    ----------
    fixed
        Variance of Xβ̂ (n - 1 divisor).
    random
        Variance of each grouping factor (sum of its terms' z'Σz averaged over observations).
    residual
        σ² (Gaussian) or the distribution-specific variance (GLMM latent scale).
    family, link
        The model's family and link ("gaussian", "identity" for a linear mixed model).
    """

    fixed: float
    random: dict[str, float]
    residual: float
    family: str = "gaussian"
    link: str = "identity"

    @property
    def total_random(self) -> float:
        """Sum of the random-effects variances."""
        return float(sum(self.random.values()))

    @property
    def latent(self) -> bool:
        """True when the residual is a distribution-specific (latent-scale) variance."""
        return self.family != "gaussian"


def family_of(result: Any) -> tuple[str, str]:
    """The (family, link) names of a fitted model; Gaussian/identity when it has no family."""
    fam = getattr(result, "family", None)
    if fam is None or isinstance(fam, str):
        return (fam or "gaussian"), "identity"
    return str(getattr(fam, "name", "gaussian")), str(getattr(getattr(fam, "link", None),
                                                              "name", "identity"))


def _distribution_variance(result: Any, family: str, link: str) -> float:
    if family == "gaussian":
        return float(result.sigma) ** 2
    from multilevel.inference.latent import distribution_variance

    return distribution_variance(result)


def variance_components(result: Any) -> VarianceComponents:
    """The fixed, random (by grouping factor) and residual variances of a fitted model.

    Parameters
    ----------
    result
        A fitted mixed model (:func:`multilevel.fit`).

    Returns
    -------
    VarianceComponents
    """
    design = result.design
    family, link = family_of(result)
    beta = np.asarray(result.fixef.to_numpy(), dtype=float)
    eta = design.X @ beta
    fixed = float(np.var(eta, ddof=1)) if eta.size > 1 else 0.0
    # VarCorr's scale: σ²ΛΛᵀ for models with a residual scale (Gaussian, Gamma), else ΛΛᵀ
    scale = float(result.sigma) ** 2 if family in ("gaussian", "Gamma") else 1.0
    random: dict[str, float] = {}
    for term, lam in zip(design.terms, result.lambdas, strict=True):
        cov = scale * (lam @ lam.T)
        contribution = float(np.mean(np.einsum("ij,jk,ik->i", term.z, cov, term.z)))
        random[term.group] = random.get(term.group, 0.0) + contribution
    residual = _distribution_variance(result, family, link)
    return VarianceComponents(fixed, random, residual, family, link)


def variance_decomposition(result: Any, include_fixed: bool = False) -> pd.DataFrame:
    """Variance and share of the total at each level of a fitted mixed model.

    Parameters
    ----------
    result
        A fitted mixed model.
    include_fixed
        Add a first row "Fixed" with the variance of the fixed-effects predictor Xβ̂, so the
        shares are of the total variance (fixed + random + residual) as in Nakagawa's R².
        Default: shares of the random + residual variance (the unexplained variance by level).

    Returns
    -------
    pandas.DataFrame
        One row per grouping factor (most levels first), then "Residual"; columns
        ``variance``, ``sd`` and ``share``. A random slope's variance is averaged over the
        observed covariate values (Johnson 2014), so with random slopes the rows are each
        level's average contribution. For a GLMM the residual row is the latent-scale
        distribution variance (π²/3 for logit models).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("mAch ~ 1 + (1 | school)", ml.datasets.load("Hsb82"))
    >>> m.variance_decomposition().round(4)["share"].tolist()
    [0.1804, 0.8196]
    """
    vc = variance_components(result)
    rows = dict(vc.random)
    rows["Residual"] = vc.residual
    if include_fixed:
        rows = {"Fixed": vc.fixed, **rows}
    variance = pd.Series(rows, dtype=float)
    total = float(variance.sum())
    out = pd.DataFrame(
        {"variance": variance, "sd": np.sqrt(variance), "share": variance / total}
    )
    out.index.name = "level"
    return out


def _components(result: Any) -> pd.Series:
    vc = result.varcorr
    variances = vc[vc["var2"].isna()]
    group_of = {t.label: t.group for t in result.design.terms}
    index = pd.MultiIndex.from_arrays(
        [
            variances["grp"].map(lambda g: group_of.get(g, g)),
            variances["var1"].fillna(""),
        ],
        names=["group", "term"],
    )
    series = pd.Series(variances["vcov"].to_numpy(dtype=float), index=index)
    return series.groupby(level=[0, 1], sort=False).sum()


def pve(null_model: Any, model: Any) -> pd.DataFrame:
    """Proportional reduction in each variance component from a null to a fuller model.

    PVE = (σ²_null - σ²_model) / σ²_null for each variance (Raudenbush & Bryk's "proportion of
    variance explained" at each level): with level-1 predictors added, the residual PVE is the
    level-1 pseudo-R²; with level-2 predictors added, the intercept PVE is the level-2 one.

    Parameters
    ----------
    null_model
        The smaller model, e.g. ``ml.fit("y ~ 1 + (1 | g)", data)``.
    model
        The model with predictors, fitted to the same data.

    Returns
    -------
    pandas.DataFrame
        Index (group, term) of every variance (the residual as ("Residual", "")); columns
        ``null``, ``model`` and ``pve``. Components missing from the null model have NaN PVE.
        PVE can be negative (a component can grow when predictors are added, e.g. the
        intercept variance when a level-1 predictor is group-mean centred).

    Raises
    ------
    ModelError
        When the models were fitted to different numbers of observations.
    """
    if null_model.nobs != model.nobs:
        raise ModelError(
            f"the models were fitted to different data ({null_model.nobs} and {model.nobs} "
            "observations); refit them to the same rows"
        )
    a, b = _components(null_model), _components(model)
    index = list(dict.fromkeys([*a.index, *b.index]))
    index.sort(key=lambda k: k[0] == "Residual")
    out = pd.DataFrame(
        {"null": a.reindex(index), "model": b.reindex(index)},
        index=pd.MultiIndex.from_tuples(index, names=["group", "term"]),
    )
    out["pve"] = (out["null"] - out["model"]) / out["null"]
    return out


__all__ = ["VarianceComponents", "pve", "variance_components", "variance_decomposition"]
