"""The response and other expressions evaluated on the model frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.fixed import evaluation_error
from multilevel.design.frame import ModelFrame, as_model_frame
from multilevel.errors import DataError
from multilevel.formula import Factor

FloatArray = NDArray[np.float64]


def evaluate_expression(expr: Factor, frame: pd.DataFrame | ModelFrame) -> FloatArray:
    """Evaluate a numeric expression (``z``, ``log(z)``) on the frame, as a float vector."""
    mf = as_model_frame(frame)
    if mf.has(expr.text):
        col = mf.column(expr.text)
        if _not_numeric(col.dtype):
            raise DataError(f"{expr.text!r} must be numeric, but it is of type {col.dtype}")
        return np.array(col, dtype=float)  # a copy: the frame keeps its own
    from formulaic import Formula

    try:
        # I() makes formulaic evaluate the whole expression (a - b is arithmetic, not removal)
        # na_action="ignore": rows stay aligned with the frame (NaN is refused below)
        mm = Formula(f"0 + I({expr.python})").get_model_matrix(
            mf.data, output="numpy", na_action="ignore"
        )
    except Exception as exc:
        raise evaluation_error(f"cannot evaluate {expr.text!r}", exc) from exc
    arr = np.asarray(mm, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 1:
        raise DataError(f"{expr.text!r} must evaluate to one numeric column")
    out = arr[:, 0]
    if not np.all(np.isfinite(out)):
        raise DataError(f"{expr.text!r} has missing or infinite values (e.g. log of 0)")
    return out


def _not_numeric(dtype: Any) -> bool:
    return isinstance(dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(dtype)


def response_vector(response: Factor, frame: pd.DataFrame | ModelFrame) -> FloatArray:
    """The response of a Gaussian model as a float vector.

    Raises
    ------
    DataError
        If the response is not numeric (a factor, string or logical column).
    """
    if response.text.startswith("cbind("):
        raise DataError(
            f"the response {response.text} is a binomial response; fit it with family='binomial'"
        )
    mf = as_model_frame(frame)
    if mf.has(response.text):
        col = mf.column(response.text)
        if _not_numeric(col.dtype):
            raise DataError(
                f"the response {response.text!r} is not numeric (type {col.dtype}); a linear "
                "mixed model needs a numeric response (for a binary one use family='binomial')"
            )
    return evaluate_expression(response, mf)
