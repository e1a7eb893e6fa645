"""Single-level designs for the workflow estimators: y, X with R's names, and a group factor.

The estimators of :mod:`multilevel.workflow` (OLS, panel, no pooling, two-stage) take an R
formula without random-effects terms and, where they need one, the name of a grouping column.
This module turns them into arrays the same way :func:`multilevel.fit` does (same model frame,
same column names and order as R's ``model.matrix``), so the coefficient names line up with
R's (``sectorCatholic``) and with those of a mixed model fitted to the same data.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.fixed import independent_columns, term_matrix
from multilevel.design.frame import as_pandas, check_columns, model_frame
from multilevel.design.grouping import Grouping, grouping
from multilevel.design.response import response_vector
from multilevel.errors import DataError, DataWarning, ModelError
from multilevel.formula import ParsedFormula, parse_formula

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class LinearDesign:
    """The arrays of a single-level linear model.

    Attributes
    ----------
    formula
        The formula text.
    parsed
        The parsed formula.
    y
        Response (n,).
    X
        Model matrix (n, p), full column rank (aliased columns dropped, as R reports NA).
    names
        R's names of the columns of X.
    dropped
        Names of columns dropped because they were linearly dependent on earlier ones.
    frame
        The model frame: complete cases of the used columns (and the group column).
    rows
        Labels of the caller's rows that were used.
    group
        The coded grouping factor, or None when no group was asked for.
    """

    formula: str
    parsed: ParsedFormula
    y: FloatArray
    X: FloatArray
    names: tuple[str, ...]
    dropped: tuple[str, ...]
    frame: pd.DataFrame
    rows: pd.Index
    group: Grouping | None

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return int(self.y.shape[0])

    @property
    def codes(self) -> IntArray:
        """Group code of every observation (raises when the design has no group)."""
        if self.group is None:
            raise ModelError("this design has no grouping factor")
        return self.group.codes

    @property
    def ngroups(self) -> int:
        """Number of groups (0 without a group)."""
        return 0 if self.group is None else self.group.nlevels

    @property
    def intercept(self) -> bool:
        """True when the model has an intercept column."""
        return "(Intercept)" in self.names


def _parsed(formula: str | ParsedFormula, what: str) -> ParsedFormula:
    parsed = parse_formula(formula) if isinstance(formula, str) else formula
    if parsed.response is None:
        raise DataError(f"the formula {parsed.text!r} has no response; write it as 'y ~ ...'")
    if parsed.random:
        raise ModelError(
            f"{what} takes a formula without random-effects terms, but {parsed.text!r} has "
            f"{', '.join('(' + r.text + ')' for r in parsed.random)}; drop them (give the "
            "grouping column as group=/cluster=) or fit the mixed model with ml.fit"
        )
    return parsed


def linear_design(
    formula: str | ParsedFormula,
    data: Any,
    *,
    group: str | None = None,
    extra: Sequence[str] = (),
    contrasts: Mapping[str, str] | None = None,
    what: str = "this function",
    warn_dropped: bool = True,
) -> LinearDesign:
    """Build y, X (R's names) and the grouping factor for a formula without random terms.

    Parameters
    ----------
    formula
        An R formula such as ``"mAch ~ ses + sector"``.
    data
        pandas or polars DataFrame (not modified).
    group
        Name of the grouping (cluster) column, or None.
    extra
        Further columns to keep in the frame (rows missing them are dropped too).
    contrasts
        Per-column contrasts ("treatment" default, "sum", "helmert", "poly").
    what
        Name of the calling function, for error messages.
    warn_dropped
        Warn (DataWarning) about rows dropped for missing values and aliased columns.

    Returns
    -------
    LinearDesign
    """
    parsed = _parsed(formula, what)
    df = as_pandas(data)
    variables = list(parsed.variables)
    for name in [group, *extra]:
        if name is not None:
            check_columns(df, [name], f"{what} argument")
            variables.append(name)
    mf = model_frame(df, variables)
    frame = mf.data
    y = response_vector(parsed.response, frame)  # type: ignore[arg-type]
    tm = term_matrix(parsed.fixed, frame, contrasts)
    keep = independent_columns(tm.matrix) if tm.matrix.shape[1] else np.zeros(0, np.intp)
    kept = set(keep.tolist())
    dropped = tuple(n for j, n in enumerate(tm.names) if j not in kept)
    if warn_dropped and mf.n_dropped:
        warnings.warn(
            f"{mf.n_dropped} rows with missing values were dropped", DataWarning, stacklevel=3
        )
    if warn_dropped and dropped:
        warnings.warn(
            f"the model matrix is rank deficient, so {', '.join(dropped)} "
            f"{'was' if len(dropped) == 1 else 'were'} dropped (R reports NA for "
            f"{'it' if len(dropped) == 1 else 'them'})",
            DataWarning,
            stacklevel=3,
        )
    coded = grouping(frame, (group,), group) if group is not None else None
    if offsets := parsed.offsets:
        raise ModelError(
            f"{what} does not take offset({offsets[0].text}); subtract it from the response"
        )
    return LinearDesign(
        formula=parsed.text,
        parsed=parsed,
        y=y,
        X=np.ascontiguousarray(tm.matrix[:, keep]),
        names=tuple(tm.names[j] for j in keep),
        dropped=dropped,
        frame=frame,
        rows=mf.rows,
        group=coded,
    )


def group_means(values: FloatArray, codes: IntArray, ngroups: int) -> FloatArray:
    """Means of the rows of ``values`` (n,) or (n, k) within each group: (J,) or (J, k)."""
    counts = np.bincount(codes, minlength=ngroups).astype(float)
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=ngroups) / counts
    out = np.empty((ngroups, values.shape[1]))
    for k in range(values.shape[1]):
        out[:, k] = np.bincount(codes, weights=values[:, k], minlength=ngroups)
    return out / counts[:, None]


def constant_within(X: FloatArray, codes: IntArray, ngroups: int, tol: float = 1e-10) -> list[int]:
    """Indices of the columns of X that do not vary within any group."""
    means = group_means(X, codes, ngroups)
    dev = X - means[codes]
    scale = np.maximum(np.abs(X).max(axis=0), 1.0)
    return [k for k in range(X.shape[1]) if np.abs(dev[:, k]).max() <= tol * scale[k]]


def group_column(data: Any, group: str, what: str) -> pd.Series:
    """The grouping column of ``data``, checked to exist (for functions without a formula)."""
    df = as_pandas(data)
    if not isinstance(group, str):
        raise DataError(f"{what}: group must be the name of a column, not {type(group).__name__}")
    check_columns(df, [group], f"{what} argument")
    return df[group]
