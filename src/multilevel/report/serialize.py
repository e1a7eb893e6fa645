"""Writing a result as the versioned JSON payload of :mod:`multilevel.report.schema`.

:func:`result_to_dict` turns any result (``kind``: lmm, glmm, bayes, mixed, ols, panel,
two_stage, coef) into a dict with every key of the schema, ``null`` for what does not apply and
for non-finite numbers; the schema itself, its checks and the reader (:func:`from_json`) are in
:mod:`multilevel.report.schema`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from multilevel.report import _access as acc
from multilevel.report.schema import SCHEMA_ID, SCHEMA_VERSION


def _num(value: Any) -> float | None:
    """A finite float, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _term_map(series: pd.Series | None) -> dict[str, float | None] | None:
    if series is None:
        return None
    return {str(k): _num(v) for k, v in series.items()}


def _frames(frames: Mapping[str, pd.DataFrame] | None) -> dict[str, Any] | None:
    if frames is None:
        return None
    return {
        str(g): {"levels": [str(v) for v in f.index],
                 **{str(c): [_num(v) for v in f[c].to_numpy()] for c in f.columns}}
        for g, f in frames.items()
    }


def _bool(value: Any) -> bool | None:
    if callable(value):
        return None
    return bool(value) if isinstance(value, bool | np.bool_) else None


def _method(result: Any, kind: str) -> str | None:
    if kind == "lmm":
        return "REML" if getattr(result, "reml", False) else "ML"
    if kind == "glmm":
        nagq = int(getattr(result, "nagq", 1))
        return {0: "nAGQ = 0", 1: "Laplace"}.get(nagq, f"AGQ (nAGQ = {nagq})")
    method = getattr(result, "method", None)
    return method if isinstance(method, str) else None


def _family(result: Any, kind: str) -> tuple[str | None, str | None]:
    family = getattr(result, "family", None)
    if family is None:
        return ("gaussian", "identity") if kind in ("lmm", "ols", "panel") else (None, None)
    if isinstance(family, str):
        return family, _text(getattr(result, "link", None))
    link = getattr(family, "link", None)
    return _text(getattr(family, "name", family)), _text(getattr(link, "name", link))


def _statistic(kind: str, has_df: bool) -> str | None:
    if kind == "bayes":
        return None
    return "t" if has_df or kind == "lmm" else "z"


def _optimizer(result: Any) -> dict[str, Any] | None:
    opt = getattr(result, "optsummary", None)
    if opt is None:
        return None
    return {
        "name": _text(getattr(opt, "optimizer", None)),
        "feval": getattr(opt, "feval", None),
        "returnvalue": _text(getattr(opt, "returnvalue", None)),
    }


_EXTRA = {
    "se_type": "se_type", "cluster": "cluster", "model": "model", "group": "group",
    "level1_terms": "level1_terms", "level2_terms": "level2_terms", "nb_theta_opt": "nb_theta",
}


def _extra(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr, key in _EXTRA.items():
        value = getattr(result, attr, None)
        if isinstance(value, str) and value:
            out[key] = value
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        elif isinstance(value, float) and math.isfinite(value):
            out[key] = value
    return out


def _conf_int(result: Any, kind: str, coef: pd.Series) -> dict[str, Any] | None:
    method = getattr(result, "conf_int", None)
    if kind != "bayes" or not callable(method):
        return None
    ci = method(0.95).reindex(coef.index)
    return {"level": 0.95, "lower": _term_map(ci.iloc[:, 0]), "upper": _term_map(ci.iloc[:, 1])}


def _version() -> str:
    from multilevel import __version__

    return str(__version__)


def result_to_dict(result: Any) -> dict[str, Any]:
    """Any result as a dict of plain JSON values, in the documented schema.

    Parameters
    ----------
    result
        Any result of the library (LMM, GLMM, Bayesian, OLS, panel, two-stage) or a
        :class:`~multilevel.report.stored.StoredResult` (returned as stored).

    Returns
    -------
    dict
        Every key of :data:`JSON_SCHEMA`; ``null`` (None) for what does not apply and for
        non-finite numbers. ``json.dumps`` writes it as is (strict JSON).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.report.schema import result_to_dict
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> d = result_to_dict(m)
    >>> d["schema"], d["schema_version"], d["kind"], d["ngroups"]
    ('multilevel.result', '1.0', 'lmm', {'Subject': 18})
    """
    from multilevel.report.glance import df_residual
    from multilevel.report.stored import StoredResult

    if isinstance(result, StoredResult):
        return result.to_dict()
    kind = acc.result_kind(result)
    coef = acc.coefficients(result)
    df = acc.term_df(result, coef)
    cov = acc.covariance(result)
    vcov = None
    if cov is not None:
        mat = cov.reindex(index=coef.index, columns=coef.index).to_numpy(dtype=float)
        vcov = [[_num(v) for v in row] for row in mat]
    vc = acc.varcorr(result)
    icc_adj, icc_cond = acc.icc(result)
    r2_marginal, r2_conditional = acc.r2_mixed(result)
    theta = getattr(result, "theta", None)
    family, link = _family(result, kind)
    nobs = acc.scalar(result, "nobs")
    npar = acc.scalar(result, "npar")
    nagq = getattr(result, "nagq", None) if kind == "glmm" else None
    warnings = getattr(result, "warnings", ())
    notes = getattr(result, "notes", ())
    return {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "class": type(result).__name__,
        "multilevel_version": _version(),
        "formula": _text(getattr(result, "formula", None)) or None,
        "method": _method(result, kind),
        "family": family,
        "link": link,
        "reml": _bool(getattr(result, "reml", None)) if kind in acc.MIXED_KINDS else None,
        "nagq": int(nagq) if isinstance(nagq, int | np.integer) else None,
        "nobs": int(nobs) if math.isfinite(nobs) else 0,
        "ngroups": acc.ngroups(result),
        "npar": int(npar) if math.isfinite(npar) else None,
        "fixef": _term_map(coef),
        "se": _term_map(acc.std_errors(result, coef)),
        "df": _term_map(df),
        "statistic": _statistic(kind, df is not None),
        "vcov": vcov,
        "conf_int": _conf_int(result, kind, coef),
        "theta": ([_num(v) for v in np.asarray(theta, dtype=float).ravel()]
                  if isinstance(theta, np.ndarray) else None),
        "sigma": _num(acc.sigma(result)),
        "varcorr": [
            {"grp": str(r["grp"]), "var1": _text(r["var1"]), "var2": _text(r["var2"]),
             "vcov": _num(r["vcov"]), "sdcor": _num(r["sdcor"])}
            for r in vc.to_dict(orient="records")
        ],
        "ranef": _frames(acc.ranef(result)) or {},
        "ranef_sd": _frames(acc.ranef_sd(result)),
        "objective": _num(acc.scalar(result, "objective")),
        "loglik": _num(acc.scalar(result, "loglik")),
        "aic": _num(acc.scalar(result, "aic")),
        "bic": _num(acc.scalar(result, "bic")),
        "deviance": _num(acc.scalar(result, "deviance")),
        "df_residual": _num(df_residual(result)),
        "icc": (None if math.isnan(icc_adj) and math.isnan(icc_cond)
                else {"adjusted": _num(icc_adj), "conditional": _num(icc_cond)}),
        "r2": _num(acc.scalar(result, "r2")),
        "r2_nakagawa": (None if math.isnan(r2_marginal) and math.isnan(r2_conditional)
                        else {"marginal": _num(r2_marginal), "conditional": _num(r2_conditional)}),
        "converged": _bool(getattr(result, "converged", None)),
        "singular": _bool(getattr(result, "singular", None)),
        "warnings": [str(w) for w in warnings] if isinstance(warnings, tuple | list) else [],
        "notes": [str(n) for n in notes] if isinstance(notes, tuple | list) else [],
        "optimizer": _optimizer(result),
        "extra": _extra(result),
    }
