"""The HTML report: its content, the CLI command, and a render in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from multilevel.cli import main
from multilevel.workflow.report import build_report

FORMULA = "mAch ~ ses + sector + (1 | school)"


@pytest.fixture(scope="module")
def page(hsb) -> str:
    pytest.importorskip("matplotlib")
    return build_report(hsb, FORMULA, term="sectorCatholic", source="Hsb82")


def test_report_has_every_section(page, hsb, ref):
    for title in ("Model summary", "Intraclass correlation", "Variance decomposition",
                  "Pooling comparison", "Random effects and shrinkage"):
        assert f"<h2>{title}</h2>" in page
    assert "Not available" not in page
    assert page.count("data:image/png;base64,") == 2  # caterpillar and shrinkage
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert f"{ref['icc_anova']['icc']:.4f}" in page  # ICC(1) of mAch by school
    assert "not estimable" in page and "OLS (CR2)" in page


def test_cli_report(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.html"
    code = main(["report", "Dyestuff", "Yield ~ 1 + (1 | Batch)", "-o", str(out)])
    assert code == 0 and out.exists()
    assert "wrote" in capsys.readouterr().out
    text = out.read_text()
    assert "<h2>Pooling comparison</h2>" in text
    assert main(["report", "Dyestuff", "Yield ~ nope + (1 | Batch)", "-o", str(out)]) == 2


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium installed")
def test_report_renders_in_headless_chromium(page, tmp_path):
    from PIL import Image

    html_file = tmp_path / "report.html"
    html_file.write_text(page, encoding="utf-8")
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1200,4200", f"--screenshot={shot}", "--enable-logging=stderr",
         "--v=0", html_file.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if re.search(r":CONSOLE\(", line)]
    assert console == [], console
    image = np.asarray(Image.open(Path(shot)).convert("RGB")).astype(int)
    assert image.shape == (4200, 1200, 3)
    # the plots are drawn: matplotlib's blue points and red points (the text is grey)
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    assert ((blue > red + 80) & (blue > green + 30)).sum() > 500
    assert ((red > blue + 80) & (red > green + 80)).sum() > 200
