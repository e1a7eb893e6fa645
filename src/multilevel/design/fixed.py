"""Model matrices from R-style terms, built by formulaic, named and ordered as R does.

Used for the fixed effects and for the left side of each random-effects bar. Terms arrive in
R's order (from :mod:`multilevel.formula`), are handed to formulaic in that order
(``_ordering="none"``), and the columns get R's names. Factors get treatment contrasts with the
first level as reference; ordered factors get polynomial contrasts, as in R; ``contrasts=``
overrides per column ("treatment", "sum", "helmert", "poly").
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.frame import ModelFrame, as_model_frame
from multilevel.design.naming import r_column_names
from multilevel.design.numeric import NumericSpec, coded_spec, is_plain_numeric
from multilevel.errors import DataError, FormulaError
from multilevel.formula import Factor, ModelTerms
from multilevel.formula.render import PY_FUNCTIONS

if TYPE_CHECKING:  # formulaic is imported when a model needs it (slow to import)
    from formulaic import ModelSpec

FloatArray = NDArray[np.float64]

#: R functions a formula may call (R's math functions, and formulaic's stateful transforms).
KNOWN_FUNCTIONS: tuple[str, ...] = (
    *PY_FUNCTIONS,
    "I",
    "poly",
    "scale",
    "center",
    "offset",
    "as.numeric",
    "as.integer",
    "bs",
)

_CONTRASTS = {
    "treatment": "contr.treatment",
    "contr.treatment": "contr.treatment",
    "sum": "contr.sum",
    "contr.sum": "contr.sum",
    "helmert": "contr.helmert",
    "contr.helmert": "contr.helmert",
    "poly": "contr.poly",
    "contr.poly": "contr.poly",
}


@dataclass(frozen=True)
class TermMatrix:
    """A model matrix with R's column names.

    Attributes
    ----------
    matrix
        The columns, (n, p) float.
    names
        R's column names.
    spec
        formulaic's model spec (or a fast path's spec), to encode new data exactly the same way
        at predict time.
    """

    matrix: FloatArray
    names: tuple[str, ...]
    spec: ModelSpec | NumericSpec | None


def _factor_python(factor: Factor, frame: pd.DataFrame, contrasts: Mapping[str, str]) -> str:
    """The expression handed to formulaic, with contrasts wrapped around plain factors."""
    name = factor.text
    if name in frame.columns and len(factor.variables) == 1:
        col = frame[name]
        chosen = contrasts.get(name)
        if chosen is None and isinstance(col.dtype, pd.CategoricalDtype) and col.cat.ordered:
            chosen = "poly"
        if chosen is not None:
            if chosen not in _CONTRASTS:
                raise DataError(
                    f"unknown contrasts {chosen!r} for {name!r}; use one of "
                    "'treatment', 'sum', 'helmert', 'poly'"
                )
            return f"C({factor.python}, {_CONTRASTS[chosen]})"
    return factor.python


def evaluation_error(context: str, exc: Exception) -> FormulaError:
    """The error for an expression formulaic could not evaluate; names an unknown function.

    Parameters
    ----------
    context
        What was being evaluated, e.g. ``"cannot evaluate 'lgo(x)'"``.
    exc
        formulaic's exception.

    Returns
    -------
    FormulaError
        ``unknown function 'lgo' (did you mean 'log'?)`` when the cause is an undefined name,
        else the context followed by formulaic's message.
    """
    cause = exc.__cause__ or exc.__context__
    name = getattr(cause, "name", None)
    if isinstance(cause, NameError) and isinstance(name, str) and name:
        close = difflib.get_close_matches(name, KNOWN_FUNCTIONS, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        return FormulaError(f"{context}: unknown function {name!r}{hint}")
    return FormulaError(f"{context}: {exc}")


def term_matrix(
    terms: ModelTerms,
    frame: pd.DataFrame | ModelFrame,
    contrasts: Mapping[str, str] | None = None,
) -> TermMatrix:
    """Build the model matrix of ``terms`` on ``frame`` with R's names and column order.

    Parameters
    ----------
    terms
        Intercept flag and terms in R's order.
    frame
        The model frame (complete cases).
    contrasts
        Per-column contrasts overriding the defaults.

    Returns
    -------
    TermMatrix
    """
    mf = as_model_frame(frame)
    if not terms.terms:
        if terms.intercept:
            return TermMatrix(np.ones((mf.nrows, 1)), ("(Intercept)",), None)
        return TermMatrix(np.zeros((mf.nrows, 0)), (), None)
    spec = (
        NumericSpec(terms) if is_plain_numeric(terms, mf) else coded_spec(terms, mf, contrasts)
    )
    if spec is not None:
        return TermMatrix(spec.get_model_matrix(mf), spec.column_names, spec)
    return formulaic_matrix(terms, mf.data, contrasts)


def formulaic_matrix(
    terms: ModelTerms,
    frame: pd.DataFrame,
    contrasts: Mapping[str, str] | None = None,
) -> TermMatrix:
    """:func:`term_matrix` by formulaic, whatever the terms (the reference for the fast paths).

    Parameters
    ----------
    terms
        Intercept flag and terms in R's order.
    frame
        The model frame (complete cases).
    contrasts
        Per-column contrasts overriding the defaults.

    Returns
    -------
    TermMatrix
    """
    from formulaic import Formula

    contrasts = dict(contrasts or {})
    n = len(frame)
    pieces = [
        ":".join(_factor_python(f, frame, contrasts) for f in term.factors)
        for term in terms.terms
    ]
    if not pieces:
        if terms.intercept:
            return TermMatrix(np.ones((n, 1)), ("(Intercept)",), None)
        return TermMatrix(np.zeros((n, 0)), (), None)
    text = ("1 + " if terms.intercept else "0 + ") + " + ".join(pieces)
    try:
        # na_action="ignore": rows stay aligned with the frame (NaN is refused below)
        mm = Formula(text, _ordering="none").get_model_matrix(
            frame, output="pandas", na_action="ignore"
        )
    except Exception as exc:  # formulaic raises many kinds; name the model part
        raise evaluation_error(f"cannot build the model matrix for {text!r}", exc) from exc
    structure = list(mm.model_spec.structure)
    names: list[str] = []
    if terms.intercept:
        names.append("(Intercept)")
        structure = structure[1:]
    if len(structure) != len(terms.terms):
        raise FormulaError(f"unexpected term structure building {text!r}")
    for term, enc in zip(terms.terms, structure, strict=True):
        exprs = [str(f.expr) for f in enc.term.factors]
        texts = [f.text for f in term.factors]
        if len(exprs) != len(texts):
            names.extend(enc.columns)
        else:
            names.extend(r_column_names(enc.columns, exprs, texts))
    matrix = np.asarray(mm.to_numpy(dtype=float), dtype=float)
    if matrix.shape[1] != len(names):
        raise FormulaError(f"unexpected column count building {text!r}")
    finite = np.isfinite(matrix)
    if not finite.all():
        bad = [f"{names[j]!r} ({int((~finite[:, j]).sum())} rows)" for j in
               np.flatnonzero(~finite.all(axis=0))]
        raise DataError(
            f"missing or infinite values after evaluating {', '.join(bad)} (e.g. log of 0 or "
            "division by 0); transform the data first or drop those rows"
        )
    return TermMatrix(matrix, tuple(names), mm.model_spec)


def scaled_gram_cholesky(matrix: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    """The column norms d of X and the Cholesky factor L of D⁻¹ XᵀX D⁻¹ (D = diag(d)).

    Parameters
    ----------
    matrix
        X, (n, p).

    Returns
    -------
    tuple of arrays or None
        ``(d, L)``; None when a column is zero or not finite, or the factorization fails.
        |L_jj| is what is left of column j after projecting out the earlier ones, relative to
        its norm.
    """
    gram = matrix.T @ matrix
    norms = np.sqrt(np.diag(gram))
    if not (np.all(norms > 0) and np.all(np.isfinite(norms))):
        return None
    try:
        return norms, np.linalg.cholesky(gram / np.outer(norms, norms))
    except np.linalg.LinAlgError:
        return None


def independent_columns(
    matrix: FloatArray,
    tol: float = 1e-7,
    *,
    factor: tuple[FloatArray, FloatArray] | None = None,
) -> NDArray[np.intp]:
    """Indices of the columns to keep so that the matrix has full column rank.

    Columns are taken in order and one is dropped when what is left of it after projecting out
    the kept ones is smaller than ``tol`` times its norm: R's ``qr()`` (LINPACK dqrdc2), which
    lme4 uses, keeps the same columns. The common case is answered at once: the Cholesky factor
    of the column-scaled Gram matrix has |L_jj| equal to that relative remainder, and when all
    of them are far above ``tol`` (1e-4, where squaring the condition number costs nothing)
    every column is kept; otherwise the columns are taken one by one. ``factor`` is
    :func:`scaled_gram_cholesky` of the matrix when the caller has it already.
    """
    n, p = matrix.shape
    if p == 0:
        return np.zeros(0, dtype=np.intp)
    if n >= p:
        if factor is None:
            factor = scaled_gram_cholesky(matrix)
        if factor is not None and np.all(np.diag(factor[1]) > max(1e-4, 1e3 * tol)):
            return np.arange(p, dtype=np.intp)
    norms = np.linalg.norm(matrix, axis=0)
    keep: list[int] = []
    basis = np.zeros((n, min(n, p)))
    for j in range(p):
        if norms[j] == 0.0:
            continue
        q = basis[:, : len(keep)]
        res = matrix[:, j] - q @ (q.T @ matrix[:, j])
        res = res - q @ (q.T @ res)
        rnorm = float(np.linalg.norm(res))
        if rnorm > tol * norms[j] and len(keep) < basis.shape[1]:
            basis[:, len(keep)] = res / rnorm
            keep.append(j)
    return np.asarray(keep, dtype=np.intp)


def numeric_column(values: Any, what: str) -> FloatArray:
    """A float vector from a numeric column, or a DataError naming the column."""
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(series):
        raise DataError(f"{what} must be numeric, but it is of type {series.dtype}")
    return series.to_numpy(dtype=float, copy=True)
