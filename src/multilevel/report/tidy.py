"""``tidy``: estimates as a long DataFrame with broom.mixed's column names.

``effects="fixed"`` gives the fixed effects (regression coefficients), ``"ran_pars"`` the
random-effects SDs and correlations and the residual SD, ``"ran_vals"`` the conditional modes.
Rows follow broom.mixed: fixed effects in the model's order; random-effect parameters per group
in lme4's lower-triangle order (``sd__(Intercept)``, ``cor__(Intercept).Days``, ``sd__Days``),
the residual last (``sd__Observation``); conditional modes per group, term, then level.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import ModelError, NotSupportedError
from multilevel.lazy import stats
from multilevel.report import _access as acc

EFFECTS = ("fixed", "ran_pars", "ran_vals")

#: Column order of broom.mixed's ``tidy`` (columns absent from a result are left out).
COLUMNS = (
    "effect", "group", "level", "term", "estimate", "std.error", "statistic", "df", "p.value",
    "conf.low", "conf.high",
)


def _effects(effects: str | Iterable[str]) -> list[str]:
    wanted = [effects] if isinstance(effects, str) else list(effects)
    unknown = [e for e in wanted if e not in EFFECTS]
    if unknown or not wanted:
        raise ModelError(
            f"effects must be one or more of {', '.join(map(repr, EFFECTS))}, not {effects!r}"
        )
    return [e for e in EFFECTS if e in wanted]


def _critical(level: float, df: pd.Series | None, n: int) -> np.ndarray:
    q = 0.5 + level / 2.0
    if df is None:
        return np.full(n, stats.norm.ppf(q))
    return np.asarray(stats.t.ppf(q, df.to_numpy(dtype=float)), dtype=float)


def _from_coef_table(result: Any, ddf: Any, conf_int: bool, level: float) -> pd.DataFrame:
    method = getattr(result, "coef_table", None)
    if not callable(method):
        raise NotSupportedError(
            f"ddf={ddf!r} needs the result's coef_table() (linear mixed models fitted now, not "
            "stored results); give ddf=None"
        )
    table = method(ddf=ddf, level=level)
    out = pd.DataFrame({
        "effect": "fixed",
        "group": None,
        "term": table["term"].astype(str).to_numpy(),
        "estimate": table["estimate"].to_numpy(dtype=float),
        "std.error": table["std.error"].to_numpy(dtype=float),
        "statistic": table["statistic"].to_numpy(dtype=float),
        "df": table["df"].to_numpy(dtype=float),
        "p.value": table["p.value"].to_numpy(dtype=float),
    })
    if conf_int:
        out["conf.low"] = table["conf.low"].to_numpy(dtype=float)
        out["conf.high"] = table["conf.high"].to_numpy(dtype=float)
    return out


def tidy_fixed(
    result: Any, conf_int: bool = False, conf_level: float = 0.95, ddf: Any = None
) -> pd.DataFrame:
    """The fixed-effects rows of :func:`tidy` (see there)."""
    kind = acc.result_kind(result)
    if ddf is not None:
        return _from_coef_table(result, ddf, conf_int, conf_level)
    coef = acc.coefficients(result)
    se = acc.std_errors(result, coef)
    df = acc.term_df(result, coef)
    est = coef.to_numpy(dtype=float)
    err = se.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / err
    out = pd.DataFrame({
        "effect": "fixed",
        "group": None,
        "term": [str(t) for t in coef.index],
        "estimate": est,
        "std.error": err,
    })
    if kind != "bayes":
        out["statistic"] = stat
    if df is not None:
        out["df"] = df.to_numpy(dtype=float)
        out["p.value"] = 2.0 * stats.t.sf(np.abs(stat), df.to_numpy(dtype=float))
    elif kind not in ("lmm", "bayes"):
        out["p.value"] = 2.0 * stats.norm.sf(np.abs(stat))
    if conf_int:
        lower, upper = _intervals(result, kind, coef, err, df, acc.check_level(conf_level))
        out["conf.low"], out["conf.high"] = lower, upper
    return out


def _intervals(
    result: Any, kind: str, coef: pd.Series, se: np.ndarray, df: pd.Series | None, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bayesian results: their own (credible) intervals; everything else: Wald intervals on
    t(df) where df is known, else on the normal distribution (broom.mixed's ``"Wald"``)."""
    method = getattr(result, "conf_int", None)
    if kind == "bayes" and callable(method):
        ci = method(level)
        ci = ci.reindex(coef.index)
        return ci.iloc[:, 0].to_numpy(dtype=float), ci.iloc[:, 1].to_numpy(dtype=float)
    half = _critical(level, df, len(coef)) * se
    est = coef.to_numpy(dtype=float)
    return est - half, est + half


def _ran_pars_order(vc: pd.DataFrame) -> list[int]:
    """Row positions of a varcorr frame in lme4's lower-triangle order per group."""
    order: list[int] = []
    groups = list(dict.fromkeys(g for g in vc["grp"] if g != "Residual"))
    for g in groups:
        part = vc[vc["grp"] == g]
        sds = [i for i, v2 in zip(part.index, part["var2"], strict=True) if _missing(v2)]
        for i in sds:
            order.append(int(i))
            name = vc.at[i, "var1"]
            order.extend(int(j) for j in part.index
                         if not _missing(part.at[j, "var2"]) and part.at[j, "var1"] == name)
    order.extend(int(i) for i in vc.index[vc["grp"] == "Residual"])
    return order


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def ran_pars_term(var1: Any, var2: Any) -> str:
    """broom.mixed's name of a random-effects parameter: ``sd__x``, ``cor__x.y``,
    ``sd__Observation`` (the residual)."""
    if _missing(var1):
        return "sd__Observation"
    return f"sd__{var1}" if _missing(var2) else f"cor__{var1}.{var2}"


def tidy_ran_pars(result: Any, conf_int: bool = False) -> pd.DataFrame:
    """The random-effects parameter rows of :func:`tidy` (see there)."""
    vc = acc.varcorr(result).reset_index(drop=True)
    rows = [vc.loc[i] for i in _ran_pars_order(vc)]
    out = pd.DataFrame({
        "effect": "ran_pars",
        "group": [str(r["grp"]) for r in rows],
        "term": [ran_pars_term(r["var1"], r["var2"]) for r in rows],
        "estimate": np.array([r["sdcor"] for r in rows], dtype=float),
        "std.error": np.nan,
    })
    if conf_int:
        out["conf.low"] = np.nan
        out["conf.high"] = np.nan
    return out


def tidy_ran_vals(result: Any, conf_int: bool = False, conf_level: float = 0.95) -> pd.DataFrame:
    """The conditional-mode rows of :func:`tidy` (see there)."""
    modes = acc.ranef(result)
    sds = acc.ranef_sd(result)
    parts: list[pd.DataFrame] = []
    for group, frame in modes.items():
        sd = sds.get(group) if sds is not None else None
        for term in frame.columns:
            values = frame[term].to_numpy(dtype=float)
            errors = (sd[term].to_numpy(dtype=float) if sd is not None and term in sd.columns
                      else np.full(len(values), np.nan))
            parts.append(pd.DataFrame({
                "effect": "ran_vals",
                "group": group,
                "level": [str(v) for v in frame.index],
                "term": str(term),
                "estimate": values,
                "std.error": errors,
            }))
    columns = ["effect", "group", "level", "term", "estimate", "std.error"]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {c: pd.Series([], dtype=float if c in ("estimate", "std.error") else object)
         for c in columns})
    if conf_int:
        mult = stats.norm.ppf(0.5 + acc.check_level(conf_level) / 2.0)
        out["conf.low"] = out["estimate"] - mult * out["std.error"]
        out["conf.high"] = out["estimate"] + mult * out["std.error"]
    return out


def tidy(
    result: Any,
    effects: str | Iterable[str] = ("ran_pars", "fixed"),
    conf_int: bool = False,
    conf_level: float = 0.95,
    ddf: Any = None,
) -> pd.DataFrame:
    """Estimates of a fitted model as a long DataFrame, as broom.mixed's ``tidy``.

    Parameters
    ----------
    result
        Any result of the library (LMM, GLMM, Bayesian, OLS, panel, two-stage) or a
        :class:`~multilevel.report.stored.StoredResult`.
    effects
        ``"fixed"``, ``"ran_pars"``, ``"ran_vals"`` or several of them (default: random-effect
        parameters and fixed effects, as broom.mixed). Rows come fixed, ran_pars, ran_vals.
    conf_int
        Add ``conf.low`` and ``conf.high``: Wald intervals (on t(df) where the result has
        per-coefficient df, else on the normal distribution, as broom.mixed's default
        ``conf.method = "Wald"``); credible intervals for Bayesian results; NaN for random-effect
        parameters; estimate ± z·SD for conditional modes (NaN without conditional SDs).
    conf_level
        Confidence level.
    ddf
        Linear mixed models only: ``"satterthwaite"`` or ``"kenward-roger"`` adds ``df`` and
        ``p.value`` from the result's ``coef_table`` (as broom.mixed on an lmerTest fit).
        Default None: like a plain lme4 fit, no df and no p-values.

    Returns
    -------
    pandas.DataFrame
        Columns ``effect``, ``group`` (None for fixed effects; ``"Residual"`` for the
        residual), ``level`` (with ``"ran_vals"``), ``term``, ``estimate``, ``std.error``,
        ``statistic`` (estimate / SE; not for Bayesian results), ``df`` and ``p.value`` where
        known (t tests of workflow results; z tests of GLMMs), ``conf.low`` and ``conf.high``.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.report import tidy
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> tidy(m, effects="ran_pars")["term"].tolist()
    ['sd__(Intercept)', 'cor__(Intercept).Days', 'sd__Days', 'sd__Observation']
    """
    wanted = _effects(effects)
    parts: list[pd.DataFrame] = []
    if "fixed" in wanted:
        parts.append(tidy_fixed(result, conf_int, conf_level, ddf))
    if "ran_pars" in wanted:
        parts.append(tidy_ran_pars(result, conf_int))
    if "ran_vals" in wanted:
        parts.append(tidy_ran_vals(result, conf_int, conf_level))
    parts = [p for p in parts if len(p)] or parts[:1]
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return out.loc[:, [c for c in COLUMNS if c in out.columns]].reset_index(drop=True)
