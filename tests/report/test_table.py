"""``table``: numbers equal the results' own, alignment by name, formats, options, errors."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from multilevel.errors import ModelError
from multilevel.report import from_json, table
from multilevel.report.latex import escape_latex


def markdown_cells(text: str) -> dict[str, list[list[str]]]:
    """Markdown table rows: label → list of cell lists (the SE line follows its label)."""
    rows: dict[str, list[list[str]]] = {}
    last = None
    lines = [line for line in text.splitlines() if line.startswith("|")]
    for line in lines[2:]:  # after the header and the alignment row
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        label, values = cells[0], cells[1:]
        if label:
            last = label.replace("\\", "")
            rows.setdefault(last, []).append(values)
        else:
            assert last is not None
            rows[last].append(values)
    return rows


def places(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def assert_shown(text: str, value: float) -> None:
    """``text`` is ``value`` rounded once to the decimals it shows."""
    shown = float(text)
    assert abs(shown - value) <= 0.5 * 10.0 ** -places(text) * (1 + 1e-9), (text, value)
    assert text == f"{value:.{places(text)}f}".replace("-0.000", "0.000") or shown == 0


def number(cell: str) -> str:
    return cell.rstrip("*").strip("()")


# -- numbers are the results' own --------------------------------------------------------------
def test_every_number_is_the_results_own(golden_models):
    models = list(golden_models.values())
    text = table(*models, format="markdown", stats=("nobs", "ngroups", "aic", "bic", "loglik"))
    rows = markdown_cells(text)
    for j, m in enumerate(models):
        for term, est in m.fixef.items():
            est_cell, se_cell = rows[term][0][j], rows[term][1][j]
            assert_shown(number(est_cell), est)
            assert_shown(number(se_cell), m.se[term])
            assert places(number(est_cell)) == places(number(se_cell))
        vc = m.varcorr
        for _, r in vc.iterrows():
            if r["grp"] == "Residual":
                label = "Residual SD"
            elif r["var2"] is None:
                label = f"{r['grp']}: SD {r['var1']}"
            else:
                label = f"{r['grp']}: Cor {r['var1']}, {r['var2']}"
            assert_shown(rows[label][0][j], r["sdcor"])
        assert rows["Num. obs."][0][j] == str(m.nobs)
        for g, n in m.ngroups.items():
            assert rows[f"Num. groups: {g}"][0][j] == str(n)
        assert_shown(rows["AIC"][0][j], m.aic)
        assert_shown(rows["BIC"][0][j], m.bic)
        assert_shown(rows["Log likelihood"][0][j], m.loglik)


def test_dataframe_holds_unrounded_numbers(golden_models):
    frame = table(*golden_models.values(), names=list(golden_models), format=None)
    assert isinstance(frame, pd.DataFrame)
    assert frame.index.names == ["part", "group", "term"]
    assert frame.columns.names == ["model", "value"]
    for name, m in golden_models.items():
        for term in m.fixef.index:
            assert frame.loc[("fixed", "", term), (name, "estimate")] == m.fixef[term]
            assert frame.loc[("fixed", "", term), (name, "std.error")] == m.se[term]
        assert frame.loc[("stats", "", "aic"), (name, "estimate")] == m.aic
        assert frame.loc[("stats", "", "loglik"), (name, "estimate")] == m.loglik
        sd = m.varcorr["sdcor"].iloc[0]
        group = m.varcorr["grp"].iloc[0]
        assert frame.loc[("random", group, "sd__(Intercept)"), (name, "estimate")] == sd
        icc = m.icc(by_group=False).loc["total", "adjusted"]
        assert frame.loc[("stats", "", "icc"), (name, "estimate")] == icc
    slope = golden_models["HSB slope"]
    cor = slope.varcorr.query("var2 == 'cses'")["sdcor"].iloc[0]
    assert frame.loc[("random", "school", "cor__(Intercept).cses"), ("HSB slope", "estimate")] \
        == cor
    assert frame.loc[("random", "Residual", "sd__Observation"), ("HSB slope", "estimate")] \
        == slope.sigma
    assert np.isnan(frame.loc[("fixed", "", "ses"), ("cbpp", "estimate")])


def test_coefficients_align_by_name(golden_models):
    intercept, slope = golden_models["HSB intercept"], golden_models["HSB slope"]
    frame = table(slope, intercept, names=["slope", "intercept"], format=None)
    fixed = frame.xs("fixed", level="part").droplevel("group")
    assert list(fixed.index) == list(dict.fromkeys([*slope.fixef.index, *intercept.fixef.index]))
    for term in ("(Intercept)", "meanses", "sectorCatholic"):
        assert fixed.loc[term, ("slope", "estimate")] == slope.fixef[term]
        assert fixed.loc[term, ("intercept", "estimate")] == intercept.fixef[term]
    assert np.isnan(fixed.loc["ses", ("slope", "estimate")])
    assert np.isnan(fixed.loc["cses", ("intercept", "estimate")])
    rows = markdown_cells(table(slope, intercept, format="markdown"))
    assert rows["ses"][0][0] == "" and rows["ses"][1][0] == ""
    assert rows["cses"][0][1] == ""


def test_confidence_intervals(golden_models):
    m = golden_models["HSB intercept"]
    frame = table(m, se="ci", level=0.9, format=None)
    assert list(frame.columns.get_level_values("value")) == ["estimate", "conf.low", "conf.high"]
    z = 1.6448536269514722
    low = frame.loc[("fixed", "", "ses"), ("Model 1", "conf.low")]
    assert low == pytest.approx(m.fixef["ses"] - z * m.se["ses"], rel=1e-12)
    text = table(m, se="ci", level=0.9, format="markdown")
    assert "90% confidence intervals in brackets." in text
    cell = markdown_cells(text)["ses"][1][0]
    lo, hi = (float(x) for x in cell.strip("[]").split(", "))
    assert lo == pytest.approx(m.fixef["ses"] - z * m.se["ses"], abs=5e-4)
    assert hi == pytest.approx(m.fixef["ses"] + z * m.se["ses"], abs=5e-4)


def test_stars_follow_the_p_values(golden_models, workflow_results):
    cbpp, ols = golden_models["cbpp"], workflow_results["OLS"]
    rows = markdown_cells(table(cbpp, ols, stars=True, format="markdown"))
    p = cbpp.fixef / cbpp.se
    for term in cbpp.fixef.index:
        pval = 2 * stats.norm.sf(abs(p[term]))
        expected = "***" if pval < 0.001 else "**" if pval < 0.01 else "*" if pval < 0.05 else ""
        cell = rows[term][0][0]
        assert cell.endswith(expected) and not cell[: len(cell) - len(expected)].endswith("*")
    for term, pval in ols.pvalues.items():
        expected = "***" if pval < 0.001 else "**" if pval < 0.01 else "*" if pval < 0.05 else ""
        assert rows[term][0][1].count("*") == len(expected)
    custom = table(cbpp, stars={"+": 0.1, "*": 0.05}, format="text")
    assert "+ p < 0.1" in custom and "*** " not in custom
    assert "normal approximation" in table(golden_models["HSB intercept"], stars=True)
    assert "normal approximation" not in table(cbpp, stars=True)


def test_workflow_results_in_one_table(hsb_intercept, workflow_results):
    results = {"LMM": hsb_intercept, **workflow_results}
    frame = table(results, stats=("nobs", "ngroups", "icc", "r2", "sigma"), format=None)
    for name, r in workflow_results.items():
        for term, value in r.coef.items():
            assert frame.loc[("fixed", "", term), (name, "estimate")] == value
            assert frame.loc[("fixed", "", term), (name, "std.error")] == r.se[term]
        assert frame.loc[("stats", "school", "ngroups"), (name, "estimate")] == 160
    ols = workflow_results["OLS"]
    assert frame.loc[("stats", "", "r2"), ("OLS", "estimate")] == ols.r2
    assert frame.loc[("random", "Residual", "sd__Observation"), ("OLS", "estimate")] == ols.sigma
    re_ = workflow_results["RE"]
    share = re_.sigma2["id"] / (re_.sigma2["id"] + re_.sigma2["idios"])
    assert frame.loc[("stats", "", "icc"), ("RE", "estimate")] == pytest.approx(share, rel=1e-14)
    assert frame.loc[("random", "school", "sd__(Intercept)"), ("RE", "estimate")] == \
        pytest.approx(math.sqrt(re_.sigma2["id"]), rel=1e-14)
    assert np.isnan(frame.loc[("stats", "", "icc"), ("OLS", "estimate")])
    text = table(results)
    assert "Two-stage" in text and "R²" not in text  # r2 not asked for


def test_stored_results_give_the_same_table(golden_models, workflow_results):
    live = [*golden_models.values(), *workflow_results.values()]
    stored = [from_json(_dumps(r)) for r in live]
    for fmt in ("text", "latex"):
        assert table(*stored, format=fmt, stars=True) == table(*live, format=fmt, stars=True)
    pd.testing.assert_frame_equal(table(*stored, format=None, se="ci"),
                                  table(*live, format=None, se="ci"))


def _dumps(result: Any) -> str:
    import json

    from multilevel.report.serialize import result_to_dict

    return json.dumps(result_to_dict(result))


class FakeBayes:
    """A Bayesian-like result: posterior means and SDs, credible intervals, no p-values."""

    report_kind = "bayes"
    nobs = 100
    ngroups = {"g": 10}  # noqa: RUF012

    @property
    def fixef(self) -> pd.Series:
        return pd.Series({"(Intercept)": 1.0, "x": -0.5})

    @property
    def se(self) -> pd.Series:
        return pd.Series({"(Intercept)": 0.25, "x": 0.125})

    @property
    def varcorr(self) -> pd.DataFrame:
        return pd.DataFrame({"grp": ["g", "Residual"], "var1": ["(Intercept)", None],
                             "var2": [None, None], "vcov": [4.0, 1.0], "sdcor": [2.0, 1.0]})

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        return pd.DataFrame({"lower": [0.6, -0.8], "upper": [1.5, -0.3]},
                            index=["(Intercept)", "x"])


def test_a_bayesian_result_slots_in():
    fake = FakeBayes()
    text = table(fake, se="ci", stars=True, format="markdown")
    rows = markdown_cells(text)
    assert rows["x"][0][0] == "-0.500" and rows["x"][1][0] == "[-0.800, -0.300]"
    assert "credible" in text and "*" not in rows["x"][0][0]
    frame = table(fake, format=None)
    assert frame.loc[("stats", "", "icc"), ("Model 1", "estimate")] == pytest.approx(0.8)
    stored = from_json(_dumps(fake))
    assert table(stored, se="ci") == table(fake, se="ci")


# -- formats -------------------------------------------------------------------------------------
def test_formats_share_the_cells(golden_models):
    models = list(golden_models.values())
    md = table(*models, format="markdown")
    text = table(*models, format="text")
    html = table(*models, format="html")
    latex = table(*models, format="latex")
    for label, lines in markdown_cells(md).items():
        for cells in lines:
            for cell in cells:
                if cell:
                    assert cell in text
                    assert cell in html
                    assert cell.replace("-", "$-$") in latex
        assert label in text
    assert html.startswith("<table") and html.count("<tbody") == 3
    assert latex.count(r"\toprule") == 1 and latex.count(r"\bottomrule") == 1
    assert latex.count(r"\midrule") == 3 and r"\begin{tabular}{l c c c}" in latex


def test_latex_escapes_special_characters(hsb_intercept):
    latex = table(hsb_intercept, names=["a_b & 50% #1 {x} ~^"], format="latex")
    assert r"a\_b \& 50\% \#1 \{x\} \textasciitilde{}\textasciicircum{}" in latex
    assert escape_latex("R²") == r"R\textsuperscript{2}"
    assert escape_latex("a|b<c>d\\") == r"a\textbar{}b\textless{}c\textgreater{}d\textbackslash{}"


def test_markdown_and_html_escape(hsb_intercept):
    md = table(hsb_intercept, names=["a|b*c"], format="markdown")
    assert r"a\|b\*c" in md
    html = table(hsb_intercept, names=["<b>&"], format="html")
    assert "&lt;b&gt;&amp;" in html


LATEX_DOCUMENT = r"""\documentclass{article}
\usepackage[utf8]{inputenc}
\usepackage[T1]{fontenc}
\usepackage{booktabs}
\begin{document}
%s
\end{document}
"""


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles(tmp_path: Path, golden_models, workflow_results):
    body = "\n".join([
        table(*golden_models.values(), format="latex"),
        table(*golden_models.values(), se="ci", stars=True, format="latex",
              names=["a_b & c", "50% #1", "{x} ~^ R²"]),
        table(*workflow_results.values(), stats=("nobs", "r2", "sigma"), format="latex"),
    ])
    (tmp_path / "t.tex").write_text(LATEX_DOCUMENT % body, encoding="utf-8")
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert (tmp_path / "t.pdf").stat().st_size > 0


# -- options and errors --------------------------------------------------------------------------
def test_names_stats_and_digits(golden_models):
    m = golden_models["HSB intercept"]
    text = table(m, m, names=["A", "B"], stats=("nobs", "deviance"), digits=2)
    assert re.search(r"^\s+A\s+B$", text.splitlines()[1])
    assert "Deviance" in text and "AIC" not in text
    rows = markdown_cells(table(m, digits=2, format="markdown"))
    assert rows["ses"] == [["2.19"], ["(0.11)"]]
    assert table([m, m], names=["A", "B"]) == table(m, m, names=["A", "B"])
    assert table({"A": m, "B": m}) == table(m, m, names=["A", "B"])
    frame = table(m, stats=("nobs", "npar"), format=None)
    assert frame.loc[("stats", "", "npar"), ("Model 1", "estimate")] == m.npar


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"se": "sd"}, "se must be"),
        ({"format": "rtf"}, "format must be"),
        ({"names": ["a", "b"]}, "2 names for 1 results"),
        ({"stats": ("nobs", "bogus")}, "unknown statistic"),
        ({"level": 1.5}, "conf_level"),
        ({"digits": 0}, "digits"),
        ({"stars": "yes"}, "stars must be"),
    ],
)
def test_bad_arguments(hsb_intercept, kwargs, message):
    with pytest.raises(ModelError, match=message):
        table(hsb_intercept, **kwargs)


def test_bad_inputs(hsb_intercept):
    with pytest.raises(ModelError, match="at least one"):
        table()
    with pytest.raises(ModelError, match="unique"):
        table(hsb_intercept, hsb_intercept, names=["a", "a"])
    with pytest.raises(TypeError, match="neither fixef nor coef"):
        table(object())
