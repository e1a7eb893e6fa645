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
