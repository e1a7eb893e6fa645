"""Fitted values, residuals and predictions per partition, returned as Dask series.

A :class:`Predictor` is the part of a fitted model that predicting needs (specs, kept columns,
β, the conditional modes and the fitted levels' labels); it is put in the graph once and every
partition is encoded and predicted on the workers. It is built from any
:class:`~multilevel.result.LMMResult`, fitted in memory or on Dask, so predictions of an
in-memory fit on a Dask DataFrame work the same way. New data follow lme4's ``predict``: rows
with a missing value give NaN; a level not seen in fitting is an error unless
``allow_new_levels`` (then its random effects are zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic import ModelSpec
from numpy.typing import NDArray

from multilevel.dask.encode import spec_matrix
from multilevel.dask.levels import complete_rows, is_numeric
from multilevel.design.fixed import numeric_column, term_matrix
from multilevel.design.grouping import _r_number
from multilevel.design.numeric import NumericSpec
from multilevel.design.random import _group_columns
from multilevel.design.response import evaluate_expression, response_vector
from multilevel.errors import DataError, ModelError
from multilevel.formula import ParsedFormula

FloatArray = NDArray[np.float64]
ObjectArray = NDArray[np.object_]

_NAMES = {"fitted": "fitted", "residuals": "residuals", "scaled": "residuals", "predict": "fit"}


def is_dask(obj: Any) -> bool:
    """True for a Dask collection (DataFrame or Series)."""
    return type(obj).__module__.startswith("dask")


@dataclass(frozen=True)
class TermPredictor:
    """What predicting needs of one random-effects term.

    Attributes
    ----------
    group
        The grouping factor's name.
    columns
        Its columns.
    labels
        The fitted levels' labels, in code order.
    spec
        The spec of the term's columns (None for an intercept).
    cnames
        The term's column names.
    b
        Conditional modes, (nlevels, q).
    effects
        Columns used by the term's left side.
    """

    group: str
    columns: tuple[str, ...]
    labels: pd.Index
    spec: ModelSpec | NumericSpec | None
    cnames: tuple[str, ...]
    b: FloatArray
    effects: tuple[str, ...]


@dataclass(frozen=True)
class Predictor:
    """What predicting needs of a fitted model (small; shipped to the workers once).

    Attributes
    ----------
    formula
        The parsed formula.
    frame
        The model frame's columns with no rows (their types and categories).
    fixed_spec
        The spec of X; ``nspec`` its number of columns and ``kept`` the fitted ones.
    beta
        Fixed effects.
    offset, weights
        Column names of the offset and the prior weights, or None.
    terms
        The random-effects terms kept by ``re_form``.
    allow_new_levels
        Levels not seen in fitting get zero random effects (else an error).
    """

    formula: ParsedFormula
    frame: pd.DataFrame
    fixed_spec: ModelSpec | NumericSpec | None
    xnames: tuple[str, ...]
    nspec: int
    kept: NDArray[np.intp]
    beta: FloatArray
    offset: str | None
    weights: str | None
    terms: tuple[TermPredictor, ...]
    allow_new_levels: bool

    def needed(self) -> list[str]:
        """Columns a prediction for new data needs."""
        cols = list(self.formula.fixed.variables)
        cols += [v for f in self.formula.offsets for v in f.variables]
        if self.offset is not None:
            cols.append(self.offset)
        for t in self.terms:
            cols += list(t.effects) + list(t.columns)
        return list(dict.fromkeys(cols))


def predictor(result: Any, re_form: Any = None, allow_new_levels: bool = False) -> Predictor:
    """The predictor of a fitted linear mixed model (in memory or on Dask)."""
    from multilevel.inference.newdata import keep_terms

    d = result.design
    opts = result.options
    for what, value in (("offset", opts.offset), ("weights", opts.weights)):
        if value is not None and not isinstance(value, str):
            raise ModelError(
                f"the model was fitted with {what} given as an array; to predict on a Dask "
                f"DataFrame give it as a column name ({what}='col')"
            )
    names = tuple(d.xnames)
    if d.dropped_columns:
        names = term_matrix(d.formula.fixed, d.frame.data, opts.contrasts).names
    kept = np.asarray([names.index(n) for n in d.xnames], dtype=np.intp)
    terms = tuple(
        TermPredictor(
            group=t.group,
            columns=_group_columns(t.term.group, t.term.name),
            labels=pd.Index(list(t.grouping.levels), dtype=object),
            spec=t.spec,
            cnames=tuple(t.cnames),
            b=np.asarray(result.estimates.b[k]),
            effects=tuple(t.term.effects.variables),
        )
        for k, t in enumerate(d.terms)
        if k in set(keep_terms(result, re_form))
    )
    return Predictor(
        formula=d.formula,
        frame=d.frame.data.iloc[:0].copy(),
        fixed_spec=d.fixed_spec,
        xnames=names,
        nspec=len(names),
        kept=kept,
        beta=np.asarray(result.estimates.beta),
        offset=opts.offset,
        weights=opts.weights,
        terms=terms,
        allow_new_levels=allow_new_levels,
    )


def _conform(sub: pd.DataFrame, frame: pd.DataFrame, skip: set[str]) -> pd.DataFrame:
    """New rows with the model frame's types: logicals as FALSE/TRUE, the fitted categories."""
    for name in sub.columns:
        if name not in frame.columns or name in skip:
            continue
        ref, col = frame[name], sub[name]
        if pd.api.types.is_bool_dtype(col.dtype) and not isinstance(col.dtype, pd.CategoricalDtype):
            col = pd.Series(np.where(col.to_numpy(dtype=bool), "TRUE", "FALSE"), index=col.index)
        if isinstance(ref.dtype, pd.CategoricalDtype):
            cats = ref.cat.categories
            lookup = pd.Index([str(c) for c in cats], dtype=object)
            pos = lookup.get_indexer(pd.Index(col.astype(str).to_numpy(dtype=object)))
            if np.any(pos < 0):
                unknown = sorted(set(col.astype(str)[pos < 0]))
                raise DataError(
                    f"new data have levels of {name!r} the model was not fitted with: "
                    f"{unknown[:5]}; known levels are {[str(c) for c in cats][:10]}"
                )
            sub[name] = pd.Categorical.from_codes(pos, categories=cats, ordered=ref.cat.ordered)
        elif ref.dtype == object and not is_numeric(col.dtype):
            sub[name] = col.astype(object)
        else:
            sub[name] = col
    return sub


def _labels(col: pd.Series) -> ObjectArray:
    """Level labels of a grouping column, as the fitted grouping factor prints them."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return np.asarray(col.astype(str).to_numpy(dtype=object))
    if pd.api.types.is_bool_dtype(col.dtype):
        return np.where(col.to_numpy(dtype=bool), "TRUE", "FALSE").astype(object)
    if is_numeric(col.dtype):
        uniq, inverse = np.unique(col.to_numpy(dtype=float), return_inverse=True)
        return np.asarray([_r_number(v) for v in uniq], dtype=object)[inverse]
    return np.asarray(col.astype(str).to_numpy(dtype=object))


def _eta(pred: Predictor, sub: pd.DataFrame) -> FloatArray:
    m = len(sub)
    x = spec_matrix(pred.fixed_spec, pred.nspec, sub, pred.xnames)[:, pred.kept]
    eta = x @ pred.beta
    if pred.offset is not None:
        eta = eta + numeric_column(sub[pred.offset], f"the offset column {pred.offset!r}")
    for expr in pred.formula.offsets:
        eta = eta + evaluate_expression(expr, sub)
    for t in pred.terms:
        labels = _labels(sub[t.columns[0]])
        for c in t.columns[1:]:
            labels = labels + ":" + _labels(sub[c])
        code = t.labels.get_indexer(pd.Index(labels))
        known = code >= 0
        if not known.all() and not pred.allow_new_levels:
            new = sorted(set(labels[~known].tolist()))
            raise DataError(
                f"new data have levels of {t.group!r} not in the fitted model "
                f"({new[:5]}{' ...' if len(new) > 5 else ''}); pass allow_new_levels=True to "
                "predict them with zero random effects, or re_form='~0' for population-level "
                "predictions"
            )
        z = np.ones((m, 1)) if t.spec is None else spec_matrix(t.spec, len(t.cnames), sub,
                                                                t.cnames)
        contrib = np.zeros(m)
        contrib[known] = np.einsum("ij,ij->i", z[known], t.b[code[known]])
        eta = eta + contrib
    return np.asarray(eta, dtype=float)


def predict_partition(part: pd.DataFrame, pred: Predictor, mode: str) -> pd.Series:
    """Predictions for one partition.

    ``mode`` is "predict" (every row; NaN where a needed value is missing), or "fitted",
    "residuals", "scaled" (the model's complete rows only, as in memory; "scaled" multiplies
    the residuals by the square root of the prior weights).
    """
    name = _NAMES[mode]
    if mode == "predict":
        needed = pred.needed()
        mask = np.ones(len(part), dtype=bool)
        for c in needed:
            mask &= part[c].notna().to_numpy()
    else:
        needed = list(pred.frame.columns)
        mask, _ = complete_rows(part, needed)
    fixed_vars = set(pred.formula.fixed.variables)
    for t in pred.terms:
        fixed_vars |= set(t.effects)
    groups = {c for t in pred.terms for c in t.columns} - fixed_vars
    sub = _conform(part.loc[mask, needed].reset_index(drop=True), pred.frame, groups)
    eta = _eta(pred, sub) if len(sub) else np.zeros(0)
    if mode == "predict":
        out = np.full(len(part), np.nan)
        out[mask] = eta
        return pd.Series(out, index=part.index, name=name)
    index = part.index[mask]
    if mode == "fitted":
        return pd.Series(eta, index=index, name=name)
    assert pred.formula.response is not None
    y = response_vector(pred.formula.response, sub) if len(sub) else np.zeros(0)
    r = y - eta
    if mode == "scaled" and pred.weights is not None:
        r = r * np.sqrt(numeric_column(sub[pred.weights], "the weights"))
    return pd.Series(r, index=index, name=name)


def _map(data: Any, pred: Predictor, mode: str, columns: list[str]) -> Any:
    import dask

    meta = pd.Series(np.zeros(0), name=_NAMES[mode], index=data._meta.index[:0])
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataError(f"new data lack columns the model uses: {missing}")
    # a graph node, not a scattered future: the series may be computed later, elsewhere
    shared = dask.delayed(pred, pure=True)
    return data[columns].map_partitions(predict_partition, shared, mode, meta=meta)


def fitted_dask(result: Any, mode: str) -> Any:
    """Fitted values ("fitted"), residuals ("residuals") or scaled residuals ("scaled") of a fit
    on Dask, as a Dask series over the fitted DataFrame's complete rows."""
    pred = predictor(result)
    return _map(result.data, pred, mode, list(pred.frame.columns))


def predict_dask(
    result: Any,
    newdata: Any,
    re_form: Any = None,
    allow_new_levels: bool = False,
    fitted_rows: bool = False,
) -> Any:
    """Predictions of a linear mixed model on a Dask DataFrame, as a Dask series.

    Parameters
    ----------
    result
        A fitted linear mixed model (in memory or on Dask).
    newdata
        A Dask DataFrame.
    re_form
        Random effects to include: None (all), "~0" (none) or a formula of some terms.
    allow_new_levels
        Predict levels not seen in fitting with zero random effects (otherwise an error).
    fitted_rows
        Predict the model's complete rows only (the fitted data), as ``predict()`` without
        new data does in memory.

    Returns
    -------
    dask Series
        Named "fit"; NaN for rows with missing values (unless ``fitted_rows``).
    """
    pred = predictor(result, re_form, allow_new_levels)
    if fitted_rows:
        out = _map(newdata, pred, "fitted", list(pred.frame.columns))
        return out.rename("fit")
    return _map(newdata, pred, "predict", pred.needed())
