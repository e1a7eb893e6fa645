"""Encoding new data with a fitted model's stored specs (for predict and emmeans).

Fixed effects are re-encoded with the fitted formulaic spec (the dropped rank-deficient columns
left out), each random-effects term with its own spec (None for a plain intercept), and grouping
factors are matched to the fitted levels by their labels.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.frame import as_pandas
from multilevel.design.response import evaluate_expression
from multilevel.errors import DataError, ModelError
from multilevel.formula import parse_formula

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def _normalize(df: pd.DataFrame, frame: pd.DataFrame, skip: set[str]) -> pd.DataFrame:
    """New data as the model frame had it: logicals as FALSE/TRUE factors, the fitted
    categories for categorical columns (except the grouping columns in ``skip``, whose new
    levels are handled by the caller)."""
    out = df.copy()
    for name in frame.columns:
        if name not in out.columns or name in skip:
            continue
        ref = frame[name]
        col = out[name]
        if pd.api.types.is_bool_dtype(col):
            col = pd.Series(np.where(col.to_numpy(dtype=bool), "TRUE", "FALSE"), index=col.index)
        if isinstance(ref.dtype, pd.CategoricalDtype):
            cats = list(ref.cat.categories)
            values = col.astype(object).where(col.notna(), None)
            labels = values.map(lambda v: v if v is None else str(v))
            unknown = sorted({v for v in labels.dropna().unique() if v not in set(map(str, cats))})
            if unknown:
                raise DataError(
                    f"new data have levels of {name!r} the model was not fitted with: "
                    f"{unknown[:5]}; known levels are {[str(c) for c in cats][:10]}"
                )
            mapping = {str(c): c for c in cats}
            out[name] = pd.Categorical(labels.map(mapping), categories=cats,
                                       ordered=ref.cat.ordered)
        else:
            out[name] = col
    return out


@dataclass(frozen=True)
class EncodedData:
    """New data encoded for a fitted model.

    Attributes
    ----------
    complete
        True for rows with every needed column present.
    X
        Fixed-effects matrix of the complete rows.
    offset
        Offset of the complete rows (zeros without one).
    z
        Per random-effects term: its columns for the complete rows.
    codes
        Per term: the fitted level of each complete row, -1 for a level not seen in fitting.
    index
        The new data's row labels.
    """

    complete: NDArray[np.bool_]
    X: FloatArray
    offset: FloatArray
    z: tuple[FloatArray, ...]
    codes: tuple[IntArray, ...]
    index: pd.Index


def _group_labels(df: pd.DataFrame, columns: tuple[str, ...]) -> NDArray[np.object_]:
    parts = []
    for c in columns:
        col = df[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            parts.append(col.astype(str).to_numpy())
        elif pd.api.types.is_bool_dtype(col):
            parts.append(np.where(col.to_numpy(dtype=bool), "TRUE", "FALSE"))
        elif pd.api.types.is_numeric_dtype(col):
            vals = col.to_numpy(dtype=float)
            parts.append(np.array([str(int(v)) if float(v).is_integer() else repr(float(v))
                                   for v in vals], dtype=object))
        else:
            parts.append(col.astype(str).to_numpy())
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = np.array([f"{a}:{b}" for a, b in zip(out, p, strict=True)], dtype=object)
    return out


def _spec_matrix(spec: Any, df: pd.DataFrame) -> FloatArray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mm = spec.get_model_matrix(df, na_action="ignore")
    return np.asarray(mm.to_numpy(dtype=float) if hasattr(mm, "to_numpy") else mm, dtype=float)


def _group_columns(term: Any) -> tuple[str, ...]:
    return tuple(v for g in term.term.group for v in g.variables)


def keep_terms(result: Any, re_form: Any) -> list[int]:
    """Positions of the random-effects terms ``re_form`` keeps (None: all; "~0"/"NA": none)."""
    terms = result.design.terms
    if re_form is None:
        return list(range(len(terms)))
    text = str(re_form).strip()
    if text in ("NA", "~0", "~ 0", "0", "~-1", "~ -1") or text.replace(" ", "") in ("~0", "~-1"):
        return []
    if not text.startswith("~"):
        text = "~ " + text
    parsed = parse_formula(text)
    keep = []
    for rt in parsed.random:
        key = (rt.name, rt.effects.text)
        found = [k for k, t in enumerate(terms) if (t.term.name, t.term.effects.text) == key]
        if not found:
            raise ModelError(
                f"re_form term ({rt.text}) is not a random-effects term of the model; its terms "
                f"are {[f'({t.term.text})' for t in terms]}"
            )
        keep.extend(found)
    return sorted(set(keep))


def encode(result: Any, newdata: Any, terms: list[int], allow_new_levels: bool) -> EncodedData:
    """Encode ``newdata`` for the fixed effects and the random-effects terms listed."""
    d = result.design
    df = as_pandas(newdata)
    frame = d.frame.data
    needed = list(d.formula.fixed.variables)
    needed += [v for f in d.formula.offsets for v in f.variables]
    for k in terms:
        t = d.terms[k]
        needed += list(t.term.effects.variables) + list(_group_columns(t))
    offset_opt = result.options.offset
    if isinstance(offset_opt, str):
        needed.append(offset_opt)
    elif offset_opt is not None:
        raise ModelError(
            "the model was fitted with an offset given as an array; for new data give it as a "
            "column name (offset='col') or in the formula (offset(col))"
        )
    needed = list(dict.fromkeys(needed))
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataError(f"new data lack columns the model uses: {missing}")
    complete = np.ones(len(df), dtype=bool)
    for c in needed:
        complete &= df[c].notna().to_numpy()
    fixed_vars = set(d.formula.fixed.variables)
    for k in terms:
        fixed_vars |= set(d.terms[k].term.effects.variables)
    groups = {c for k in terms for c in _group_columns(d.terms[k])} - fixed_vars
    sub = _normalize(df.loc[complete, needed].reset_index(drop=True), frame, groups)
    m = int(complete.sum())
    if d.fixed_spec is None:
        x = np.ones((m, 1)) if d.xnames == ("(Intercept)",) else np.zeros((m, 0))
    else:
        full = _spec_matrix(d.fixed_spec, sub)
        x = full[:, _kept_columns(result)]
    off = np.zeros(m)
    for expr in d.formula.offsets:
        off = off + evaluate_expression(expr, sub)
    if isinstance(offset_opt, str):
        off = off + sub[offset_opt].to_numpy(dtype=float)
    zs, codes = [], []
    for k in terms:
        t = d.terms[k]
        z = np.ones((m, 1)) if t.spec is None else _spec_matrix(t.spec, sub)
        labels = _group_labels(sub, _group_columns(t))
        lookup = {lev: i for i, lev in enumerate(t.grouping.levels)}
        code = np.array([lookup.get(lab, -1) for lab in labels], dtype=np.intp)
        if np.any(code < 0) and not allow_new_levels:
            new = sorted(set(labels[code < 0].tolist()))
            raise DataError(
                f"new data have levels of {t.group!r} not in the fitted model "
                f"({new[:5]}{' ...' if len(new) > 5 else ''}); pass allow_new_levels=True to "
                "predict them with zero random effects, or re_form='~0' for population-level "
                "predictions"
            )
        zs.append(z)
        codes.append(code)
    return EncodedData(complete, x, off, tuple(zs), tuple(codes), df.index)


def _kept_columns(result: Any) -> list[int]:
    """Positions of the fitted X's columns among the spec's columns (rank-deficient ones
    dropped at fit time are left out)."""
    from multilevel.design.fixed import term_matrix

    d = result.design
    if not d.dropped_columns:
        return list(range(len(d.xnames)))
    names = list(term_matrix(d.formula.fixed, d.frame.data, result.options.contrasts).names)
    return [names.index(n) for n in d.xnames]
