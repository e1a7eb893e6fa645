"""The guides in docs/ run: every ```python block, in order, in one namespace per guide."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = ["workflow.md", "crossed.md"]


def python_blocks(path: Path) -> list[str]:
    """The code of every fenced ```python block of a Markdown file."""
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)


def run_guide(name: str, tmp_path: Path) -> dict[str, Any]:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    blocks = python_blocks(DOCS / name)
    assert blocks, f"{name} has no python blocks"
    namespace: dict[str, Any] = {"__name__": f"docs.{name}"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k, code in enumerate(blocks):
                exec(compile(code, f"{name} block {k + 1}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace


def test_workflow_guide_runs_and_says_what_r_says(tmp_path, ref):
    ns = run_guide("workflow.md", tmp_path)
    assert ns["icc1"].icc == pytest.approx(ref["icc_anova"]["icc"], abs=1e-8)
    assert ns["empty"].icc().loc["school", "adjusted"] == pytest.approx(
        ref["icc_adjusted"], abs=1e-4
    )
    assert ns["fits"]["CR2"].se["sectorCatholic"] == pytest.approx(
        ref["ols"]["se_cr2"]["sectorCatholic"], abs=1e-6
    )
    assert ns["fe"].coef["ses"] == pytest.approx(ref["panel"]["fe_coef"]["ses"], abs=1e-6)
    assert ns["re"].coef["ses"] == pytest.approx(ref["panel"]["re_coef"]["ses"], abs=1e-4)
    assert ns["mixed"].fixef["sectorCatholic"] == pytest.approx(
        ref["mixed"]["fixef"]["sectorCatholic"], abs=1e-4
    )
    for png in ("shrinkage.png", "caterpillar.png", "coverage.png"):
        assert (tmp_path / png).stat().st_size > 1000
    assert "<h2>Pooling comparison</h2>" in (tmp_path / "report.html").read_text()


def test_crossed_guide_runs(tmp_path):
    ns = run_guide("crossed.md", tmp_path)
    power = ns["power"]
    assert set(power.index) == {(16, 8), (24, 24)}
    assert ((power >= 0) & (power <= 1)).all()
