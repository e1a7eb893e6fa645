"""Encoding partitions identically: the model frame, y, X, offsets, weights, Z and level codes.

The in-memory path builds X and each term's Z with formulaic on the whole model frame. Here a
small pandas *template* frame holds every level of every factor (from the first pass) and one
complete row's values elsewhere; formulaic's specs built on it (:func:`term_matrix`, the same
function as in memory, so the same columns and R names) then encode every partition with the
same columns, whatever levels the partition happens to contain. Grouping factors are coded
with the global level sets, so the codes of all partitions index the same random effects.

Transforms that learn from the whole column (``scale``, ``center``, ``poly``, ``bs``) would learn
from the template instead; they are refused with a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from formulaic import ModelSpec
from numpy.typing import NDArray

from multilevel.dask.levels import (
    ColumnLevels,
    GroupingLevels,
    LevelPlan,
    LevelSummary,
    complete_rows,
    grouping_levels,
    is_numeric,
    normalize,
)
from multilevel.design.fixed import numeric_column, term_matrix
from multilevel.design.numeric import NumericSpec
from multilevel.design.random import _group_columns, _make_unique, check_levels
from multilevel.design.response import evaluate_expression, response_vector
from multilevel.errors import DataError, FormulaError, NotSupportedError
from multilevel.formula import Factor, ParsedFormula, RandomTerm
from multilevel.formula.render import PY_FUNCTIONS

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: R functions whose value on a row depends on that row only (safe to apply per partition).
STATELESS_FUNCTIONS = frozenset({*PY_FUNCTIONS, "I", "offset"})

_CALL = re.compile(r"([A-Za-z.][A-Za-z0-9._]*)\s*\(")


def _factors(formula: ParsedFormula) -> list[Factor]:
    out = [f for t in formula.fixed.terms for f in t.factors]
    out += [f for rt in formula.random for t in rt.effects.terms for f in t.factors]
    out += list(formula.offsets)
    if formula.response is not None:
        out.append(formula.response)
    return out


def check_stateless(formula: ParsedFormula) -> None:
    """Refuse transforms that need the whole column (they would differ between partitions)."""
    for factor in _factors(formula):
        for name in _CALL.findall(factor.text):
            if name not in STATELESS_FUNCTIONS:
                raise NotSupportedError(
                    f"{factor.text!r} in the formula: {name}() is not supported on a Dask "
                    "DataFrame (a transform such as scale, center, poly or bs learns from the "
                    "whole column, which is never gathered); compute it as a column first, "
                    "e.g. with ddf.assign(...)"
                )


def _factor_context(formula: ParsedFormula) -> set[str]:
    """Columns used inside factor()/as.factor() on the fixed or random-effects side."""
    out: set[str] = set()
    terms = [*formula.fixed.terms, *(t for rt in formula.random for t in rt.effects.terms)]
    for term in terms:
        for f in term.factors:
            if "C(" in f.python:
                out.update(f.variables)
    return out


def level_plan(
    formula: ParsedFormula, columns: tuple[str, ...], meta: pd.DataFrame
) -> LevelPlan:
    """The columns whose levels the first pass collects."""
    model_side = set(formula.fixed.variables)
    for rt in formula.random:
        model_side.update(rt.effects.variables)
    in_factor = _factor_context(formula)
    groups = [_group_columns(rt.group, rt.name) for rt in formula.random]
    factors = [c for g in groups for c in g]
    for c in columns:
        if c in model_side and (not is_numeric(meta[c].dtype) or c in in_factor):
            factors.append(c)
    interactions = tuple(dict.fromkeys(g for g in groups if len(g) > 1))
    return LevelPlan(columns, tuple(dict.fromkeys(factors)), interactions)


def spec_matrix(spec: ModelSpec | NumericSpec | None, ncols: int, frame: pd.DataFrame,
                names: tuple[str, ...]) -> FloatArray:
    """The model matrix of ``frame`` under a stored spec (None: intercept or no columns)."""
    n = len(frame)
    if spec is None:
        return np.ones((n, 1)) if ncols == 1 else np.zeros((n, 0))
    if isinstance(spec, NumericSpec):
        out = spec.get_model_matrix(frame)
    else:
        mm = spec.get_model_matrix(frame, na_action="ignore")
        out = np.asarray(mm.to_numpy(dtype=float) if hasattr(mm, "to_numpy") else mm, dtype=float)
    if out.shape[1] != ncols:
        raise FormulaError(f"a partition encoded to {out.shape[1]} columns instead of {ncols}")
    finite = np.isfinite(out)
    if not finite.all():
        bad = [f"{names[j]!r}" for j in np.flatnonzero(~finite.all(axis=0))]
        raise DataError(
            f"missing or infinite values after evaluating {', '.join(bad)} (e.g. log of 0 or "
            "division by 0); transform the data first or drop those rows"
        )
    return np.asarray(out, dtype=float)


@dataclass(frozen=True)
class TermEncoder:
    """One random-effects term: its grouping factor's levels and the spec of its columns.

    Attributes
    ----------
    term
        The parsed term.
    label
        Unique label, as in lme4's ``VarCorr``.
    grouping
        Global levels of the grouping factor.
    cnames
        R's names of the term's columns.
    spec
        formulaic's spec of the columns (None for a plain intercept).
    """

    term: RandomTerm
    label: str
    grouping: GroupingLevels
    cnames: tuple[str, ...]
    spec: ModelSpec | NumericSpec | None

    @property
    def q(self) -> int:
        """Number of random effects per level."""
        return len(self.cnames)

    @property
    def nlevels(self) -> int:
        """Number of levels of the grouping factor."""
        return self.grouping.nlevels

    def z(self, frame: pd.DataFrame) -> FloatArray:
        """The term's columns for a (normalized) partition frame."""
        return spec_matrix(self.spec, self.q, frame, self.cnames)


@dataclass(frozen=True)
class Encoder:
    """Everything a worker needs to encode a partition as the in-memory path would.

    Attributes
    ----------
    formula
        The parsed formula.
    columns
        Used columns, in the model frame's order.
    levels
        Global levels of every factor-like column.
    xnames
        R's names of all columns of X (before any rank-deficient column is dropped).
    fixed_spec
        formulaic's spec of X (None for an intercept only, or no columns).
    terms
        Random-effects terms in the engine's order (most levels first).
    weights, offset
        Column names of the prior weights and of the offset, or None.
    template
        The template frame the specs were built on (every level of every factor).
    """

    formula: ParsedFormula
    columns: tuple[str, ...]
    levels: dict[str, ColumnLevels]
    xnames: tuple[str, ...]
    fixed_spec: ModelSpec | NumericSpec | None
    terms: tuple[TermEncoder, ...]
    weights: str | None
    offset: str | None
    template: pd.DataFrame

    def frame(self, part: pd.DataFrame) -> tuple[NDArray[np.bool_], pd.DataFrame]:
        """Complete rows of a partition and its model frame (fresh index, R's column types)."""
        mask, _ = complete_rows(part, self.columns)
        frame = part.loc[mask, list(self.columns)].reset_index(drop=True)
        for name in self.columns:
            col = normalize(frame[name])
            lv = self.levels.get(name)
            if lv is not None and lv.categories is not None:
                col = col.cat.set_categories(lv.categories, ordered=lv.ordered)
            elif lv is not None and lv.kind == "string":
                col = col.astype(object)  # as in the template (Arrow strings are not factors)
            frame[name] = col
        return mask, frame

    def response(self, frame: pd.DataFrame) -> FloatArray:
        """The response minus any offset."""
        assert self.formula.response is not None
        y = response_vector(self.formula.response, frame)
        off = self.offset_of(frame)
        return y if off is None else y - off

    def offset_of(self, frame: pd.DataFrame) -> FloatArray | None:
        """The offset (column and ``offset()`` terms), or None."""
        off = None
        if self.offset is not None:
            off = numeric_column(frame[self.offset], f"the offset column {self.offset!r}")
        for expr in self.formula.offsets:
            value = evaluate_expression(expr, frame)
            off = value if off is None else off + value
        return off

    def weights_of(self, frame: pd.DataFrame) -> FloatArray | None:
        """Prior weights, or None."""
        if self.weights is None:
            return None
        w = numeric_column(frame[self.weights], f"the weights column {self.weights!r}")
        if np.any(w <= 0):
            raise DataError(
                "weights must be positive; drop the rows with zero or negative weight"
            )
        return w

    def fixed(self, frame: pd.DataFrame) -> FloatArray:
        """All columns of X."""
        return spec_matrix(self.fixed_spec, len(self.xnames), frame, self.xnames)


def _template(
    columns: tuple[str, ...],
    levels: Mapping[str, ColumnLevels],
    example: pd.DataFrame,
    model_side: set[str],
) -> pd.DataFrame:
    """Every level of the columns X and Z are built from (grouping-only columns keep their
    type and categories but not all their values), other columns from one complete row."""
    m = max([2, *(len(lv.values) for k, lv in levels.items() if k in model_side)])
    data: dict[str, pd.Series] = {}
    for name in columns:
        if name in levels:
            data[name] = levels[name].template(m)
        else:
            data[name] = pd.Series(np.repeat(example[name].to_numpy(), m), name=name)
    return pd.DataFrame({k: v.reset_index(drop=True) for k, v in data.items()})


def build_encoder(
    formula: ParsedFormula,
    plan: LevelPlan,
    levels: dict[str, ColumnLevels],
    summary: LevelSummary,
    contrasts: Mapping[str, str] | None,
    weights: str | None,
    offset: str | None,
) -> Encoder:
    """The encoder of a model, from the first pass's levels."""
    assert summary.example is not None
    model_side = set(formula.fixed.variables)
    for rt in formula.random:
        model_side.update(rt.effects.variables)
    template = _template(plan.columns, levels, summary.example, model_side)
    fixed = term_matrix(formula.fixed, template, contrasts)
    built = []
    for rt in formula.random:
        columns = _group_columns(rt.group, rt.name)
        coded = grouping_levels(rt.name, columns, levels, summary)
        check_levels(rt, coded.nlevels)
        tm = term_matrix(rt.effects, template, contrasts)
        if tm.matrix.shape[1] == 0:
            raise DataError(f"the random-effects term ({rt.text}) has no columns")
        built.append((rt, coded, tm))
    order = sorted(range(len(built)), key=lambda k: -built[k][1].nlevels)
    labels = _make_unique([built[k][1].name for k in order])
    terms = tuple(
        TermEncoder(built[k][0], label, built[k][1], built[k][2].names, built[k][2].spec)
        for k, label in zip(order, labels, strict=True)
    )
    return Encoder(
        formula=formula,
        columns=plan.columns,
        levels=levels,
        xnames=fixed.names,
        fixed_spec=fixed.spec,
        terms=terms,
        weights=weights,
        offset=offset,
        template=template,
    )
