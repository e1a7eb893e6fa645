"""Shared data and helpers of the reliability suite: small data sets, fitting without noise."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import multilevel as ml


def quiet_fit(*args: Any, **kwargs: Any) -> Any:
    """``ml.fit`` with the library's warnings silenced (they are tested where they matter)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(*args, **kwargs)


def simulated_counts(seed: int = 3, groups: int = 20, per: int = 6) -> pd.DataFrame:
    """A small Poisson data set: y ~ x with a random intercept per g (sd 0.5)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=g.size)
    eta = 0.5 + 0.3 * x + rng.normal(0.0, 0.5, groups)[g]
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)).astype(float), "x": x,
                         "g": pd.Categorical([f"g{k:02d}" for k in g])})


@pytest.fixture(scope="session")
def sleep() -> pd.DataFrame:
    return ml.datasets.load("sleepstudy")


@pytest.fixture(scope="session")
def dyestuff() -> pd.DataFrame:
    return ml.datasets.load("Dyestuff")


@pytest.fixture(scope="session")
def penicillin() -> pd.DataFrame:
    return ml.datasets.load("Penicillin")


@pytest.fixture(scope="session")
def cbpp() -> pd.DataFrame:
    return ml.datasets.load("cbpp")


@pytest.fixture(scope="session")
def counts() -> pd.DataFrame:
    return simulated_counts()
