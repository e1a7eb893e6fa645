"""What a fit on Dask refuses, with a clear message (never a silent collect)."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import DataError, NotSupportedError
from tests.dask.conftest import dd, quiet_fit


@pytest.fixture(scope="module")
def ddf():
    return dd.from_pandas(ml.datasets.load("sleepstudy"), npartitions=2)


def test_glmm_not_supported(ddf) -> None:
    with pytest.raises(NotSupportedError, match="generalized linear mixed models"):
        ml.fit("Reaction ~ Days + (1 | Subject)", ddf, family="poisson")


def test_stateful_transform_refused(ddf) -> None:
    with pytest.raises(NotSupportedError, match="scale"):
        ml.fit("Reaction ~ scale(Days) + (1 | Subject)", ddf)
    with pytest.raises(NotSupportedError, match="poly"):
        ml.fit("Reaction ~ poly(Days, 2) + (1 | Subject)", ddf)


def test_array_weights_refused(ddf) -> None:
    with pytest.raises(NotSupportedError, match="column name"):
        ml.fit("Reaction ~ Days + (1 | Subject)", ddf, weights=np.ones(180))


def test_missing_column(ddf) -> None:
    with pytest.raises(DataError, match="Dayz"):
        ml.fit("Reaction ~ Dayz + (1 | Subject)", ddf)


def test_na_action_raise() -> None:
    data = ml.datasets.load("sleepstudy")
    data.loc[3, "Days"] = np.nan
    ddf = dd.from_pandas(data, npartitions=3)
    with pytest.raises(DataError, match="Days: 1"):
        ml.fit("Reaction ~ Days + (1 | Subject)", ddf, na_action="raise")


def test_log_transform_and_offset_column() -> None:
    """Stateless transforms and offsets work as in memory (threaded scheduler)."""
    import dask

    data = ml.datasets.load("sleepstudy")
    data["off"] = 0.1 * data["Days"]
    formula = "log(Reaction) ~ sqrt(Days + 1) + I(Days^2) + offset(off) + (1 | Subject)"
    with dask.config.set(scheduler="threads"):
        got = quiet_fit(formula, dd.from_pandas(data, npartitions=3), offset="w")
    want = quiet_fit(formula, data, offset="w")
    assert got.objective == pytest.approx(want.objective, rel=1e-8)
    np.testing.assert_allclose(got.fixef, want.fixef, rtol=1e-5)
    assert list(got.fixef.index) == list(want.fixef.index)


def _exploding(data):
    """A Dask DataFrame whose partitions raise when computed: a refusal must not collect."""

    def boom(part):
        raise AssertionError("a partition was computed")

    return dd.from_pandas(data, npartitions=2).map_partitions(boom, meta=data.iloc[:0])


@pytest.mark.parametrize(
    ("formula", "family", "link", "match"),
    [
        ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial", None,
         "generalized linear mixed models"),
        ("incidence ~ period + (1 | herd)", "poisson", None, "generalized linear mixed models"),
        ("incidence ~ period + (1 | herd)", "Gamma", "log", "generalized linear mixed models"),
        ("incidence ~ period + (1 | herd)", "gaussian", "log", "identity link"),
    ],
)
def test_glmm_refused_before_any_computation(formula, family, link, match) -> None:
    data = _exploding(ml.datasets.load("cbpp"))
    with pytest.raises(NotSupportedError, match=match):
        ml.fit(formula, data, family=family, link=link)


def test_bayes_refused_before_any_computation() -> None:
    pytest.importorskip("numpyro")
    data = _exploding(ml.datasets.load("sleepstudy"))
    with pytest.raises(NotSupportedError, match="in memory"):
        ml.fit("Reaction ~ Days + (1 | Subject)", data, method="bayes")
