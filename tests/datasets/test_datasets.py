"""The bundled datasets: shapes, types, levels, copies and name lookup."""

from __future__ import annotations

import json
from importlib import resources

import pandas as pd
import pytest

from multilevel import datasets
from multilevel.errors import DataError

EXPECTED = {
    "sleepstudy",
    "Dyestuff",
    "Dyestuff2",
    "Penicillin",
    "Pastes",
    "Hsb82",
    "ScotsSec",
    "InstEval",
    "cbpp",
    "VerbAgg",
}


def _meta(name: str) -> dict:
    text = resources.files("multilevel.datasets").joinpath("data", f"{name}.json").read_text()
    return json.loads(text)


def test_names_lists_every_bundled_dataset() -> None:
    names = datasets.names()
    assert set(names) == EXPECTED
    assert names == sorted(names, key=str.lower)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_matches_stored_description(name: str) -> None:
    meta = _meta(name)
    df = datasets.load(name)
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (meta["nrow"], len(meta["columns"]))
    assert list(df.columns) == list(meta["columns"])
    for col, spec in meta["columns"].items():
        series = df[col]
        if spec["type"] == "categorical":
            assert isinstance(series.dtype, pd.CategoricalDtype), col
            categories = list(series.cat.categories)
            assert categories == spec["levels"], col
            assert all(isinstance(level, str) for level in categories), col
            assert not series.isna().any(), col
        elif spec["type"] == "integer":
            assert pd.api.types.is_integer_dtype(series.dtype), col
        else:
            assert pd.api.types.is_float_dtype(series.dtype), col


def test_levels_keep_stored_order_not_sorted_order() -> None:
    school = datasets.load("Hsb82")["school"]
    levels = list(school.cat.categories)
    assert levels[:3] == ["8367", "8854", "4458"]
    assert levels != sorted(levels)
    assert school.nunique() == 160


def test_load_returns_a_copy() -> None:
    first = datasets.load("sleepstudy")
    first.loc[0, "Reaction"] = -1.0
    first["extra"] = 1
    first["Subject"] = first["Subject"].cat.rename_categories(lambda level: "S" + level)
    second = datasets.load("sleepstudy")
    assert second.loc[0, "Reaction"] == pytest.approx(249.56)
    assert "extra" not in second.columns
    assert second["Subject"].iloc[0] == "308"
    assert second is not first


@pytest.mark.parametrize("spelling", ["hsb82", "HSB82", "Hsb82", " hsb82 "])
def test_lookup_is_case_insensitive(spelling: str) -> None:
    assert datasets.load(spelling).shape == (7185, 8)


def test_unknown_name_raises_with_close_match_and_list() -> None:
    with pytest.raises(DataError) as info:
        datasets.load("hsb83")
    message = str(info.value)
    assert "'hsb83'" in message
    assert "Did you mean 'Hsb82'" in message
    for name in EXPECTED:
        assert name in message


def test_unknown_name_without_close_match_still_lists_names() -> None:
    with pytest.raises(DataError, match=r"Available: .*sleepstudy"):
        datasets.load("zzzzzz")


def test_describe_names_source_and_rows() -> None:
    text = datasets.describe("SLEEPSTUDY")
    assert "lme4" in text
    assert "180 rows" in text
