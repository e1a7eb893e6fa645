"""Grouping factors coded with R's levels and labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from multilevel.design.grouping import grouping
from multilevel.errors import DataError


def test_categorical_keeps_level_order_and_drops_unused():
    frame = pd.DataFrame({"g": pd.Categorical(["b", "a", "b"], categories=["c", "b", "a"])})
    g = grouping(frame, ("g",), "g")
    assert g.levels == ("b", "a")
    assert g.codes.tolist() == [0, 1, 0]
    assert not g.numeric


def test_strings_sorted_numbers_sorted_numerically():
    frame = pd.DataFrame({"s": ["x10", "x9", "x10"], "n": [10, 9, 2.5]})
    assert grouping(frame, ("s",), "s").levels == ("x10", "x9")
    g = grouping(frame, ("n",), "n")
    assert g.levels == ("2.5", "9", "10")
    assert g.codes.tolist() == [2, 1, 0]
    assert g.numeric


def test_interaction_levels_first_factor_slowest_observed_only():
    frame = pd.DataFrame(
        {
            "cask": pd.Categorical(["a", "b", "a", "a"], categories=["a", "b", "c"]),
            "batch": pd.Categorical(["B", "A", "A", "B"], categories=["A", "B"]),
        }
    )
    g = grouping(frame, ("cask", "batch"), "cask:batch")
    assert g.levels == ("a:A", "a:B", "b:A")
    assert g.codes.tolist() == [1, 2, 0, 1]
    assert g.name == "cask:batch"


def test_missing_grouping_column():
    with pytest.raises(DataError, match="must be a column"):
        grouping(pd.DataFrame({"a": [1, 2]}), ("b",), "b")


def test_logical_grouping():
    frame = pd.DataFrame({"t": np.array([True, False, True])})
    g = grouping(frame, ("t",), "t")
    assert g.levels == ("FALSE", "TRUE")
    assert g.codes.tolist() == [1, 0, 1]
