"""The response of a GLMM in every form lme4 takes, as (y, trials).

Binomial: 0/1 numbers, a factor (the first level is failure, every other level success, as in
R), a logical (TRUE = success), proportions with ``weights`` = trials, or
``cbind(successes, failures)``. Counts for Poisson and negative binomial; positive values for
Gamma and inverse Gaussian.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.frame import column_values
from multilevel.design.response import evaluate_expression
from multilevel.errors import DataError
from multilevel.formula import Call, Factor, parse_expression
from multilevel.formula.ast import Binary, Name, Node
from multilevel.formula.terms import make_factor
from multilevel.glmm.family import Family

FloatArray = NDArray[np.float64]


def _cbind(response: Factor, frame: pd.DataFrame) -> tuple[FloatArray, FloatArray] | None:
    node = parse_expression(response.text)
    if not (isinstance(node, Call) and node.func == "cbind"):
        return None
    if len(node.args) != 2:
        raise DataError(
            f"{response.text}: cbind() takes two columns, successes and failures, e.g. "
            "cbind(incidence, size - incidence)"
        )
    succ, fail = (_count(a.value, response.text, frame) for a in node.args)
    if np.any(succ < 0) or np.any(fail < 0):
        raise DataError(f"{response.text}: counts of successes and failures must be >= 0")
    total = succ + fail
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(total > 0, succ / np.where(total > 0, total, 1.0), 0.0)
    return y, total


def _plain_column(node: Node, frame: pd.DataFrame) -> FloatArray | None:
    """The values of a numeric (not logical, not factor) column named by ``node``, else None."""
    if not (isinstance(node, Name) and node.name in frame.columns):
        return None
    values = column_values(frame[node.name])
    if not (isinstance(values, np.ndarray) and values.dtype.kind in "iuf"):
        return None
    return values


def _count(node: Node, text: str, frame: pd.DataFrame) -> FloatArray:
    """One operand of ``cbind``: a plain column or ``a - b`` of two plain columns directly,
    anything else through the expression evaluator (the same values and errors)."""
    left = right = None
    if isinstance(node, Binary) and node.op == "-":
        left, right = _plain_column(node.left, frame), _plain_column(node.right, frame)
    if left is None or right is None:
        return evaluate_expression(make_factor(node, text), frame)
    out = np.asarray(left - right, dtype=float)
    if not np.all(np.isfinite(out)):
        name = make_factor(node, text).text
        raise DataError(f"{name!r} has missing or infinite values (e.g. log of 0)")
    return out


def glmm_response(
    response: Factor, frame: pd.DataFrame, family: Family
) -> tuple[FloatArray, FloatArray]:
    """The response y and the number of binomial trials per row (1 elsewhere).

    Parameters
    ----------
    response
        The formula's left side.
    frame
        The model frame.
    family
        The model's family.

    Returns
    -------
    y, trials
        For binomial, y is the proportion of successes and ``trials`` multiplies the prior
        weights; for other families ``trials`` is all ones.
    """
    n = len(frame)
    ones = np.ones(n)
    if family.name == "binomial":
        bound = _cbind(response, frame)
        if bound is not None:
            return bound
        if response.text in frame.columns:
            col = frame[response.text]
            if isinstance(col.dtype, pd.CategoricalDtype):
                return (col.cat.codes.to_numpy() > 0).astype(float), ones
            if not pd.api.types.is_numeric_dtype(col):
                raise DataError(
                    f"the response {response.text!r} (type {col.dtype}) must be 0/1, a "
                    "proportion, a factor or a logical for the binomial family"
                )
        y = evaluate_expression(response, frame)
        if np.any((y < 0) | (y > 1)):
            raise DataError(
                f"the binomial response {response.text!r} has values outside [0, 1]; give "
                "proportions with weights = trials, or cbind(successes, failures)"
            )
        return y, ones
    if response.text.startswith("cbind("):
        raise DataError(f"cbind() responses are for the binomial family, not {family.name}")
    if response.text in frame.columns:
        col = frame[response.text]
        if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col):
            raise DataError(
                f"the response {response.text!r} is not numeric (type {col.dtype}); the "
                f"{family.name} family needs numbers"
            )
    y = evaluate_expression(response, frame)
    if family.name in ("poisson", "negative.binomial") and np.any(y < 0):
        raise DataError(
            f"the response {response.text!r} has negative values: {family.name} counts must "
            "be >= 0"
        )
    if family.name in ("Gamma", "inverse.gaussian") and np.any(y <= 0):
        raise DataError(
            f"the response {response.text!r} must be positive for the {family.name} family"
        )
    return y, ones
