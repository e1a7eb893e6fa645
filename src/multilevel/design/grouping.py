"""Grouping factors: the levels of ``g`` or of an interaction ``a:b``, as R's factor() has them.

Levels keep a categorical's order (unused levels dropped); strings are sorted; numbers are sorted
numerically and labelled as R prints them; logicals are FALSE, TRUE. The levels of ``a:b`` are
the observed combinations, ``a`` varying slowest, labelled ``"a-level:b-level"`` (so nested
``(1|batch/cask)`` has the group ``cask:batch`` with levels such as ``a:A``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.frame import ModelFrame, as_model_frame, column_values
from multilevel.errors import DataError

IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class Grouping:
    """A grouping factor coded as integers.

    Attributes
    ----------
    name
        The group's name, e.g. ``Subject`` or ``cask:batch``.
    codes
        Level of every observation, in ``range(len(levels))``.
    levels
        Level labels in order.
    numeric
        True when some component was a numeric column converted to a factor.
    """

    name: str
    codes: IntArray
    levels: tuple[str, ...]
    numeric: bool

    @property
    def nlevels(self) -> int:
        """Number of levels."""
        return len(self.levels)


def _r_number(x: float) -> str:
    if float(x).is_integer():
        return str(int(x))
    return repr(float(x))


def _code_column(col: Any) -> tuple[IntArray, list[str], bool]:
    """Codes, level labels and whether it was numeric, of a column's values (an array)."""
    if isinstance(col, pd.Series):
        col = column_values(col)
    if isinstance(col, pd.Categorical):
        codes = np.asarray(col.codes).astype(np.intp)
        categories = col.categories
        present = codes[codes >= 0]
        used = np.bincount(present, minlength=len(categories)) > 0
        if not used.all():  # unused levels go (the model frame has done it already)
            categories = categories[used]
            lookup = np.append(np.cumsum(used) - 1, -1)
            codes = lookup[codes]
        return codes, [str(c) for c in categories.tolist()], False
    if pd.api.types.is_bool_dtype(col.dtype):
        values = np.asarray(col, dtype=bool)
        uniq = np.unique(values)
        labels = ["TRUE" if v else "FALSE" for v in uniq]
        return np.searchsorted(uniq, values).astype(np.intp), labels, False
    if pd.api.types.is_numeric_dtype(col.dtype):
        values = np.asarray(col, dtype=float)
        uniq, codes = np.unique(values, return_inverse=True)
        return codes.astype(np.intp).ravel(), [_r_number(v) for v in uniq], True
    values = pd.Series(col).astype(str).to_numpy()
    uniq, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.intp), [str(v) for v in uniq], False


def grouping(frame: pd.DataFrame | ModelFrame, columns: tuple[str, ...], name: str) -> Grouping:
    """Code the grouping factor formed by ``columns`` (one column, or an interaction).

    Parameters
    ----------
    frame
        The model frame.
    columns
        Column names joined by ``:`` in the formula, in order.
    name
        The group's name as the formula writes it.

    Returns
    -------
    Grouping
    """
    mf = as_model_frame(frame)
    codes_list = []
    labels_list = []
    numeric = False
    for column in columns:
        if not mf.has(column):
            raise DataError(
                f"grouping factor {column!r} of ({name}) must be a column of the data"
            )
        codes, labels, was_numeric = _code_column(mf.column(column))
        numeric = numeric or was_numeric
        codes_list.append(codes)
        labels_list.append(labels)
    if len(columns) == 1:
        return Grouping(name, codes_list[0], tuple(labels_list[0]), numeric)
    key = np.zeros(mf.nrows, dtype=np.int64)
    for codes, labels in zip(codes_list, labels_list, strict=True):
        key = key * len(labels) + codes
    uniq, inverse = np.unique(key, return_inverse=True)
    parts = []
    rem = uniq.copy()
    for labels in reversed(labels_list):
        parts.append(rem % len(labels))
        rem = rem // len(labels)
    parts.reverse()
    joined = np.asarray(labels_list[0], dtype=object)[parts[0]]
    for labels, part in zip(labels_list[1:], parts[1:], strict=True):
        joined = joined + ":" + np.asarray(labels, dtype=object)[part]
    return Grouping(name, inverse.astype(np.intp).ravel(), tuple(joined.tolist()), numeric)
