"""Duck-typed access to any result the library makes (the one place that knows their shapes).

Every reporting function reads results through these helpers, so LMM, GLMM, Bayesian, workflow
(OLS, panel, two-stage) and stored results (:class:`~multilevel.report.stored.StoredResult`)
give the same numbers by the same route. A result needs at least coefficients (``fixef`` or
``coef``) with standard errors (``se``) or a covariance (``vcov``); everything else is optional:

``nobs``, ``ngroups`` (a mapping group → levels, or an int with ``group``/``cluster`` naming
it), ``varcorr`` (lme4's ``as.data.frame(VarCorr())`` frame), ``sigma`` / ``sigma2``, ``df``
(per-coefficient t-test df), ``icc()``, ``aic``, ``bic``, ``loglik``, ``deviance``, ``r2``,
``r2()`` (Nakagawa's R² of mixed models), ``ranef`` (group → levels × terms),
``ranef_table()`` (conditional SDs), ``fitted``,
``residuals``. A class may declare its kind with a ``report_kind`` string attribute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import ModelError, MultilevelError

VARCORR_COLUMNS = ("grp", "var1", "var2", "vcov", "sdcor")

#: Result kinds and what they are.
KINDS = {
    "lmm": "linear mixed model",
    "glmm": "generalized linear mixed model",
    "bayes": "Bayesian mixed model",
    "mixed": "other mixed model",
    "ols": "ordinary least squares",
    "panel": "panel estimator",
    "two_stage": "two-stage estimates",
    "coef": "other estimates with standard errors",
}

#: Mixed-model kinds: fixed-effect intervals are Wald intervals on the normal distribution.
MIXED_KINDS = ("lmm", "glmm", "mixed")


def result_kind(result: Any) -> str:
    """The kind of a result: one of :data:`KINDS`.

    Raises
    ------
    TypeError
        If ``result`` has neither ``fixef`` nor ``coef``.
    """
    declared = getattr(result, "report_kind", None)
    if isinstance(declared, str):
        return declared
    from multilevel.glmm.result import GLMMResult
    from multilevel.result import LMMResult

    if isinstance(result, LMMResult):
        return "lmm"
    if isinstance(result, GLMMResult):
        return "glmm"
    if "bayes" in type(result).__name__.lower():
        return "bayes"
    try:
        from multilevel.workflow import OLSResult, PanelResult, TwoStageResult
    except ImportError:  # pragma: no cover - the workflow is built alongside
        pass
    else:
        classes = ((OLSResult, "ols"), (PanelResult, "panel"), (TwoStageResult, "two_stage"))
        for cls, name in classes:
            if isinstance(result, cls):
                return name
    if hasattr(result, "fixef") and hasattr(result, "varcorr"):
        return "mixed"
    if hasattr(result, "fixef") or hasattr(result, "coef"):
        return "coef"
    raise TypeError(
        f"cannot report a {type(result).__name__}: it has neither fixef nor coef"
    )


def _series(value: Any) -> pd.Series | None:
    if isinstance(value, pd.Series):
        return value.astype(float)
    if isinstance(value, Mapping):
        return pd.Series({str(k): float(v) for k, v in value.items()}, dtype=float)
    return None


def coefficients(result: Any) -> pd.Series:
    """Fixed-effect (or regression) estimates by term: ``fixef``, else ``coef``."""
    for name in ("fixef", "coef"):
        value = _series(getattr(result, name, None))
        if value is not None:
            out = value.copy()
            out.name = "estimate"
            return out
    raise TypeError(f"cannot report a {type(result).__name__}: it has neither fixef nor coef")


def covariance(result: Any) -> pd.DataFrame | None:
    """Covariance matrix of the estimates (``vcov``), or None."""
    value = getattr(result, "vcov", None)
    if callable(value):
        value = value()
    return value.astype(float) if isinstance(value, pd.DataFrame) else None


def std_errors(result: Any, coef: pd.Series) -> pd.Series:
    """Standard errors by term (``se``, else the root of ``vcov``'s diagonal, else NaN)."""
    se = _series(getattr(result, "se", None))
    if se is None:
        cov = covariance(result)
        if cov is not None:
            se = pd.Series(np.sqrt(np.diag(cov.to_numpy())), index=cov.index, dtype=float)
    if se is None:
        return pd.Series(np.nan, index=coef.index, name="std.error")
    out = se.reindex(coef.index)
    out.name = "std.error"
    return out


def term_df(result: Any, coef: pd.Series) -> pd.Series | None:
    """Per-coefficient t-test degrees of freedom (``inf`` for z tests), or None if not known."""
    df = _series(getattr(result, "df", None))
    if df is None or not set(coef.index) <= set(df.index):
        return None
    out = df.reindex(coef.index)
    out.name = "df"
    return out


def empty_varcorr() -> pd.DataFrame:
    """A variance-components frame with no rows."""
    return pd.DataFrame({c: pd.Series([], dtype=float if c in ("vcov", "sdcor") else object)
                         for c in VARCORR_COLUMNS})


def _residual_row(sigma: float) -> dict[str, Any]:
    return {"grp": "Residual", "var1": None, "var2": None, "vcov": sigma**2, "sdcor": sigma}


def varcorr(result: Any) -> pd.DataFrame:
    """Variance components as lme4's ``as.data.frame(VarCorr(fit))`` (grp, var1, var2, vcov,
    sdcor); for results without random effects, the residual SD (and a panel's group SD)."""
    value = getattr(result, "varcorr", None)
    if callable(value):
        value = value()
    if isinstance(value, pd.DataFrame) and set(VARCORR_COLUMNS) <= set(value.columns):
        return value.loc[:, list(VARCORR_COLUMNS)].reset_index(drop=True)
    rows: list[dict[str, Any]] = []
    sigma2 = getattr(result, "sigma2", None)
    if isinstance(sigma2, Mapping) and {"id", "idios"} <= set(sigma2):
        group = str(getattr(result, "group", "") or "group")
        var = float(sigma2["id"])
        rows.append({"grp": group, "var1": "(Intercept)", "var2": None, "vcov": var,
                     "sdcor": math.sqrt(var) if var >= 0 else math.nan})
        rows.append(_residual_row(math.sqrt(float(sigma2["idios"]))))
    elif isinstance(sigma2, int | float) and math.isfinite(sigma2) and sigma2 >= 0:
        rows.append(_residual_row(math.sqrt(float(sigma2))))
    else:
        sigma = getattr(result, "sigma", None)
        if isinstance(sigma, int | float) and math.isfinite(sigma):
            rows.append(_residual_row(float(sigma)))
    if not rows:
        return empty_varcorr()
    frame = pd.DataFrame(rows, columns=list(VARCORR_COLUMNS))
    return frame.astype({"grp": object, "var1": object, "var2": object,
                         "vcov": float, "sdcor": float})


def ngroups(result: Any) -> dict[str, int]:
    """Levels of each grouping factor (or cluster), as a mapping group → count."""
    value = getattr(result, "ngroups", None)
    if isinstance(value, Mapping):
        return {str(k): int(v) for k, v in value.items()}
    if isinstance(value, int | np.integer) and value > 0:
        name = getattr(result, "group", None) or getattr(result, "cluster", None) or "group"
        return {str(name): int(value)}
    intercepts = getattr(result, "intercepts", None)
    if isinstance(intercepts, pd.DataFrame) and len(intercepts):
        name = intercepts.index.name or "group"
        return {str(name): len(intercepts)}
    return {}


def scalar(result: Any, name: str) -> float:
    """A numeric attribute (or property) of a result; NaN when it has none or it is a method."""
    value = getattr(result, name, None)
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return math.nan
    return float(value)


def sigma(result: Any) -> float:
    """Residual SD: ``sigma``, else the varcorr's residual row, else NaN."""
    value = scalar(result, "sigma")
    if math.isfinite(value):
        return value
    vc = varcorr(result)
    res = vc[vc["grp"] == "Residual"]
    return float(res["sdcor"].iloc[0]) if len(res) else math.nan


_ICC_ERRORS = (MultilevelError, ValueError, KeyError, ZeroDivisionError, NotImplementedError)


def icc(result: Any) -> tuple[float, float]:
    """Adjusted and conditional ICC (totals over grouping factors), NaN where not defined.

    Uses ``result.icc()`` when the result has it; otherwise, for a single random intercept
    plus a residual in ``varcorr``, the adjusted ICC τ² / (τ² + σ²).
    """
    method = getattr(result, "icc", None)
    if callable(method):
        try:
            try:
                value = method(by_group=False)
            except TypeError:
                value = method()
        except _ICC_ERRORS:
            value = None
        parsed = _parse_icc(value)
        if parsed is not None:
            return parsed
    vc = varcorr(result)
    resid = vc[vc["grp"] == "Residual"]
    rand = vc[vc["grp"] != "Residual"]
    if len(resid) == 1 and len(rand) == 1 and rand["var1"].iloc[0] == "(Intercept)":
        tau2, s2 = float(rand["vcov"].iloc[0]), float(resid["vcov"].iloc[0])
        total = tau2 + s2
        return (tau2 / total if total > 0 else math.nan), math.nan
    return math.nan, math.nan


def _parse_icc(value: Any) -> tuple[float, float] | None:
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return float(value), math.nan
    if isinstance(value, pd.DataFrame) and len(value):
        row = (value.loc["total"] if "total" in value.index else value.iloc[0]).to_dict()
        first = next(iter(row.values()))
        adj = float(row.get("adjusted", first))
        cond = float(row.get("conditional", math.nan))
        return adj, cond
    if isinstance(value, pd.Series) and len(value):
        return float(value.iloc[0]), math.nan
    if isinstance(value, Mapping) and "adjusted" in value:
        conditional: Any = value.get("conditional")
        return float(value["adjusted"]), math.nan if conditional is None else float(conditional)
    return None


def r2_mixed(result: Any) -> tuple[float, float]:
    """Nakagawa's marginal and conditional R² of a mixed model (its ``r2()`` method, or a
    stored ``r2_nakagawa`` mapping), NaN where not available."""
    stored = getattr(result, "r2_nakagawa", None)
    if isinstance(stored, Mapping):
        return (_float_or_nan(stored.get("marginal")), _float_or_nan(stored.get("conditional")))
    method = getattr(result, "r2", None)
    if not callable(method):
        return math.nan, math.nan
    try:
        value = method()
    except _ICC_ERRORS:
        return math.nan, math.nan
    return (_float_or_nan(getattr(value, "marginal", None)),
            _float_or_nan(getattr(value, "conditional", None)))


def _float_or_nan(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return math.nan
    return float(value)


def ranef(result: Any) -> dict[str, pd.DataFrame]:
    """Conditional modes: group → DataFrame (levels × terms); empty for non-mixed results."""
    value = getattr(result, "ranef", None)
    if callable(value):
        value = value()
    if isinstance(value, Mapping):
        return {str(g): f for g, f in value.items() if isinstance(f, pd.DataFrame)}
    return {}


_RANEF_COLUMNS = {
    "group": ("grpvar", "group"),
    "level": ("grp", "level"),
    "term": ("term",),
    "sd": ("condsd", "std.error", "se", "sd"),
}


def ranef_sd(result: Any) -> dict[str, pd.DataFrame] | None:
    """Conditional SDs of the random effects (same shapes as :func:`ranef`), when the result
    offers them through ``ranef_table()``; None otherwise.

    ``ranef_table()`` is read in lme4's ``as.data.frame(ranef(fit, condVar = TRUE))`` layout
    (columns grpvar, term, grp, condval, condsd) or broom.mixed's (group, term, level,
    estimate, std.error).
    """
    method = getattr(result, "ranef_table", None)
    if not callable(method):
        return None
    try:
        table = method()
    except MultilevelError:  # e.g. not implemented for GLMMs
        return None
    if not isinstance(table, pd.DataFrame):
        return None
    cols: dict[str, str] = {}
    for key, names in _RANEF_COLUMNS.items():
        found = next((n for n in names if n in table.columns), None)
        if found is None:
            return None
        cols[key] = found
    modes = ranef(result)
    out: dict[str, pd.DataFrame] = {}
    lookup = {
        (str(g), str(t), str(lv)): float(v)
        for g, t, lv, v in zip(table[cols["group"]], table[cols["term"]], table[cols["level"]],
                               table[cols["sd"]], strict=True)
    }
    for group, frame in modes.items():
        levels = [str(v) for v in frame.index]
        out[group] = pd.DataFrame(
            {term: [lookup.get((group, str(term), lv), math.nan) for lv in levels]
             for term in frame.columns},
            index=frame.index, dtype=float,
        )
    return out


def check_level(level: float) -> float:
    """A confidence level strictly between 0 and 1."""
    if not (isinstance(level, int | float) and 0.0 < float(level) < 1.0):
        raise ModelError(f"conf_level must be between 0 and 1, not {level!r}")
    return float(level)
