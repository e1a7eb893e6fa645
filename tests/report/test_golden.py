"""Golden files: the table of three fixed models (Hsb82 random intercept and random slope,
cbpp) in every format, compared exactly.

The files were generated once, reviewed by eye, and are kept. After an intended change of the
layout, regenerate them with ``MULTILEVEL_UPDATE_GOLDEN=1 pytest tests/report/test_golden.py``,
review the diff, and commit it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from multilevel.report import table

GOLDEN = Path(__file__).parent / "golden"

CASES: dict[str, dict[str, Any]] = {
    "table.txt": {"format": "text"},
    "table.md": {"format": "markdown"},
    "table.html": {"format": "html"},
    "table.tex": {"format": "latex"},
    "table_ci_stars.txt": {"format": "text", "se": "ci", "stars": True},
}


@pytest.mark.parametrize("filename", list(CASES))
def test_golden(filename: str, golden_models: dict[str, Any]) -> None:
    got = table(golden_models, **CASES[filename])
    assert isinstance(got, str)
    path = GOLDEN / filename
    if os.environ.get("MULTILEVEL_UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}: run with MULTILEVEL_UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")
