"""The fast paths from formula to matrices give what formulaic gives, and the frame stays light."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from multilevel.design import _fitted_exactly
from multilevel.design.fixed import formulaic_matrix, term_matrix
from multilevel.design.frame import ModelFrame, model_frame
from multilevel.design.grouping import grouping
from multilevel.design.numeric import CodedSpec, NumericSpec
from multilevel.formula import parse_formula


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 40
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "k": rng.integers(0, 5, n),
            "f": pd.Categorical(rng.choice(list("abc"), n)),
            "g": pd.Categorical(rng.choice(["u", "v"], n), categories=["v", "u", "w"]),
            "i": pd.Categorical(rng.choice([3, 1, 2], n)),
            "b": rng.random(n) > 0.5,
            "o": pd.Categorical(rng.choice(list("lmh"), n), categories=list("lmh"), ordered=True),
            "grp": pd.Categorical(rng.choice(list("ABCDE"), n)),
        }
    )


FAST = [
    "x*z",
    "f",
    "x + f",
    "x*f",
    "f*x",
    "x:f",
    "x + x:f",
    "f + x:f",
    "x*z*f",
    "x:z + x:z:f",
    "x + z + x:z:f",
    "g",
    "i",
    "b",
    "x*b",
    "x + x:f + z:f",
    "k*f",
    "x*f + z*g",
    "x + f:k",
]
SLOW = ["o", "f*g", "0 + f", "0 + x + f", "x + I(x^2):f", "log(z^2) + f"]


def _terms(rhs: str, data: pd.DataFrame) -> tuple[object, ModelFrame]:
    parsed = parse_formula(f"y ~ {rhs} + (1 | grp)")
    return parsed.fixed, model_frame(data, list(parsed.variables))


@pytest.mark.parametrize("rhs", FAST + SLOW)
@pytest.mark.parametrize("contrasts", [None, {"f": "treatment"}, {"f": "sum"}])
def test_same_matrix_and_names_as_formulaic(data, rhs, contrasts):
    terms, frame = _terms(rhs, data)
    got = term_matrix(terms, frame, contrasts)
    ref = formulaic_matrix(terms, frame.data, contrasts)
    assert got.names == ref.names
    np.testing.assert_array_equal(got.matrix, ref.matrix)
    fast = isinstance(got.spec, NumericSpec)
    assert fast == (rhs in FAST and not (contrasts == {"f": "sum"} and "f" in rhs))
    if isinstance(got.spec, CodedSpec):
        assert [len(b.columns) for b in got.spec.structure] == [
            len(b.columns) for b in ref.spec.structure
        ]
        new = frame.data.sample(15, random_state=0)
        as_text = new.assign(
            **{
                c: new[c].astype(str).to_numpy(dtype=object)
                for c in new.columns
                if isinstance(new[c].dtype, pd.CategoricalDtype)
            }
        )
        for df in (new, as_text):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = ref.spec.get_model_matrix(df, na_action="ignore").to_numpy(dtype=float)
                np.testing.assert_array_equal(got.spec.get_model_matrix(df), expected)


def test_unknown_level_in_new_data_gives_zeros_and_a_warning(data):
    terms, frame = _terms("x*f", data)
    spec = term_matrix(terms, frame).spec
    new = pd.DataFrame({"x": [1.0, 2.0], "f": ["b", "zz"]})
    with pytest.warns(UserWarning, match="levels not seen"):
        mm = spec.get_model_matrix(new)
    np.testing.assert_array_equal(mm, [[1, 1, 1, 0, 1, 0], [1, 2, 0, 0, 0, 0]])


def test_model_frame_holds_copies_and_builds_the_dataframe_lazily(data):
    source = data.assign(s=data["f"].astype(object))
    before = source.copy()
    frame = model_frame(source, ["y", "x", "f", "b", "s"])
    assert not np.shares_memory(frame.column("y"), source["y"].to_numpy())
    assert frame.nrows == len(data) and frame.has("f") and not frame.has("z")
    assert list(frame.data["b"].cat.categories) == ["FALSE", "TRUE"]
    assert frame.data["y"].tolist() == data["y"].tolist()
    frame.data.loc[0, "y"] = 99.0
    frame.data.loc[0, "s"] = "zz"
    pd.testing.assert_frame_equal(source, before)
    again = pickle.loads(pickle.dumps(frame))
    pd.testing.assert_frame_equal(again.data, frame.data)
    with pytest.raises(AttributeError, match="frozen"):
        frame.n_dropped = 3  # type: ignore[misc]


def test_functions_take_a_dataframe_or_a_model_frame(data):
    frame = model_frame(data, ["y", "x", "grp", "g"])
    for columns in (("grp",), ("grp", "g")):
        a = grouping(frame, columns, ":".join(columns))
        b = grouping(frame.data, columns, ":".join(columns))
        assert a.levels == b.levels
        np.testing.assert_array_equal(a.codes, b.codes)
    terms, _ = _terms("x*g", data)
    np.testing.assert_array_equal(
        term_matrix(terms, frame).matrix, term_matrix(terms, frame.data).matrix
    )


def test_fitted_exactly_agrees_with_least_squares():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(3, 40))
        p = int(rng.integers(1, min(n, 6)))
        X = rng.normal(size=(n, p)) * 10.0 ** rng.integers(-5, 5, size=p)
        kind = rng.integers(0, 3)
        y = rng.normal(size=n) if kind == 0 else X @ rng.normal(size=p)
        if kind == 2:
            y = y + 10.0 ** -float(rng.integers(6, 12)) * rng.normal(size=n) * np.abs(y).max()
        coef = np.linalg.lstsq(X, y, rcond=None)[0]
        expected = np.linalg.norm(y - X @ coef) <= 1e-10 * np.linalg.norm(y)
        assert _fitted_exactly(X, y) == expected
