"""Fixtures of the reporting tests: the golden-file models (Hsb82 random intercept and random
slope, cbpp) fitted once per session, and workflow results on the same data."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd
import pytest

import multilevel as ml

HSB_INTERCEPT = "mAch ~ ses + sector + meanses + (1|school)"
HSB_SLOPE = "mAch ~ meanses*cses + sector*cses + (1 + cses|school)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1|herd)"


def quiet_fit(*args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(*args, **kwargs)


@pytest.fixture(scope="session")
def hsb() -> pd.DataFrame:
    return ml.datasets.load("Hsb82")


@pytest.fixture(scope="session")
def hsb_intercept(hsb: pd.DataFrame) -> Any:
    return quiet_fit(HSB_INTERCEPT, hsb)


@pytest.fixture(scope="session")
def hsb_slope(hsb: pd.DataFrame) -> Any:
    return quiet_fit(HSB_SLOPE, hsb)


@pytest.fixture(scope="session")
def cbpp() -> Any:
    return quiet_fit(CBPP, ml.datasets.load("cbpp"), family="binomial")


@pytest.fixture(scope="session")
def golden_models(hsb_intercept: Any, hsb_slope: Any, cbpp: Any) -> dict[str, Any]:
    return {"HSB intercept": hsb_intercept, "HSB slope": hsb_slope, "cbpp": cbpp}


@pytest.fixture(scope="session")
def sleep_fit() -> Any:
    return quiet_fit("Reaction ~ Days + (Days|Subject)", ml.datasets.load("sleepstudy"))


@pytest.fixture(scope="session")
def workflow_results(hsb: pd.DataFrame) -> dict[str, Any]:
    rhs = "mAch ~ ses + sector + meanses"
    return {
        "OLS": ml.ols(rhs, hsb, cluster="school", se="CR1"),
        "RE": ml.panel(rhs, hsb, group="school", model="re"),
        "FE": ml.panel(rhs, hsb, group="school", model="fe"),
        "Two-stage": ml.two_stage("mAch ~ ses", "~ sector + meanses", hsb, group="school"),
    }
