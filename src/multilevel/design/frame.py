"""The model frame: the columns a model uses, checked, with incomplete rows removed.

The caller's data are never modified: the frame is a new pandas DataFrame holding only the used
columns. Polars (or any frame with ``to_pandas``) is converted first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.errors import DataError

# Names that may appear in expressions without being data columns.
_CONSTANTS = frozenset({"pi", "TRUE", "FALSE", "T", "F", "np", "Inf", "NaN", "NA"})


@dataclass(frozen=True)
class ModelFrame:
    """The used columns of the data, complete cases only.

    Attributes
    ----------
    data
        A new DataFrame with the used columns and a fresh 0..n-1 index; categorical columns have
        their unused levels removed, and logical columns become factors FALSE/TRUE as in R.
    rows
        Labels of the caller's rows that were used, in order.
    positions
        Positions of those rows in the caller's data.
    n_dropped
        Number of rows dropped for missing values.
    """

    data: pd.DataFrame
    rows: pd.Index
    positions: NDArray[np.intp]
    n_dropped: int


def as_pandas(data: Any) -> pd.DataFrame:
    """Accept a pandas DataFrame, or anything with ``to_pandas()`` (polars, pyarrow)."""
    if isinstance(data, pd.DataFrame):
        return data
    to_pandas = getattr(data, "to_pandas", None)
    if callable(to_pandas):
        out = to_pandas()
        if isinstance(out, pd.DataFrame):
            return out
    if isinstance(data, dict):
        return pd.DataFrame(data)
    raise DataError(
        f"data must be a pandas or polars DataFrame, not {type(data).__name__}; "
        "convert it with pandas.DataFrame(...) first"
    )


def check_columns(data: pd.DataFrame, names: Iterable[str], what: str = "formula") -> None:
    """Raise DataError naming every missing column, with the closest existing names."""
    columns = [str(c) for c in data.columns]
    missing = [n for n in dict.fromkeys(names) if n not in data.columns and n not in _CONSTANTS]
    if not missing:
        return
    parts = []
    for name in missing:
        close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        parts.append(f"{name!r}{hint}")
    raise DataError(
        f"the {what} uses column{'s' if len(missing) > 1 else ''} not in the data: "
        + "; ".join(parts)
        + f". Available columns: {', '.join(columns[:20])}{' ...' if len(columns) > 20 else ''}"
    )


def model_frame(
    data: Any,
    variables: Iterable[str],
    na_action: str = "omit",
) -> ModelFrame:
    """Select the used columns, check them, and drop incomplete rows.

    Parameters
    ----------
    data
        The caller's data frame (not modified).
    variables
        Names of the columns the model uses.
    na_action
        "omit" drops rows with a missing or infinite value in a used column (R's default);
        "raise" refuses them with a DataError.

    Returns
    -------
    ModelFrame
    """
    if na_action not in ("omit", "raise"):
        raise DataError(f"na_action must be 'omit' or 'raise', not {na_action!r}")
    df = as_pandas(data)
    if df.shape[0] == 0:
        raise DataError("the data have no rows")
    names = [v for v in dict.fromkeys(variables) if v not in _CONSTANTS or v in df.columns]
    check_columns(df, names)
    frame = df.loc[:, names].copy()
    bad = np.zeros(len(frame), dtype=bool)
    counts = {}
    for name in names:
        col = frame[name]
        miss = col.isna().to_numpy()
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            with np.errstate(invalid="ignore"):
                miss = miss | ~np.isfinite(col.to_numpy(dtype=float, na_value=np.nan))
        if miss.any():
            counts[name] = int(miss.sum())
        bad |= miss
    if bad.any() and na_action == "raise":
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise DataError(
            f"missing or infinite values in used columns ({detail}); remove those rows or "
            "use na_action='omit' to drop them"
        )
    if bad.all():
        raise DataError("no complete rows: every row has a missing value in a used column")
    rows = df.index[~bad]
    frame = frame.loc[~bad].reset_index(drop=True)
    for name in names:
        frame[name] = _normalize(frame[name])
    return ModelFrame(
        data=frame, rows=rows, positions=np.flatnonzero(~bad), n_dropped=int(bad.sum())
    )


def _normalize(col: pd.Series) -> pd.Series:
    """R's view of a column: logical → factor FALSE/TRUE; categoricals without unused levels."""
    if pd.api.types.is_bool_dtype(col):
        labels = np.where(col.to_numpy(dtype=bool), "TRUE", "FALSE")
        return pd.Series(pd.Categorical(labels, categories=["FALSE", "TRUE"]), name=col.name)
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.remove_unused_categories()
    return col
