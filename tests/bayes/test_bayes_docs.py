"""docs/bayes.md and docs/mrp.md run: every ```python block, in order, in one namespace."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import multilevel as ml

DOCS = Path(__file__).resolve().parents[2] / "docs"


def run_guide(name: str) -> dict[str, Any]:
    text = (DOCS / name).read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert blocks, f"{name} has no python blocks"
    namespace: dict[str, Any] = {"__name__": f"docs.{name}"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, code in enumerate(blocks):
            exec(compile(code, f"{name} block {k + 1}", "exec"), namespace)
    return namespace


def test_bayes_guide_runs():
    pytest.importorskip("numpyro")
    ns = run_guide("bayes.md")
    ratio = ns["compare"]["ratio"]
    assert np.all(np.abs(ratio.iloc[:2] - 1.0) < 0.02)
    assert np.all(np.abs(ratio.iloc[2:4] - 1.0) < 0.15)
    assert ns["bayes"].divergences == 0
    assert ns["few_reml"].singular
    assert ns["few_bayes"].divergences == 0 and ns["sd_g"].median() > 0.1
    assert abs(ns["informed"].fixef["Days"]) < 5.0


def test_mrp_guide_runs():
    pytest.importorskip("numpyro")
    assert hasattr(ml, "poststratify"), (
        "ml.poststratify is not exported: add `from multilevel.mrp import poststratify` to "
        "multilevel/__init__.py"
    )
    ns = run_guide("mrp.md")
    errors = ns["errors"]
    for mrp in ("MRP (Laplace fit)", "MRP (Bayesian fit)"):
        assert errors[mrp] < errors["raw state means"]
        assert errors[mrp] < errors["complete pooling"]
    assert set(ns["unpolled"]) <= set(ns["est"].index)
