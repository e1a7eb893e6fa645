"""Fast paths for model matrices of plain columns: numeric products and treatment-coded factors.

Most random-effects terms (``1 + Days``) and many fixed parts (``x * z``, ``sector * cses``)
use nothing but plain numeric columns and unordered factors with treatment contrasts; their
columns are products of numeric columns and level indicators, so formulaic's machinery is not
needed. The result is the same matrix, with R's names, and a spec that encodes new data the same
way. Anything else (transforms, ordered factors, other contrasts, two factors in one term, no
intercept beside a factor) goes to formulaic (:func:`multilevel.design.fixed.term_matrix`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.frame import ModelFrame, as_model_frame
from multilevel.formula import ModelTerms, Term

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

_TREATMENT = (None, "treatment", "contr.treatment")


def float_column(values: Any) -> FloatArray:
    """A numeric column's values (NumPy or pandas array) as floats."""
    return np.asarray(values, dtype=float)


def _numeric_dtype(dtype: Any) -> bool:
    if isinstance(dtype, np.dtype):
        return dtype.kind in "iuf"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return False
    return bool(pd.api.types.is_numeric_dtype(dtype))


def is_plain_numeric(terms: ModelTerms, frame: pd.DataFrame | ModelFrame) -> bool:
    """True when every factor of every term is a numeric (not logical) column of the frame."""
    mf = as_model_frame(frame)
    for term in terms.terms:
        for factor in term.factors:
            if not mf.has(factor.text) or factor.variables != (factor.text,):
                return False
            if not _numeric_dtype(mf.column(factor.text).dtype):
                return False
    return True


@dataclass(frozen=True)
class NumericSpec:
    """Encodes data for numeric-product terms (formulaic's ``get_model_matrix`` protocol)."""

    terms: ModelTerms

    @property
    def column_names(self) -> tuple[str, ...]:
        """R's names of the columns."""
        names = ["(Intercept)"] if self.terms.intercept else []
        return (*names, *(t.text for t in self.terms.terms))

    def get_model_matrix(self, data: pd.DataFrame | ModelFrame, **_: Any) -> FloatArray:
        """The model matrix of ``data``."""
        mf = as_model_frame(data)
        n = mf.nrows
        out = np.empty((n, len(self.terms.terms) + self.terms.intercept))
        if self.terms.intercept:
            out[:, 0] = 1.0
        for j, term in enumerate(self.terms.terms, start=self.terms.intercept):
            out[:, j] = _product(mf, term.factors, n)
        return out


@dataclass(frozen=True)
class FactorCoding:
    """How the one factor (categorical column) of a term is coded.

    Attributes
    ----------
    column
        The column's name.
    levels
        All its levels, in order.
    reduced
        Treatment contrasts (the first level is the reference and has no column) if True, one
        indicator per level if False (R's rule: contrasts when the term without the factor is
        in the model before it, the intercept standing for the empty term).
    """

    column: str
    levels: tuple[Any, ...]
    reduced: bool

    @property
    def labels(self) -> tuple[str, ...]:
        """The levels that get a column, as R prints them in column names."""
        return tuple(str(v) for v in self.levels[1 if self.reduced else 0 :])

    def codes(self, values: Any) -> IntArray:
        """Position of each value among the levels; -1 (a row of zeros) for a missing or
        unknown value, with a warning as formulaic gives."""
        if isinstance(values, pd.Categorical) and tuple(values.categories) == self.levels:
            codes = np.asarray(values.codes, dtype=np.intp)
        else:
            index = pd.Index(list(self.levels))
            codes = np.asarray(index.get_indexer(np.asarray(values, dtype=object)), dtype=np.intp)
        if np.any(codes < 0):
            warnings.warn(
                f"{self.column!r} has missing values or levels not seen in fitting: their rows "
                "get zeros in its indicator columns",
                UserWarning,
                stacklevel=3,
            )
        return codes


@dataclass(frozen=True)
class TermColumns:
    """One term's columns (formulaic's ``structure`` entries: ``term`` and ``columns``)."""

    term: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class CodedSpec(NumericSpec):
    """Encodes data for terms of numeric columns and at most one treatment-coded factor each.

    A :class:`NumericSpec` whose terms may hold a factor; unlike it, a term may have several
    columns, listed in :attr:`structure`.

    Attributes
    ----------
    terms
        The terms (with an intercept).
    codings
        Per term, the coding of its factor, or None for a numeric product.
    """

    codings: tuple[FactorCoding | None, ...] = ()

    @property
    def structure(self) -> tuple[TermColumns, ...]:
        """The columns of each term, the intercept first (as formulaic's spec lists them)."""
        out = [TermColumns("1", ("(Intercept)",))] if self.terms.intercept else []
        for term, coding in zip(self.terms.terms, self.codings, strict=True):
            out.append(TermColumns(term.text, _term_names(term, coding)))
        return tuple(out)

    @property
    def column_names(self) -> tuple[str, ...]:
        """R's names of the columns."""
        return tuple(name for block in self.structure for name in block.columns)

    def get_model_matrix(self, data: pd.DataFrame | ModelFrame, **_: Any) -> FloatArray:
        """The model matrix of ``data``."""
        mf = as_model_frame(data)
        n = mf.nrows
        blocks = [np.ones((n, 1))] if self.terms.intercept else []
        codes_of: dict[str, IntArray] = {}
        for term, coding in zip(self.terms.terms, self.codings, strict=True):
            if coding is None:
                blocks.append(_product(mf, term.factors, n)[:, None])
                continue
            others = tuple(f for f in term.factors if f.text != coding.column)
            if coding.column not in codes_of:
                codes_of[coding.column] = coding.codes(mf.column(coding.column))
            codes = codes_of[coding.column]
            block = np.zeros((n, len(coding.levels)))
            rows = np.flatnonzero(codes >= 0)
            block[rows, codes[rows]] = 1.0
            if coding.reduced:
                block = block[:, 1:]
            if others:
                block *= _product(mf, others, n)[:, None]
            blocks.append(block)
        return np.hstack(blocks) if blocks else np.zeros((n, 0))


def _product(mf: ModelFrame, factors: tuple[Any, ...], n: int) -> FloatArray:
    """The elementwise product of numeric columns (ones for none)."""
    if not factors:
        return np.ones(n)
    out = float_column(mf.column(factors[0].text))
    for factor in factors[1:]:
        out = out * float_column(mf.column(factor.text))
    return out


def _term_names(term: Term, coding: FactorCoding | None) -> tuple[str, ...]:
    if coding is None:
        return (term.text,)
    return tuple(
        ":".join(f.text + label if f.text == coding.column else f.text for f in term.factors)
        for label in coding.labels
    )


def _plain_levels(dtype: pd.CategoricalDtype) -> tuple[Any, ...] | None:
    """The levels of an unordered factor whose labels print plainly (None otherwise)."""
    if dtype.ordered:
        return None
    categories = dtype.categories
    if categories.dtype.kind not in "iuf" and not pd.api.types.is_string_dtype(categories):
        return None
    levels = tuple(categories.tolist())
    if len(levels) < 2 or any("[" in str(v) or "]" in str(v) for v in levels):
        return None
    return levels


def coded_spec(
    terms: ModelTerms,
    frame: pd.DataFrame | ModelFrame,
    contrasts: Mapping[str, str] | None = None,
) -> CodedSpec | None:
    """The spec of a fast path for ``terms`` on ``frame``, or None when formulaic is needed.

    Parameters
    ----------
    terms
        The terms of a fixed part or of the left side of a bar.
    frame
        The model frame.
    contrasts
        Per-column contrasts; a factor given anything other than treatment contrasts, or a
        numeric column given contrasts beside a factor, needs formulaic.

    Returns
    -------
    CodedSpec or None
        None unless the model has an intercept, every factor of every term is a plain numeric
        column or an unordered categorical one, and no term has two categorical columns.
    """
    contrasts = contrasts or {}
    if not terms.intercept:
        return None
    mf = as_model_frame(frame)
    numeric_terms: dict[frozenset[str], int] = {frozenset(): -1}
    codings: list[FactorCoding | None] = []
    for k, term in enumerate(terms.terms):
        categorical = None
        for factor in term.factors:
            name = factor.text
            if not mf.has(name) or factor.variables != (name,):
                return None
            dtype = mf.column(name).dtype
            if isinstance(dtype, pd.CategoricalDtype):
                levels = _plain_levels(dtype)
                if categorical is not None or levels is None:
                    return None
                if contrasts.get(name) not in _TREATMENT:
                    return None
                categorical = (name, levels)
            elif name in contrasts or not isinstance(dtype, np.dtype) or dtype.kind not in "iuf":
                return None
        if categorical is None:
            rest = frozenset(f.text for f in term.factors)
            numeric_terms.setdefault(rest, k)
            codings.append(None)
        else:
            rest = frozenset(f.text for f in term.factors if f.text != categorical[0])
            codings.append(FactorCoding(categorical[0], categorical[1], rest in numeric_terms))
    # R's rule looks only at earlier terms: a term without the factor placed later is unusual
    for term, coding in zip(terms.terms, codings, strict=True):
        if coding is not None and not coding.reduced:
            rest = frozenset(f.text for f in term.factors if f.text != coding.column)
            if rest in numeric_terms:
                return None
    return CodedSpec(terms, tuple(codings))
