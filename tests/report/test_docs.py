"""docs/reporting.md runs: every ```python block, in order, in one namespace."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "reporting.md"


def test_reporting_guide_runs(tmp_path: Path) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) >= 8
    namespace: dict[str, object] = {"__name__": "docs.reporting"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for k, code in enumerate(blocks):
            exec(compile(code, f"reporting.md block {k + 1}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert (tmp_path / "models.tex").read_text().startswith(r"\begin{table}")
    assert isinstance(namespace["frame"], pd.DataFrame)
    # the excerpt shown in the guide is the golden table's
    golden = (Path(__file__).parent / "golden" / "table.txt").read_text().splitlines()
    assert namespace["text"] == "\n".join(golden) + "\n"
    shown = re.search(r"^```\n(=+\n.*?)^```", text, re.S | re.M)
    assert shown is not None
    for line in shown.group(1).splitlines():
        assert line == "..." or line in golden
