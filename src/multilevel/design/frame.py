"""The model frame: the columns a model uses, checked, with incomplete rows removed.

The caller's data are never modified: the frame holds new arrays of the used columns only (and
makes a pandas DataFrame of them when asked). Polars (or any frame with ``to_pandas``) is
converted first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.errors import DataError

# Names that may appear in expressions without being data columns.
_CONSTANTS = frozenset({"pi", "TRUE", "FALSE", "T", "F", "np", "Inf", "NaN", "NA"})


class ModelFrame:
    """The used columns of the data, complete cases only (frozen).

    The columns are held as arrays (NumPy arrays for NumPy dtypes, pandas arrays such as
    :class:`pandas.Categorical` otherwise) and read by name with :meth:`column`; the DataFrame
    :attr:`data` is built from them on first use. A frame can also be made from a DataFrame
    (``ModelFrame(data=df, ...)``), whose columns are then read from it.

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

    __slots__ = ("_data", "_nrows", "_values", "n_dropped", "positions", "rows")

    _data: pd.DataFrame | None
    _values: dict[str, Any]
    _nrows: int
    rows: pd.Index
    positions: NDArray[np.intp]
    n_dropped: int

    def __init__(
        self,
        data: pd.DataFrame | None = None,
        rows: pd.Index | None = None,
        positions: NDArray[np.intp] | None = None,
        n_dropped: int = 0,
        *,
        values: Mapping[str, Any] | None = None,
        nrows: int | None = None,
    ) -> None:
        if data is None and (values is None or nrows is None):
            raise TypeError("a model frame needs a DataFrame, or the column values and nrows")
        n = len(data) if data is not None else int(nrows or 0)
        init = object.__setattr__
        init(self, "_data", data)
        init(self, "_values", dict(values or {}))
        init(self, "_nrows", n)
        init(self, "rows", pd.RangeIndex(n) if rows is None else rows)
        init(self, "positions", np.arange(n) if positions is None else positions)
        init(self, "n_dropped", int(n_dropped))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ModelFrame is frozen: cannot set {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (ModelFrame, (self.data, self.rows, self.positions, self.n_dropped))

    def __repr__(self) -> str:
        return f"ModelFrame({self._nrows} rows, columns={self.names}, n_dropped={self.n_dropped})"

    @property
    def data(self) -> pd.DataFrame:
        """The frame as a DataFrame (built from the column values on first use)."""
        if self._data is None:
            frame = pd.DataFrame(self._values, index=pd.RangeIndex(self._nrows), copy=False)
            object.__setattr__(self, "_data", frame)
        assert self._data is not None
        return self._data

    @property
    def nrows(self) -> int:
        """Number of rows."""
        return self._nrows

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return list(self._values) if self._data is None else list(self._data.columns)

    def has(self, name: Any) -> bool:
        """True when ``name`` is a column."""
        if self._data is None:
            return name in self._values
        return name in self._data.columns

    def column(self, name: str) -> Any:
        """The values of a column: a NumPy array, or a pandas array for other dtypes."""
        values = self._values.get(name)
        if values is None:
            values = column_values(self.data[name])
            self._values[name] = values
        return values


def as_model_frame(frame: pd.DataFrame | ModelFrame) -> ModelFrame:
    """A model frame as it is, or a DataFrame wrapped as one (its rows all used)."""
    return frame if isinstance(frame, ModelFrame) else ModelFrame(data=frame)


def column_values(col: pd.Series) -> Any:
    """A column's values: a NumPy array for a numeric or logical NumPy dtype, else its pandas
    array (which keeps the dtype, e.g. object, when a DataFrame is made of it again)."""
    dtype = col.dtype
    return col.to_numpy() if isinstance(dtype, np.dtype) and dtype.kind in "iufb" else col.array


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
    missing = [n for n in dict.fromkeys(names) if n not in data.columns and n not in _CONSTANTS]
    if not missing:
        return
    columns = [str(c) for c in data.columns]
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
    if not df.columns.is_unique:
        return _model_frame_pandas(df, names, na_action)
    # one pass over the used columns: their values and the rows each one leaves out
    columns = {name: df[name] for name in names}
    bad = np.zeros(df.shape[0], dtype=bool)
    counts = {}
    for name, col in columns.items():
        miss = _missing(col)
        if miss is not None:
            counts[name] = int(miss.sum())
            bad |= miss
    if counts and na_action == "raise":
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise DataError(
            f"missing or infinite values in used columns ({detail}); remove those rows or "
            "use na_action='omit' to drop them"
        )
    if counts and bad.all():
        raise DataError("no complete rows: every row has a missing value in a used column")
    keep = None if not counts else ~bad
    positions = np.arange(df.shape[0]) if keep is None else np.flatnonzero(keep)
    return ModelFrame(
        rows=df.index if keep is None else df.index[keep],
        positions=positions,
        n_dropped=int(df.shape[0] - positions.shape[0]),
        values={name: _used_values(col, keep) for name, col in columns.items()},
        nrows=positions.shape[0],
    )


def _model_frame_pandas(df: pd.DataFrame, names: list[str], na_action: str) -> ModelFrame:
    """The model frame by plain pandas operations (data with repeated column names)."""
    frame = df.loc[:, names].copy()
    bad = np.zeros(len(frame), dtype=bool)
    counts = {}
    for name in names:
        col = frame[name]
        miss = _generic_missing(col)
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


def _generic_missing(col: pd.Series) -> NDArray[np.bool_]:
    miss = np.asarray(col.isna().to_numpy(), dtype=bool)
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        with np.errstate(invalid="ignore"):
            miss = miss | ~np.isfinite(col.to_numpy(dtype=float, na_value=np.nan))
    return miss


def _missing(col: pd.Series) -> NDArray[np.bool_] | None:
    """Rows with a missing or infinite value, or None when there is none."""
    dtype = col.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return None
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        miss = ~np.isfinite(col.to_numpy())
    elif isinstance(dtype, pd.CategoricalDtype):
        miss = np.asarray(col.array.codes) < 0
    else:
        miss = _generic_missing(col)
    return miss if miss.any() else None


_LOGICAL = pd.CategoricalDtype(["FALSE", "TRUE"])


def _used_values(col: pd.Series, keep: NDArray[np.bool_] | None) -> Any:
    """The complete rows of a used column as the frame holds them (a new array; see
    :func:`_normalize`)."""
    dtype = col.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iufb":
        values = col.to_numpy()
        values = values.copy() if keep is None else values[keep]
        if dtype.kind != "b":
            return values
        return pd.Categorical.from_codes(values.astype(np.int8), dtype=_LOGICAL, validate=False)
    if isinstance(dtype, pd.CategoricalDtype):
        codes = np.asarray(col.array.codes)
        codes = codes.copy() if keep is None else codes[keep]
        used = np.bincount(codes, minlength=len(dtype.categories)) > 0
        if not used.all():
            codes = (np.cumsum(used) - 1).astype(codes.dtype)[codes]
            dtype = pd.CategoricalDtype(dtype.categories[used], ordered=dtype.ordered)
        return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    sub = col.copy() if keep is None else col[keep]  # never the caller's memory
    return column_values(_normalize(sub.reset_index(drop=True)))


def _normalize(col: pd.Series) -> pd.Series:
    """R's view of a column: logical → factor FALSE/TRUE; categoricals without unused levels."""
    if pd.api.types.is_bool_dtype(col):
        labels = np.where(col.to_numpy(dtype=bool), "TRUE", "FALSE")
        return pd.Series(pd.Categorical(labels, categories=["FALSE", "TRUE"]), name=col.name)
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.remove_unused_categories()
    return col
