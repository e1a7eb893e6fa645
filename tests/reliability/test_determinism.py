"""Determinism: the same call twice gives bit-identical results, and no global random state is
touched (neither numpy's legacy global generator nor Python's ``random``)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from .conftest import quiet_fit


def snapshot(m: Any) -> dict[str, Any]:
    """Every number a user reads off a fit, as arrays (compared bit for bit)."""
    out = {
        "objective": np.array([m.objective]),
        "theta": np.asarray(m.theta),
        "fixef": m.fixef.to_numpy(),
        "se": m.se.to_numpy(),
        "vcov": m.vcov.to_numpy(),
        "sigma": np.array([m.sigma]),
        "fitted": m.fitted.to_numpy(),
        "residuals": m.residuals.to_numpy(),
        "varcorr": m.varcorr[["vcov", "sdcor"]].to_numpy(dtype=float),
        "feval": np.array([m.optsummary.feval]),
    }
    for group, frame in m.ranef.items():
        out[f"ranef:{group}"] = frame.to_numpy()
    return out


def assert_bit_identical(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        assert x.shape == y.shape, key
        assert x.tobytes() == y.tobytes(), f"{key} differs between two identical calls"


CASES = [
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)", {}),
    ("sleepstudy", "Reaction ~ Days + (Days || Subject)", {"reml": False}),
    ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", {}),
    ("counts", "y ~ x + (1 | g)", {"family": "poisson"}),
]


@pytest.fixture(scope="module")
def datasets(sleep, penicillin, counts):
    return {"sleepstudy": sleep, "Penicillin": penicillin, "counts": counts}


@pytest.mark.parametrize(("name", "formula", "kwargs"), CASES, ids=[c[1] for c in CASES])
def test_same_call_twice_is_bit_identical(datasets, name, formula, kwargs):
    data = datasets[name]
    np_state = np.random.get_state()  # noqa: NPY002  (the legacy global state is the point)
    py_state = random.getstate()
    first = snapshot(quiet_fit(formula, data, **kwargs))
    second = snapshot(quiet_fit(formula, data.copy(), **kwargs))
    assert_bit_identical(first, second)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:], "numpy's global random state was touched"
    assert random.getstate() == py_state, "Python's global random state was touched"


def test_result_does_not_depend_on_global_seed(sleep):
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        np.random.seed(1)  # noqa: NPY002
        random.seed(1)
        a = snapshot(quiet_fit("Reaction ~ Days + (1 | Subject)", sleep))
        np.random.seed(12345)  # noqa: NPY002
        random.seed(12345)
        b = snapshot(quiet_fit("Reaction ~ Days + (1 | Subject)", sleep))
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    assert_bit_identical(a, b)


def test_data_not_modified(sleep, counts):
    before_sleep, before_counts = sleep.copy(deep=True), counts.copy(deep=True)
    quiet_fit("Reaction ~ Days + (Days | Subject)", sleep, weights="w")
    quiet_fit("y ~ x + (1 | g)", counts, family="poisson")
    assert sleep.equals(before_sleep) and counts.equals(before_counts)
