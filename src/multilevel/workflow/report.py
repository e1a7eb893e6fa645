"""A self-contained HTML report of the multilevel workflow for one model.

``multilevel report DATA FORMULA -o report.html`` (or :func:`write_report`) fits the model and
writes one HTML page with no external resources (inline CSS, plots as embedded PNG images, no
scripts): the model summary, ICCs, the variance decomposition, the pooling comparison of one
coefficient, and caterpillar and shrinkage plots. A section that cannot be computed for the
model says why instead of stopping the report.
"""

from __future__ import annotations

import base64
import html
import io
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from multilevel.errors import MultilevelError, MultilevelWarning

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd;
     padding-bottom: 0.2em; margin-top: 1.8em; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e3e3e3; text-align: right; }
th { background: #f3f3f3; } td:last-child, th:last-child { text-align: left; }
.note { color: #555; font-size: 0.9em; } .unavailable { color: #a33; }
figure { margin: 1em 0; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
"""


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    return frame.to_html(
        float_format=lambda v: f"{v:.{digits}f}", border=0, na_rep="—", escape=True
    )


def _section(title: str, body: Callable[[], str]) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MultilevelWarning)
            content = body()
    except (MultilevelError, ImportError, ValueError, KeyError) as exc:
        reason = html.escape(str(exc))
        content = f'<p class="unavailable">Not available for this model: {reason}</p>'
    return f"<section><h2>{html.escape(title)}</h2>\n{content}\n</section>"


def _parts(result: Any) -> tuple[str, str, str | None]:
    """(fixed formula, random part, grouping column) of a fitted model."""
    parsed = result.design.formula
    fixed = f"{parsed.response.text} ~ {parsed.fixed.text}"
    random = " + ".join(f"({t.text})" for t in parsed.random)
    group = result.design.terms[0].group
    return fixed, random, group if group in result.design.frame.data.columns else None


def _icc(result: Any, data: Any) -> str:
    from multilevel.fit import fit
    from multilevel.workflow.icc import icc_anova

    _, _, group = _parts(result)
    response = result.design.formula.response.text
    out = []
    if group is not None:
        r = icc_anova(data, response, group)
        out.append(
            f"<p>One-way ANOVA ICC(1) of <code>{html.escape(response)}</code> by "
            f"<code>{html.escape(group)}</code>: <b>{r.icc:.4f}</b> (95% CI {r.lower:.4f} to "
            f"{r.upper:.4f}{', approximate for unequal groups' if not r.balanced else ''}); "
            f"n0 = {r.n0:.2f}. η² = SS<sub>between</sub>/SS<sub>total</sub> = "
            f"{r.eta_squared:.4f} is not an ICC.</p>"
        )
        names = dict.fromkeys(t.name for t in result.design.formula.random)
        bars = " + ".join(f"(1 | {name})" for name in names)
        if bars:
            null = fit(f"{response} ~ 1 + {bars}", result.design.frame.data, reml=result.reml)
            ci = "profile" if len(null.design.terms) == 1 else None
            table = null.icc(ci=0.95) if ci else null.icc()
            out.append(f"<p>Null model <code>{html.escape(null.formula)}</code>:</p>")
            out.append(_table(table))
    out.append("<p>Fitted model (adjusted = V<sub>g</sub>/(V<sub>random</sub> + "
               "V<sub>residual</sub>); conditional also counts the fixed-effects variance, "
               "as R's performance::icc):</p>")
    out.append(_table(result.icc()))
    return "\n".join(out)


def _decomposition(result: Any) -> str:
    table = result.variance_decomposition(include_fixed=True)
    return (
        _table(table)
        + '<p class="note">Random-slope variances are averaged over the observed covariate '
        "values (Johnson 2014); shares are of the total variance.</p>"
    )


def _pooling(result: Any, term: str | None) -> str:
    from multilevel.workflow.compare import compare_pooling

    fixed, random, group = _parts(result)
    if group is None:
        raise MultilevelError("the main grouping factor is not a single data column")
    names = [n for n in result.fixef.index if n != "(Intercept)"]
    chosen = term or (names[0] if names else "(Intercept)")
    table = compare_pooling(fixed, result.design.frame.data, group, chosen, random=random,
                            reml=result.reml)
    table["df"] = table["df"].map(
        lambda v: "Inf" if v == float("inf") else "—" if pd.isna(v) else f"{v:.1f}"
    )
    return (
        f"<p>Coefficient <code>{html.escape(chosen)}</code> under complete pooling (OLS with "
        "iid, CR1 and CR2 standard errors), no pooling (mean of per-group regressions), the "
        "two-stage method, fixed effects, random-effects GLS and the mixed model:</p>"
        + _table(table)
    )


def _plots(result: Any) -> str:
    from multilevel.workflow import plots

    figures = [("Caterpillar plot: conditional modes with 95% intervals",
                plots.caterpillar(result))]
    try:
        figures.append(("Shrinkage of group intercepts against group size",
                        plots.shrinkage(result)))
    except MultilevelError as exc:
        figures.append((f"Shrinkage plot not available: {exc}", None))
    parts = []
    for caption, fig in figures:
        img = _png(fig) if fig is not None else ""
        parts.append(f"<figure>{img}<figcaption>{html.escape(caption)}</figcaption></figure>")
    return "\n".join(parts)


def build_report(
    data: Any,
    formula: str,
    *,
    term: str | None = None,
    reml: bool = True,
    title: str | None = None,
    source: str | None = None,
) -> str:
    """Fit ``formula`` to ``data`` and return the workflow report as one HTML page.

    Parameters
    ----------
    data
        pandas or polars DataFrame.
    formula
        lme4 formula of the mixed model, e.g. ``"mAch ~ ses + sector + (1 | school)"``.
    term
        The coefficient of the pooling comparison (default: the first one after the
        intercept).
    reml
        REML (default) or ML.
    title, source
        Page title and a description of where the data came from.

    Returns
    -------
    str
        A complete HTML document without external resources.
    """
    from multilevel.fit import fit

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MultilevelWarning)
        result = fit(formula, data, reml=reml)
    frame = result.design.frame.data
    groups = ", ".join(f"{html.escape(g)}: {k}" for g, k in result.ngroups.items())
    warned = "".join(f"<li>{html.escape(str(w.message))}</li>" for w in caught)
    head = (
        f"<h1>{html.escape(title or 'Multilevel model report')}</h1>\n"
        f"<p><code>{html.escape(formula)}</code> fitted by {'REML' if reml else 'ML'} to "
        f"{html.escape(source or 'the data')}: {result.nobs} observations "
        f"({len(frame.columns)} columns used), groups {groups}.</p>"
        + (f'<ul class="note">{warned}</ul>' if warned else "")
    )
    body = [
        head,
        _section("Model summary", lambda: f"<pre>{html.escape(result.summary())}</pre>"),
        _section("Intraclass correlation", lambda: _icc(result, data)),
        _section("Variance decomposition", lambda: _decomposition(result)),
        _section("Pooling comparison", lambda: _pooling(result, term)),
        _section("Random effects and shrinkage", lambda: _plots(result)),
    ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title or 'Multilevel model report')}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(body)
        + f'\n<p class="note">Made by multilevel on {stamp}.</p>\n</body>\n</html>\n'
    )


def write_report(data: Any, formula: str, path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`build_report` to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    out.write_text(build_report(data, formula, **kwargs), encoding="utf-8")
    return out


def run_cli(data: str, formula: str, output: str, term: str | None, ml: bool) -> int:
    """The ``multilevel report`` command: read the data, write the report, print its path."""
    from multilevel.cli import read_data

    frame = read_data(data)
    path = write_report(frame, formula, output, term=term, reml=not ml, source=data)
    print(f"wrote {path}")
    return 0


__all__ = ["build_report", "write_report"]
