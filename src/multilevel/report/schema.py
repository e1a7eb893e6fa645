"""The versioned JSON schema of results: ``result.to_dict()``, ``to_json()``, the CLI's
``--json`` and :func:`from_json`.

One schema serves every kind of result (``kind``: lmm, glmm, bayes, mixed, ols, panel,
two_stage, coef). Every key of :data:`JSON_SCHEMA` is always present; what does not apply to a
kind is ``null``. Non-finite numbers are written as ``null`` (strict JSON). Version policy:
``schema_version`` is ``"MAJOR.MINOR"``; a minor version only adds keys, so readers of 1.x
accept every 1.y; a major version changes or removes keys and :func:`from_json` refuses
majors it does not know.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from multilevel.errors import DataError
from multilevel.report import _access as acc

SCHEMA_ID = "multilevel.result"
SCHEMA_VERSION = "1.0"

_NUM = {"type": ["number", "null"]}
_STR = {"type": ["string", "null"]}
_TERM_MAP = {"type": "object", "additionalProperties": {"type": ["number", "null"]}}
_RANEF = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {"levels": {"type": "array", "items": {"type": "string"}}},
        "required": ["levels"],
        "additionalProperties": {"type": "array", "items": {"type": ["number", "null"]}},
    },
}

#: The schema as JSON Schema (draft 2020-12); each property says what it holds.
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"urn:{SCHEMA_ID}:{SCHEMA_VERSION}",
    "title": "A fitted multilevel result",
    "type": "object",
    "required": [
        "schema", "schema_version", "kind", "class", "multilevel_version", "formula", "method",
        "family", "link", "reml", "nagq", "nobs", "ngroups", "npar", "fixef", "se", "df",
        "statistic", "vcov", "conf_int", "theta", "sigma", "varcorr", "ranef", "ranef_sd",
        "objective", "loglik", "aic", "bic", "deviance", "df_residual", "icc", "r2", "r2_nakagawa",
        "converged", "singular", "warnings", "notes", "optimizer", "extra",
    ],
    "additionalProperties": True,
    "properties": {
        "schema": {"const": SCHEMA_ID, "description": "Always \"multilevel.result\"."},
        "schema_version": {
            "type": "string", "pattern": r"^1\.[0-9]+$",
            "description": "MAJOR.MINOR; minor versions only add keys.",
        },
        "kind": {
            "enum": list(acc.KINDS),
            "description": "; ".join(f"{k}: {v}" for k, v in acc.KINDS.items()),
        },
        "class": {"type": "string", "description": "Python class of the result."},
        "multilevel_version": {"type": "string", "description": "Library version that wrote it."},
        "formula": {**_STR, "description": "The model formula as given."},
        "method": {
            **_STR,
            "description": "Estimation method: REML or ML (lmm), Laplace or AGQ (glmm), the "
            "estimator's name (workflow results).",
        },
        "family": {**_STR, "description": "Response family (\"gaussian\" for LMMs)."},
        "link": {**_STR, "description": "Link function."},
        "reml": {"type": ["boolean", "null"], "description": "True for REML fits."},
        "nagq": {"type": ["integer", "null"], "description": "GLMM quadrature points."},
        "nobs": {"type": "integer", "description": "Number of observations used."},
        "ngroups": {
            "type": "object", "additionalProperties": {"type": "integer"},
            "description": "Levels of each grouping factor (or cluster), most levels first.",
        },
        "npar": {"type": ["integer", "null"], "description": "Number of estimated parameters."},
        "fixef": {**_TERM_MAP, "description": "Fixed effects (coefficients) by term, in order."},
        "se": {**_TERM_MAP, "description": "Standard errors (posterior SDs) by term."},
        "df": {
            "type": ["object", "null"], "additionalProperties": {"type": ["number", "null"]},
            "description": "t-test df of each term (a null entry: normal reference); null "
            "when the result has no df (LMMs without a ddf method, GLMMs).",
        },
        "statistic": {
            "enum": ["t", "z", None],
            "description": "What estimate / SE is compared with: t (df above, or none), z.",
        },
        "vcov": {
            "type": ["array", "null"],
            "items": {"type": "array", "items": {"type": ["number", "null"]}},
            "description": "Covariance matrix of the estimates, rows and columns in fixef order.",
        },
        "conf_int": {
            "type": ["object", "null"],
            "properties": {"level": {"type": "number"}, "lower": _TERM_MAP, "upper": _TERM_MAP},
            "description": "Stored intervals where they cannot be recomputed from estimate, SE "
            "and df (Bayesian credible intervals); else null.",
        },
        "theta": {
            "type": ["array", "null"], "items": {"type": ["number", "null"]},
            "description": "Relative covariance parameters in lme4's order.",
        },
        "sigma": {**_NUM, "description": "Residual standard deviation."},
        "varcorr": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["grp", "var1", "var2", "vcov", "sdcor"],
                "properties": {
                    "grp": {"type": "string"}, "var1": _STR, "var2": _STR,
                    "vcov": _NUM, "sdcor": _NUM,
                },
            },
            "description": "Variance components as lme4's as.data.frame(VarCorr(fit)): a "
            "variance (var2 null) or covariance per row, sdcor the SD or correlation; the "
            "residual has grp \"Residual\" and var1 null.",
        },
        "ranef": {**_RANEF, "description": "Conditional modes: group → {levels, term: values}."},
        "ranef_sd": {
            **_RANEF, "type": ["object", "null"],
            "description": "Conditional SDs in the shape of ranef, or null when not computed.",
        },
        "objective": {**_NUM, "description": "Optimized criterion (-2 logLik or REML crit)."},
        "loglik": {**_NUM, "description": "Log-likelihood (REML log-likelihood for REML)."},
        "aic": {**_NUM, "description": "Akaike's information criterion."},
        "bic": {**_NUM, "description": "Schwarz's Bayesian information criterion."},
        "deviance": {**_NUM, "description": "-2 logLik (the REML criterion for REML fits)."},
        "df_residual": {**_NUM, "description": "Residual df (nobs - npar for mixed models)."},
        "icc": {
            "type": ["object", "null"],
            "properties": {"adjusted": _NUM, "conditional": _NUM},
            "description": "Adjusted and conditional ICC summed over grouping factors.",
        },
        "r2": {**_NUM, "description": "R² (OLS)."},
        "r2_nakagawa": {
            "type": ["object", "null"],
            "properties": {"marginal": _NUM, "conditional": _NUM},
            "description": "Nakagawa's marginal and conditional R² of mixed models.",
        },
        "converged": {"type": ["boolean", "null"], "description": "Optimizer converged."},
        "singular": {"type": ["boolean", "null"], "description": "Boundary (singular) fit."},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "notes": {"type": "array", "items": {"type": "string"}},
        "optimizer": {
            "type": ["object", "null"],
            "description": "What the optimizer did: name, feval, returnvalue.",
        },
        "extra": {
            "type": "object",
            "description": "Kind-specific settings: se_type, cluster (ols), model, group "
            "(panel), level1_terms, level2_terms (two_stage), nb_theta (glmm).",
        },
    },
}


# -- checking ----------------------------------------------------------------------------------
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


def _type_ok(value: Any, types: str | list[str]) -> bool:
    names = [types] if isinstance(types, str) else types
    for name in names:
        if name in ("integer", "number") and isinstance(value, bool):
            continue
        if isinstance(value, _TYPES[name]):
            return True
    return False


def _check(value: Any, schema: Mapping[str, Any], path: str, errors: list[str]) -> None:
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if "type" in schema and not _type_ok(value, schema["type"]):
        errors.append(f"{path}: expected {schema['type']}, got {type(value).__name__}")
        return
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing key {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                _check(item, props[key], f"{path}.{key}", errors)
            elif isinstance(extra, Mapping):
                _check(item, extra, f"{path}.{key}", errors)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{path}[{i}]", errors)


def validate(payload: Any) -> None:
    """Check a dict against :data:`JSON_SCHEMA` (the subset of JSON Schema it uses).

    Raises
    ------
    DataError
        Listing every violation found.
    """
    errors: list[str] = []
    _check(payload, JSON_SCHEMA, "$", errors)
    if errors:
        raise DataError("not a multilevel result (schema 1.x):\n  " + "\n  ".join(errors[:20]))


# -- reading -----------------------------------------------------------------------------------
_LEGACY = {"multilevel.lmm/1": "lmm", "multilevel.glmm/1": "glmm"}


def upgrade(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload in the current schema: 1.x as is, the pre-schema ``multilevel.lmm/1`` and
    ``multilevel.glmm/1`` dicts of earlier versions completed with nulls.

    Raises
    ------
    DataError
        For other schemas and for major versions other than 1.
    """
    data = dict(payload)
    schema = data.get("schema")
    if schema in _LEGACY:
        kind = _LEGACY[str(schema)]
        data.update(schema=SCHEMA_ID, schema_version=SCHEMA_VERSION, kind=kind)
        data.setdefault("class", "LMMResult" if kind == "lmm" else "GLMMResult")
        data.setdefault("multilevel_version", "unknown")
        if kind == "lmm":
            data.setdefault("method", "REML" if data.get("reml") else "ML")
            data.setdefault("link", "identity")
        data.setdefault("statistic", "t" if kind == "lmm" else "z")
        for key in JSON_SCHEMA["required"]:
            data.setdefault(key, [] if key in ("warnings", "notes") else
                            {} if key == "extra" else None)
        return data
    if schema != SCHEMA_ID:
        raise DataError(f"not a multilevel result: schema is {schema!r}, not {SCHEMA_ID!r}")
    version = str(data.get("schema_version", ""))
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise DataError(
            f"schema version {version!r} is not supported (this library reads "
            f"{SCHEMA_VERSION.split('.')[0]}.x); upgrade multilevel"
        )
    return data


def from_json(source: str | bytes | PathLike[str] | Mapping[str, Any] | Any) -> Any:
    """Read a result written by ``to_json()`` / ``to_dict()`` or the CLI's ``--json``.

    Parameters
    ----------
    source
        A JSON string, a path to a JSON file, an open file, or the dict itself.

    Returns
    -------
    StoredResult
        A frozen result offering what tables and plots need (``fixef``, ``se``, ``vcov``,
        ``varcorr``, ``ranef``, ``nobs``, ``ngroups``, ``aic``, ``bic``, ``loglik``,
        ``tidy()``, ``glance()``), without refitting.

    Raises
    ------
    DataError
        If the text is not JSON or not a result of a supported schema version.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.report import from_json, table
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> stored = from_json(m.to_json())
    >>> float(stored.fixef["Days"]) == float(m.fixef["Days"])
    True
    """
    from multilevel.report.stored import StoredResult

    if isinstance(source, Mapping):
        payload: Any = source
    else:
        if hasattr(source, "read"):
            text = source.read()
        elif isinstance(source, bytes):
            text = source.decode()
        elif isinstance(source, str) and source.lstrip().startswith("{"):
            text = source
        else:
            path = Path(source)
            if not path.is_file():
                raise DataError(f"no such file: {source}")
            text = path.read_text(encoding="utf-8")
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON: {exc}") from exc
    if not isinstance(payload, Mapping):
        raise DataError("not a multilevel result: the JSON is not an object")
    data = upgrade(payload)
    validate(data)
    return StoredResult.from_payload(data)
