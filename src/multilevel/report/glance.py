"""``glance``: one row of model-level statistics with broom.mixed's column names."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from multilevel.report import _access as acc


def glance(result: Any) -> pd.DataFrame:
    """Model-level statistics in one row, as broom.mixed's ``glance``.

    Parameters
    ----------
    result
        Any result of the library, or a :class:`~multilevel.report.stored.StoredResult`.

    Returns
    -------
    pandas.DataFrame
        One row: ``nobs``, ``sigma`` (residual SD; 1 for binomial and Poisson GLMMs, as lme4),
        ``logLik``, ``AIC``, ``BIC``, ``deviance`` (``REMLcrit`` instead for REML fits, as
        broom.mixed: the REML criterion is not a deviance), ``df.residual`` (observations
        minus estimated parameters, or the result's own residual df), and ``r.squared`` for
        results that have an R². Statistics a result does not have are NaN.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.report import glance
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> glance(m).columns.tolist()
    ['nobs', 'sigma', 'logLik', 'AIC', 'BIC', 'REMLcrit', 'df.residual']
    """
    nobs = acc.scalar(result, "nobs")
    row: dict[str, float] = {
        "nobs": nobs,
        "sigma": acc.sigma(result),
        "logLik": acc.scalar(result, "loglik"),
        "AIC": acc.scalar(result, "aic"),
        "BIC": acc.scalar(result, "bic"),
    }
    deviance = acc.scalar(result, "deviance")
    row["REMLcrit" if getattr(result, "reml", False) is True else "deviance"] = deviance
    row["df.residual"] = df_residual(result)
    r2 = acc.scalar(result, "r2")
    if math.isfinite(r2):
        row["r.squared"] = r2
    out = pd.DataFrame([row])
    if math.isfinite(nobs):
        out["nobs"] = out["nobs"].astype(int)
    return out


def df_residual(result: Any) -> float:
    """Residual df: the result's ``df_resid`` or ``df_residual``, else nobs - npar (lme4's
    ``df.residual``), else NaN."""
    for name in ("df_resid", "df_residual"):
        value = acc.scalar(result, name)
        if math.isfinite(value):
            return value
    return acc.scalar(result, "nobs") - acc.scalar(result, "npar")
