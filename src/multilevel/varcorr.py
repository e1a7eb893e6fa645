"""Variance components: θ and σ turned into lme4's ``as.data.frame(VarCorr(fit))``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def varcorr_frame(
    labels: Sequence[str],
    cnames: Sequence[Sequence[str]],
    lambdas: Sequence[FloatArray],
    sigma: float,
    residual: bool = True,
) -> pd.DataFrame:
    """One row per variance, then per covariance, of each term; then the residual.

    Parameters
    ----------
    labels
        Unique group label of each term (``Subject``, ``Subject.1``).
    cnames
        Column names of each term.
    lambdas
        Relative covariance factor Λ of each term.
    sigma
        Residual standard deviation (the scale of Λ).
    residual
        Add the residual row (Gaussian models).

    Returns
    -------
    DataFrame
        Columns grp, var1, var2, vcov, sdcor: as R's ``as.data.frame(VarCorr(fit))``, where
        ``vcov`` is a variance or covariance and ``sdcor`` an SD or a correlation.
    """
    rows: list[dict[str, object]] = []
    for label, names, lam in zip(labels, cnames, lambdas, strict=True):
        cov = sigma**2 * (lam @ lam.T)
        sd = np.sqrt(np.diag(cov))
        for i, name in enumerate(names):
            rows.append(
                {"grp": label, "var1": name, "var2": None, "vcov": cov[i, i], "sdcor": sd[i]}
            )
        q = len(names)
        for j in range(q):
            for i in range(j + 1, q):
                denom = sd[i] * sd[j]
                corr = cov[i, j] / denom if denom > 0 else np.nan
                rows.append(
                    {
                        "grp": label,
                        "var1": names[j],
                        "var2": names[i],
                        "vcov": cov[i, j],
                        "sdcor": corr,
                    }
                )
    if residual:
        rows.append(
            {"grp": "Residual", "var1": None, "var2": None, "vcov": sigma**2, "sdcor": sigma}
        )
    index = pd.RangeIndex(len(rows))
    columns: dict[str, Any] = {}
    for key in ("grp", "var1", "var2"):  # object columns, as R's character ones with NA
        values = np.empty(len(rows), dtype=object)
        values[:] = [r[key] for r in rows]
        columns[key] = pd.Series(values, index=index, dtype=object, copy=False)
    for key in ("vcov", "sdcor"):
        columns[key] = np.array([r[key] for r in rows], dtype=float)
    return pd.DataFrame(columns, index=index, copy=False)
