"""The model frame: used columns, complete cases, the caller's data untouched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from multilevel.design.frame import model_frame
from multilevel.errors import DataError


def test_drops_incomplete_rows_and_counts_them():
    df = pd.DataFrame({"y": [1.0, np.nan, 3.0, 4.0], "x": [1, 2, np.inf, 4], "z": [None] * 4})
    before = df.copy()
    mf = model_frame(df, ["y", "x"])
    assert mf.n_dropped == 2
    assert mf.positions.tolist() == [0, 3]
    assert list(mf.data.columns) == ["y", "x"]
    pd.testing.assert_frame_equal(df, before)


def test_na_action_raise_names_columns():
    df = pd.DataFrame({"y": [1.0, np.nan], "x": [1, 2]})
    with pytest.raises(DataError, match="y: 1"):
        model_frame(df, ["y", "x"], na_action="raise")


def test_unknown_column_suggests_close_names():
    df = pd.DataFrame({"Reaction": [1.0], "Days": [0]})
    with pytest.raises(DataError, match=r"'Day'.*did you mean 'Days'"):
        model_frame(df, ["Reaction", "Day"])


def test_empty_data_and_wrong_type():
    with pytest.raises(DataError, match="no rows"):
        model_frame(pd.DataFrame({"y": []}), ["y"])
    with pytest.raises(DataError, match="pandas or polars"):
        model_frame([1, 2, 3], ["y"])


def test_logical_becomes_factor_and_unused_levels_go():
    df = pd.DataFrame(
        {"t": [True, False], "f": pd.Categorical(["a", "a"], categories=["a", "b"])}
    )
    mf = model_frame(df, ["t", "f"])
    assert list(mf.data["t"].cat.categories) == ["FALSE", "TRUE"]
    assert list(mf.data["f"].cat.categories) == ["a"]


def test_polars_input():
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"y": [1.0, 2.0], "x": [3.0, 4.0]})
    mf = model_frame(df, ["y"])
    assert mf.data["y"].tolist() == [1.0, 2.0]
