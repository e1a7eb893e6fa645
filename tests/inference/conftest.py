"""Shared fits for the inference tests."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import multilevel as ml


def quiet_fit(*args, **kwargs) -> ml.LMMResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(*args, **kwargs)


@pytest.fixture(scope="session")
def sleep() -> pd.DataFrame:
    return ml.datasets.load("sleepstudy")


@pytest.fixture(scope="session")
def hsb() -> pd.DataFrame:
    return ml.datasets.load("Hsb82")


@pytest.fixture(scope="session")
def sleep_fit(sleep) -> ml.LMMResult:
    return quiet_fit("Reaction ~ Days + (Days | Subject)", sleep)


@pytest.fixture(scope="session")
def hsb_slope(hsb) -> ml.LMMResult:
    return quiet_fit("mAch ~ ses + sector + meanses + (1 + ses | school)", hsb)
