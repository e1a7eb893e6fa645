"""Fixtures of the workflow tests: Hsb82 and its R reference values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import multilevel as ml

REFERENCE = Path(__file__).parent.parent / "reference" / "workflow_hsb82.json"


@pytest.fixture(scope="session")
def ref() -> dict[str, Any]:
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="session")
def hsb() -> pd.DataFrame:
    return ml.datasets.load("Hsb82")
