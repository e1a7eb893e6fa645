"""From a parsed formula and data to the design of a model: y, X, random-effects terms.

The design is a plain frozen value; the engine (:mod:`multilevel.lmm`) and the result read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.fixed import (
    independent_columns,
    numeric_column,
    scaled_gram_cholesky,
    term_matrix,
)
from multilevel.design.frame import ModelFrame, as_pandas, check_columns, model_frame
from multilevel.design.numeric import NumericSpec
from multilevel.design.random import (
    RandomEffectsTerm,
    check_identifiable,
    random_effects_notes,
    random_terms,
)
from multilevel.design.response import evaluate_expression, response_vector
from multilevel.errors import DataError, ModelError
from multilevel.formula import ParsedFormula

if TYPE_CHECKING:  # formulaic is imported when a model needs it
    from formulaic import ModelSpec

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Design:
    """Everything a fit needs from the formula and the data.

    Attributes
    ----------
    formula
        The parsed formula.
    y
        Response (n,).
    X
        Fixed-effects model matrix (n, p), full column rank.
    xnames
        R's names of the columns of X.
    dropped_columns
        Columns of X dropped because they were linearly dependent on earlier ones.
    terms
        Random-effects terms in lme4's order (most levels first).
    weights
        Prior weights, or None.
    offset
        Offset (n,), or None.
    frame
        The model frame (complete cases of the used columns).
    fixed_spec
        formulaic's spec of X, to encode new data.
    notes
        Messages about what was changed on the way in (rows dropped, columns dropped).
    """

    formula: ParsedFormula
    y: FloatArray
    X: FloatArray
    xnames: tuple[str, ...]
    dropped_columns: tuple[str, ...]
    terms: tuple[RandomEffectsTerm, ...]
    weights: FloatArray | None
    offset: FloatArray | None
    frame: ModelFrame
    fixed_spec: ModelSpec | NumericSpec | None
    notes: tuple[str, ...]

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return int(self.y.shape[0])


def _vector_argument(
    value: Any, data: pd.DataFrame, frame: ModelFrame, what: str
) -> FloatArray | None:
    if value is None:
        return None
    if isinstance(value, str):
        return numeric_column(frame.column(value), f"the {what} column {value!r}")
    try:
        arr = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numbers (one per row): {exc}") from exc
    if arr.shape[0] != len(data):
        raise DataError(
            f"{what} has length {arr.shape[0]}, but the data have {len(data)} rows; give one "
            "value per row (or the name of a column)"
        )
    arr = arr[frame.positions]
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{what} contain missing or infinite values in used rows")
    return arr


def _fitted_exactly(
    X: FloatArray, y: FloatArray, factor: tuple[FloatArray, FloatArray] | None = None
) -> bool:
    """True when y lies in the column space of X (least-squares residuals all but zero).

    The residual of the normal equations on the column-scaled X, refined once, decides when X
    is well conditioned and the residual is far from the bound: a residual within the bound
    shows that y is fitted exactly, and one far above it cannot come from solving error. The
    rest goes to an SVD least-squares fit. ``factor`` is :func:`scaled_gram_cholesky` of X
    when the caller has it already.
    """
    scale = float(np.linalg.norm(y))
    if X.shape[1] == 0:
        return scale == 0.0
    if factor is None and X.shape[0] >= X.shape[1]:
        factor = scaled_gram_cholesky(X)
    if factor is not None and np.all(np.diag(factor[1]) > 1e-4):
        norms = factor[0]
        inverse = np.linalg.inv(factor[1])  # L⁻¹ of a small, well-conditioned factor

        def solve(v: FloatArray) -> FloatArray:
            rhs = (X.T @ v) / norms
            return np.asarray(inverse.T @ (inverse @ rhs)) / norms

        coef = solve(y)
        res = y - X @ coef
        coef = coef + solve(res)
        rnorm = float(np.linalg.norm(y - X @ coef))
        if rnorm <= 1e-10 * scale:
            return True
        if rnorm > 1e-6 * scale:
            return False
    lsq = np.linalg.lstsq(X, y, rcond=None)[0]
    return float(np.linalg.norm(y - X @ lsq)) <= 1e-10 * scale


def check_mixed_formula(formula: ParsedFormula) -> None:
    """Refuse a formula without a response or without a random-effects term.

    Raises
    ------
    DataError
        No response.
    ModelError
        No random-effects term (pointing to ``ml.ols``).
    """
    if formula.response is None:
        raise DataError(f"the formula {formula.text!r} has no response; write it as 'y ~ ...'")
    if not formula.random:
        raise ModelError(
            f"the formula {formula.text!r} has no random-effects term such as (1 | group); "
            "for a model without random effects use ml.ols"
        )


def build_design(
    formula: ParsedFormula,
    data: Any,
    *,
    weights: Any = None,
    offset: Any = None,
    contrasts: Mapping[str, str] | None = None,
    na_action: str = "omit",
    gaussian: bool = True,
    response: Callable[[Any, pd.DataFrame], FloatArray] = response_vector,
) -> Design:
    """Build the design of a mixed model.

    Parameters
    ----------
    formula
        The parsed lme4 formula.
    data
        The caller's data frame (never modified).
    weights, offset
        Arrays with one value per row of ``data``, or column names.
    contrasts
        Per-column contrasts ("treatment", "sum", "helmert", "poly").
    na_action
        "omit" (drop incomplete rows, counted in ``notes``) or "raise".
    gaussian
        Apply the identifiability checks of a Gaussian model (lme4's ``check.nobs.vs.nlev`` and
        ``check.nobs.vs.nRE``).
    response
        Turns the formula's left side into the response vector (GLMMs pass their own).

    Returns
    -------
    Design
    """
    if not isinstance(formula, ParsedFormula):
        raise TypeError(f"a formula must be given as a string, not {type(formula).__name__}")
    df = as_pandas(data)
    check_mixed_formula(formula)
    assert formula.response is not None  # checked just above
    variables = list(formula.variables)
    for extra, what in ((weights, "weights"), (offset, "offset")):
        if isinstance(extra, str):
            check_columns(df, [extra], what)
            variables.append(extra)
    frame = model_frame(df, variables, na_action=na_action)
    notes = []
    if frame.n_dropped:
        notes.append(f"{frame.n_dropped} rows with missing or infinite values were dropped")
    if response is response_vector:
        y = response_vector(formula.response, frame)
    else:
        y = response(formula.response, frame.data)
    fixed = term_matrix(formula.fixed, frame, contrasts)
    p = fixed.matrix.shape[1]
    factor = scaled_gram_cholesky(fixed.matrix) if 0 < p <= fixed.matrix.shape[0] else None
    keep = independent_columns(fixed.matrix, factor=factor)
    dropped = tuple(n for j, n in enumerate(fixed.names) if j not in set(keep.tolist()))
    if dropped:
        notes.append(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} "
            f"column{'s' if len(dropped) > 1 else ''} / coefficient"
            f"{'s' if len(dropped) > 1 else ''}: {', '.join(dropped)}"
        )
    X = fixed.matrix[:, keep]
    xnames = tuple(fixed.names[j] for j in keep)
    terms = random_terms(formula.random, frame, contrasts)
    for t in terms:
        note = f"the numeric grouping variable of {t.group!r} was converted to a factor"
        if t.grouping.numeric and note not in notes:
            notes.append(note)
    notes.extend(random_effects_notes(terms))
    w = _vector_argument(weights, df, frame, "weights")
    if w is not None and np.any(w <= 0):
        raise DataError("weights must be positive; drop the rows with zero or negative weight")
    off = _vector_argument(offset, df, frame, "offset")
    for expr in formula.offsets:
        value = evaluate_expression(expr, frame)
        off = value if off is None else off + value
    n = y.shape[0]
    if gaussian:
        if X.shape[1] >= n:
            raise ModelError(
                f"the fixed effects have {X.shape[1]} linearly independent columns for {n} "
                "observations: they fit the data exactly and leave nothing for the random "
                "effects and the residual; use fewer fixed effects (e.g. a lower degree of poly())"
            )
        full = factor if keep.shape[0] == p else None  # X is fixed.matrix: same factor
        if _fitted_exactly(X, y if off is None else y - off, full):
            raise ModelError(
                f"the response {formula.response.text!r} is fitted exactly by the fixed effects "
                "(every residual is zero), so nothing is left for the random effects and the "
                "residual: is the response constant, or is it (or a copy of it) also a predictor?"
            )
        check_identifiable(((t.group, t.nlevels, t.q, t.term.text) for t in terms), n)
    return Design(
        formula=formula,
        y=y,
        X=X,
        xnames=xnames,
        dropped_columns=dropped,
        terms=terms,
        weights=w,
        offset=off,
        frame=frame,
        fixed_spec=fixed.spec,
        notes=tuple(notes),
    )


__all__ = ["Design", "RandomEffectsTerm", "build_design", "check_mixed_formula"]
