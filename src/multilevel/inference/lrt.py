"""Likelihood-ratio tests between nested mixed models: lme4's ``anova(m0, m1, ...)``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import DataError, ModelError, MultilevelWarning
from multilevel.inference._common import result_kind
from multilevel.lazy import stats


def _same_kind(models: Sequence[Any]) -> None:
    """Linear and generalized linear mixed models have likelihoods of different kinds (a
    density of a continuous response against a probability mass): refuse to compare them."""
    kinds = [result_kind(m) for m in models]
    if len(set(kinds)) > 1:
        k = kinds.index("glmm") + 1
        raise ModelError(
            f"model {k} is a generalized linear mixed model and another is a linear mixed "
            "model: their likelihoods are not comparable; compare models of one kind"
        )


def _same_data(models: Sequence[Any]) -> None:
    first = models[0]
    for k, m in enumerate(models[1:], start=2):
        if m.nobs != first.nobs:
            raise DataError(
                f"models were not all fitted to the same data: model 1 uses {first.nobs} "
                f"observations, model {k} uses {m.nobs} (missing values in a column one "
                "model uses drop rows); fit both to the same complete-case data"
            )
        same_rows = first.design.frame.rows.equals(m.design.frame.rows)
        y1, y2 = np.asarray(first.design.y), np.asarray(m.design.y)
        if not same_rows or y1.shape != y2.shape or not np.allclose(y1, y2, rtol=1e-12):
            raise DataError(
                f"models were not all fitted to the same data: model {k} has a different "
                "response or different rows than model 1; a likelihood-ratio test compares "
                "models of the same observations"
            )


def lrt_table(
    *models: Any, refit: bool = True, names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Likelihood-ratio table of nested models, ordered by number of parameters.

    Parameters
    ----------
    *models
        Two or more fitted models of the same data: linear mixed models, or GLMMs (their
        Laplace or AGQ log-likelihoods, as lme4's ``anova`` of ``glmer`` fits).
    refit
        Refit REML fits with ML first (lme4's default); ``False`` compares the criteria as
        fitted (REML criteria are comparable only between models with the same fixed effects).
    names
        Row labels (default: the formulas).

    Returns
    -------
    DataFrame
        Columns npar, AIC, BIC, logLik, deviance, Chisq, Df, Pr(>Chisq); one row per model.
    """
    if len(models) < 2:
        raise ModelError("a likelihood-ratio test needs at least two models")
    for m in models:
        result_kind(m)
    if names is None:
        names = [m.formula for m in models]
    names = list(names)
    if len(names) != len(models):
        raise ModelError(f"{len(names)} names for {len(models)} models")
    if len(set(names)) < len(names):
        names = [f"{n} [{k + 1}]" for k, n in enumerate(names)]
    _same_kind(models)
    _same_data(models)
    fitted = list(models)
    is_reml = [result_kind(m) == "lmm" and bool(m.reml) for m in fitted]
    if any(is_reml):
        if refit:
            from multilevel.inference.refit import refit as refit_model

            fitted = [refit_model(m, reml=False) if r else m for m, r in zip(fitted, is_reml,
                                                                            strict=True)]
        else:
            if not all(is_reml):
                raise ModelError(
                    "refit=False with a mix of REML and ML fits: their criteria are not "
                    "comparable; use refit=True"
                )
            xnames = {tuple(m.design.xnames) for m in fitted}
            if len(xnames) > 1:
                warnings.warn(
                    "comparing REML criteria of models with different fixed effects is not "
                    "meaningful; use refit=True to compare ML fits",
                    MultilevelWarning,
                    stacklevel=3,
                )
    npar = np.array([m.npar for m in fitted])
    order = np.argsort(npar, kind="stable")
    rows = [fitted[k] for k in order]
    llk = np.array([m.loglik for m in rows])
    npar_sorted = npar[order]
    chisq = np.r_[np.nan, 2.0 * np.maximum(0.0, np.diff(llk))]
    dfs = np.r_[np.nan, np.diff(npar_sorted)].astype(float)
    with np.errstate(invalid="ignore"):
        pval = np.where(dfs > 0, stats.chi2.sf(chisq, np.where(dfs > 0, dfs, 1)), np.nan)
    pval[0] = np.nan
    return pd.DataFrame(
        {
            "npar": npar_sorted,
            "AIC": [m.aic for m in rows],
            "BIC": [m.bic for m in rows],
            "logLik": llk,
            "deviance": -2.0 * llk,
            "Chisq": chisq,
            "Df": dfs,
            "Pr(>Chisq)": pval,
        },
        index=pd.Index([names[k] for k in order], name="model"),
    )


def anova(*models: Any, refit: bool = True, ddf: Any = "satterthwaite",
          names: Sequence[str] | None = None) -> pd.DataFrame:
    """Compare nested models by likelihood-ratio tests, or test the terms of one model.

    Parameters
    ----------
    *models
        One model (type III F tests of its fixed-effect terms, as ``result.anova()``), or two
        or more nested models of the same data (lme4's ``anova(m0, m1)``; linear mixed models
        or GLMMs, not a mix).
    refit
        With several models: refit REML fits with ML first (default, as lme4).
    ddf
        With one model: the denominator df method of the F tests.
    names
        With several models: row labels (default: the formulas).

    Returns
    -------
    DataFrame
        For several models the columns npar, AIC, BIC, logLik, deviance, Chisq, Df,
        Pr(>Chisq).

    Examples
    --------
    >>> import multilevel as ml
    >>> d = ml.datasets.load("sleepstudy")
    >>> m0 = ml.fit("Reaction ~ Days + (1 | Subject)", d)
    >>> m1 = ml.fit("Reaction ~ Days + (Days | Subject)", d)
    >>> round(float(ml.anova(m0, m1)["Chisq"].iloc[1]), 2)
    42.14
    """
    if len(models) == 1:
        from multilevel.inference.type3 import anova_type3

        return anova_type3(models[0], ddf=ddf)
    return lrt_table(*models, refit=refit, names=names)
