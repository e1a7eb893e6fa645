"""The table of fixed effects with tests: t tests with Satterthwaite, Kenward-Roger or residual
denominator df, or z tests; optionally with a supplied (e.g. cluster-robust) covariance.

GLMMs get Wald z tests (lme4's ``summary`` of a ``glmer`` fit), from the covariance of β̂ given
by the Hessian of the objective over (θ, β)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import ModelError, NotSupportedError
from multilevel.inference._common import result_kind
from multilevel.lazy import stats

DEFAULT = "default"

_ALIASES = {
    "satterthwaite": "satterthwaite",
    "kenward-roger": "kenward-roger",
    "kenward_roger": "kenward-roger",
    "kr": "kenward-roger",
    "residual": "residual",
    "z": None,
    "asymptotic": None,
    "normal": None,
}


def normalize_ddf(ddf: Any) -> str | float | None:
    """Canonical name of a ddf method (or a fixed number of df, or None for z tests)."""
    if ddf is None:
        return None
    if isinstance(ddf, int | float) and not isinstance(ddf, bool):
        if not ddf > 0:
            raise ModelError(f"ddf must be positive, got {ddf}")
        return float(ddf)
    if isinstance(ddf, str) and ddf.lower() in _ALIASES:
        return _ALIASES[ddf.lower()]
    raise ModelError(
        f"unknown ddf {ddf!r}; use 'satterthwaite', 'kenward-roger', 'residual', a number, "
        "or None for z tests"
    )


def check_kr(result: Any) -> None:
    """Kenward-Roger is defined for REML fits (as lmerTest requires)."""
    if not result.reml:
        raise ModelError(
            "Kenward-Roger's method needs a REML fit: refit with reml=True (or use "
            "ddf='satterthwaite')"
        )


def contrast_tests(
    result: Any,
    L: np.ndarray,
    ddf: Any = "satterthwaite",
    vcov: Any = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Estimate, SE, df, statistic, p-value and confidence limits of each row ℓ of L (ℓᵀβ).

    Parameters
    ----------
    result
        A fitted linear mixed model (or a GLMM, with ``vcov`` given and ddf None, "residual"
        or a number).
    L
        Contrast matrix, one row per contrast, one column per fixed effect.
    ddf
        "satterthwaite", "kenward-roger", "residual", a number, or None (z tests).
    vcov
        Covariance of β̂ to use instead of the model's (only with ddf None, "residual" or a
        number).
    level
        Confidence level of the intervals.
    """
    method = normalize_ddf(ddf)
    L = np.atleast_2d(np.asarray(L, dtype=float))
    beta = np.asarray(result.beta_hat, dtype=float)
    if vcov is not None:
        if method in ("satterthwaite", "kenward-roger"):
            raise ModelError(
                f"ddf={ddf!r} is derived from the model's covariance of the fixed effects; "
                "with a supplied vcov use ddf=None (z tests, as Stata's mixed with "
                "vce(cluster)), 'residual' or a number of df"
            )
        v = np.asarray(vcov.to_numpy() if isinstance(vcov, pd.DataFrame) else vcov, float)
        if v.shape != (beta.size, beta.size):
            raise ModelError(f"vcov must be {beta.size} x {beta.size}, got {v.shape}")
    elif method == "kenward-roger":
        from multilevel.inference.kenward_roger import kr_adjusted

        check_kr(result)
        v = kr_adjusted(result).vcov_adjusted
    else:
        v = result.sigma**2 * np.asarray(result.estimates.vcov_unscaled)
    est = L @ beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", L, v, L))
    if method == "satterthwaite":
        from multilevel.inference.satterthwaite import ddf_1d, satterthwaite_info

        info = satterthwaite_info(result)
        df = np.array([ddf_1d(info, row) for row in L])
    elif method == "kenward-roger":
        from multilevel.inference.kenward_roger import kr_adjusted, kr_test

        kr = kr_adjusted(result)
        df = np.array([kr_test(kr, row).dendf for row in L])
    elif method == "residual":
        df = np.full(L.shape[0], float(result.nobs - beta.size))
    elif method is None:
        df = np.full(L.shape[0], np.inf)
    else:
        df = np.full(L.shape[0], float(method))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = est / se
    alpha = 1.0 - level
    if not 0.0 < level < 1.0:
        raise ModelError(f"level must be between 0 and 1, got {level}")
    crit = np.where(np.isinf(df), stats.norm.ppf(1 - alpha / 2), stats.t.ppf(1 - alpha / 2, df))
    pval = np.where(
        np.isinf(df), 2 * stats.norm.sf(np.abs(statistic)), 2 * stats.t.sf(np.abs(statistic), df)
    )
    return pd.DataFrame(
        {
            "estimate": est,
            "std.error": se,
            "df": df,
            "statistic": statistic,
            "p.value": pval,
            "conf.low": est - crit * se,
            "conf.high": est + crit * se,
        }
    )


def check_glmm_ddf(ddf: Any) -> None:
    """A GLMM's fixed effects get z tests only: a clear error for the df methods."""
    if ddf == DEFAULT or normalize_ddf(ddf) is None:
        return
    raise NotSupportedError(
        f"ddf={ddf!r} is not available for generalized linear mixed models: their fixed "
        "effects are tested with Wald z tests (as lme4's summary of a glmer fit); use "
        "ddf=None (the default for GLMMs)"
    )


def coef_table(
    result: Any, ddf: Any = DEFAULT, vcov: Any = None, level: float = 0.95
) -> pd.DataFrame:
    """One row per fixed effect: estimate, standard error, df, t (or z), p-value, CI.

    Parameters
    ----------
    result
        A fitted linear or generalized linear mixed model.
    ddf
        Denominator degrees of freedom: "satterthwaite" (default; lmerTest's method),
        "kenward-roger" (pbkrtest's adjusted covariance and df; REML fits), "residual"
        (n - p), a number, or None for z tests. With ``vcov`` the default is None. For GLMMs
        the default, and the only test offered, is the Wald z test (lme4's ``summary``: for
        Gamma and inverse Gaussian fits lme4 labels the column "t value" but takes the
        p-value from the normal distribution, as here); Satterthwaite and Kenward-Roger raise
        NotSupportedError.
    vcov
        A covariance matrix of β̂ to use instead of the model's, e.g.
        ``result.vcov_robust()``.
    level
        Confidence level.

    Returns
    -------
    DataFrame
        Columns term, estimate, std.error, df, statistic, p.value, conf.low, conf.high (df is
        inf for z tests).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(float(m.coef_table()["df"].iloc[1]), 2)
    17.0
    """
    if result_kind(result) == "glmm":
        check_glmm_ddf(ddf)
        ddf = None
        if vcov is None:
            vcov = result.vcov_matrix
    elif ddf == DEFAULT:
        ddf = None if vcov is not None else "satterthwaite"
    p = len(result.design.xnames)
    table = contrast_tests(result, np.eye(p), ddf=ddf, vcov=vcov, level=level)
    table.insert(0, "term", list(result.design.xnames))
    return table
