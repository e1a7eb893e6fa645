"""``augment``: the data with fitted values, residuals and conditional modes per row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import NotSupportedError
from multilevel.report import _access as acc


def _as_pandas(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "to_pandas"):
        out = data.to_pandas()
        if isinstance(out, pd.DataFrame):
            return out
    return pd.DataFrame(data)


def _series(value: Any) -> pd.Series | None:
    if callable(value):
        value = value()
    return value if isinstance(value, pd.Series) else None


def augment(result: Any, data: Any = None) -> pd.DataFrame:
    """The data with per-row model quantities, as broom.mixed's ``augment``.

    Parameters
    ----------
    result
        A fitted result that keeps its fitted values (LMM, GLMM, OLS, ...); not a stored
        result (it has no data).
    data
        The data to augment (pandas or polars). Default: the data the model was fitted to.
        Rows are matched to the fit by index label; rows the fit did not use (dropped for
        missing values) get NaN.

    Returns
    -------
    pandas.DataFrame
        A copy of the data with columns ``.fitted`` (for GLMMs on the link scale, as lme4's
        ``predict``), ``.resid`` (response residuals; deviance residuals for GLMMs, as lme4's
        ``residuals``), ``.fixed`` (the fixed-effects part Xβ, plus any offset; mixed models),
        ``.mu`` (fitted mean on the response scale; GLMMs) and, for mixed models, one column
        ``.ranef.<group>.<term>`` per random effect with the conditional mode of that row's
        level.

    Raises
    ------
    NotSupportedError
        If the result has no fitted values (stored results) or no data is given or kept.
    """
    kind = acc.result_kind(result)
    if data is None:
        data = getattr(result, "data", None)
    fitted = _series(getattr(result, "fitted", None))
    resid = _series(getattr(result, "residuals", None))
    if fitted is None or resid is None:
        raise NotSupportedError(
            f"augment needs a fitted result with fitted values; a {type(result).__name__} "
            "has none (stored results keep no data: refit, or augment the live result)"
        )
    if data is None:
        raise NotSupportedError("augment needs the data: pass data=...")
    out = _as_pandas(data).copy()
    index = fitted.index
    columns: dict[str, np.ndarray] = {}
    predict = getattr(result, "predict", None)
    if kind == "glmm" and callable(predict):
        columns[".fitted"] = np.asarray(predict(type="link"), dtype=float)
        columns[".resid"] = resid.to_numpy(dtype=float)
    else:
        columns[".fitted"] = fitted.to_numpy(dtype=float)
        columns[".resid"] = resid.to_numpy(dtype=float)
    design = getattr(result, "design", None)
    if design is not None and hasattr(design, "X"):
        coef = acc.coefficients(result).to_numpy(dtype=float)
        fixed = np.asarray(design.X @ coef, dtype=float)
        offset = getattr(design, "offset", None)
        columns[".fixed"] = fixed if offset is None else fixed + np.asarray(offset, dtype=float)
    if kind == "glmm":
        columns[".mu"] = fitted.to_numpy(dtype=float)
    columns.update(_modes_per_row(result))
    for name, values in columns.items():
        out[name] = pd.Series(values, index=index).reindex(out.index)
    return out


def _modes_per_row(result: Any) -> dict[str, np.ndarray]:
    """Each row's conditional mode of every random effect (mixed models with a design)."""
    design = getattr(result, "design", None)
    terms = getattr(design, "terms", None)
    if not terms:
        return {}
    codes: dict[str, np.ndarray] = {}
    for t in terms:
        codes.setdefault(str(t.group), np.asarray(t.grouping.codes))
    out: dict[str, np.ndarray] = {}
    for group, frame in acc.ranef(result).items():
        if group not in codes:
            continue
        rows = codes[group]
        for term in frame.columns:
            out[f".ranef.{group}.{term}"] = frame[term].to_numpy(dtype=float)[rows]
    return out
