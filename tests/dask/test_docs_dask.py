"""docs/dask.md runs: every ```python block, in order, in one namespace."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "dask.md"


def test_dask_guide_runs() -> None:
    pytest.importorskip("distributed")
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) >= 4
    namespace: dict = {"__name__": "docs.dask"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, code in enumerate(blocks):
            exec(compile(code, f"dask.md block {k + 1}", "exec"), namespace)
    assert namespace["m2"].converged
    assert namespace["pred"].compute().notna().all()


def test_cluster_blocks_compile() -> None:
    """The ```py blocks (a real cluster, shared storage) are not run, but they are valid code
    that uses the documented calls."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"^```py\n(.*?)^```", text, re.S | re.M)
    assert blocks
    code = "\n".join(blocks)
    for k, block in enumerate(blocks):
        compile(block, f"dask.md py block {k + 1}", "exec")
    for call in ("Client(\"tcp://", "dd.read_parquet(\"/shared/", "storage_options", "ml.fit("):
        assert call in code
