"""Shared fixtures: the lme4 reference fits copied from shared/reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REFERENCE_DIR = Path(__file__).parent / "reference"


def load_reference(model_id: str) -> dict[str, Any]:
    """One lme4 reference fit by id."""
    return json.loads((REFERENCE_DIR / f"{model_id}.json").read_text())


def reference_models() -> list[dict[str, Any]]:
    """The list of reference models (``models.json``)."""
    return json.loads((REFERENCE_DIR / "models.json").read_text())


@pytest.fixture
def reference() -> Any:
    return load_reference


EXTRA_DIR = REFERENCE_DIR / "extra"


def extra_models() -> list[dict[str, Any]]:
    """Held-out lme4 fits made by ``reference/extra/make_extra.R`` at tight tolerances."""
    return [json.loads(p.read_text()) for p in sorted(EXTRA_DIR.glob("*.json"))]


def load_dataset(name: str) -> Any:
    """A bundled dataset, or one of the held-out datasets under ``reference/extra/data``."""
    import pandas as pd

    import multilevel as ml

    path = EXTRA_DIR / "data" / f"{name}.json"
    if not path.exists():
        return ml.datasets.load(name)
    meta = json.loads(path.read_text())
    df = pd.read_csv(EXTRA_DIR / "data" / f"{name}.csv.gz")
    for col, spec in meta["columns"].items():
        if spec["type"] == "categorical":
            levels = [str(x) for x in spec["levels"]]
            df[col] = pd.Categorical(df[col].astype(str), categories=levels)
    return df


def relerr(got: Any, want: Any, floor: float = 0.0) -> float:
    """max |got - want| / max(|want|, floor) (0 for empty input)."""
    import numpy as np

    a, b = np.atleast_1d(np.asarray(got, float)), np.atleast_1d(np.asarray(want, float))
    scale = np.maximum(np.abs(b), floor)
    scale = np.where(scale == 0, 1.0, scale)
    return float(np.max(np.abs(a - b) / scale)) if a.size else 0.0


def load_extra(model_id: str) -> dict[str, Any]:
    """One held-out reference fit by id."""
    return json.loads((EXTRA_DIR / f"{model_id}.json").read_text())
