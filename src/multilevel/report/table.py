"""``table``: several results side by side, for papers (as R's modelsummary, texreg, esttab).

The table has three blocks: fixed effects (estimate, with its SE or confidence interval on the
line beneath), random effects (SDs and correlations per grouping factor, the residual SD) and
statistics. Coefficients are aligned by name across models. ``format=None`` returns the
unrounded numbers as a DataFrame; the other formats round each number once, from the result's
own value (:mod:`multilevel.report.numbers`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import ModelError
from multilevel.lazy import stats as sps
from multilevel.report import _access as acc
from multilevel.report import numbers
from multilevel.report.glance import df_residual
from multilevel.report.grid import Cell, Grid, Row
from multilevel.report.html import render_html
from multilevel.report.latex import render_latex
from multilevel.report.text import render_markdown, render_text
from multilevel.report.tidy import ran_pars_term, tidy_fixed

DEFAULT_STATS = ("nobs", "ngroups", "icc", "aic", "bic", "loglik")

#: Row labels of the statistics ``stats`` can name.
STAT_LABELS = {
    "nobs": "Num. obs.",
    "ngroups": "Num. groups",
    "icc": "ICC",
    "icc_conditional": "ICC (conditional)",
    "aic": "AIC",
    "bic": "BIC",
    "loglik": "Log likelihood",
    "deviance": "Deviance",
    "sigma": "Sigma",
    "r2": "R²",
    "r2_marginal": "R² marginal",
    "r2_conditional": "R² conditional",
    "npar": "Num. parameters",
    "df_residual": "Residual df",
}

DEFAULT_STARS = (("***", 0.001), ("**", 0.01), ("*", 0.05))

FORMATS = ("text", "markdown", "html", "latex")

_RENDER = {
    "text": render_text, "markdown": render_markdown, "html": render_html, "latex": render_latex,
}


@dataclass(frozen=True)
class _RandomRow:
    group: str
    term: str
    label: str
    correlation: bool


@dataclass(frozen=True)
class _Model:
    name: str
    kind: str
    fixed: pd.DataFrame  # tidy rows indexed by term
    random: dict[tuple[str, str], float]
    random_rows: tuple[_RandomRow, ...]
    stats: dict[tuple[str, str], float]  # (statistic, group) → value
    pvalues: pd.Series | None
    normal_p: bool  # p-values from the normal approximation of an LMM


def _stat_values(result: Any, name: str) -> dict[str, float]:
    if name == "ngroups":
        return {g: float(n) for g, n in acc.ngroups(result).items()}
    if name in ("icc", "icc_conditional"):
        adjusted, conditional = acc.icc(result)
        return {"": adjusted if name == "icc" else conditional}
    if name in ("r2_marginal", "r2_conditional"):
        marginal, conditional = acc.r2_mixed(result)
        return {"": marginal if name == "r2_marginal" else conditional}
    if name == "sigma":
        return {"": acc.sigma(result)}
    if name == "df_residual":
        return {"": df_residual(result)}
    return {"": acc.scalar(result, name)}


def _random(result: Any) -> tuple[dict[tuple[str, str], float], tuple[_RandomRow, ...]]:
    vc = acc.varcorr(result).reset_index(drop=True)
    values: dict[tuple[str, str], float] = {}
    rows: list[_RandomRow] = []
    resid = vc.index[vc["grp"] == "Residual"]
    for i in [*vc.index.difference(resid), *resid]:
        r = vc.loc[i]
        group, term = str(r["grp"]), ran_pars_term(r["var1"], r["var2"])
        if term == "sd__Observation":
            label, corr = "Residual SD", False
        elif term.startswith("cor__"):
            label, corr = f"{group}: Cor {r['var1']}, {r['var2']}", True
        else:
            label, corr = f"{group}: SD {r['var1']}", False
        values[(group, term)] = float(r["sdcor"])
        rows.append(_RandomRow(group, term, label, corr))
    return values, tuple(rows)


def _model(
    name: str, result: Any, stat_names: Sequence[str], ci: bool, level: float, stars: bool,
    ddf: Any,
) -> _Model:
    kind = acc.result_kind(result)
    fixed = tidy_fixed(result, conf_int=ci, conf_level=level,
                       ddf=ddf if kind == "lmm" else None).set_index("term")
    random, random_rows = _random(result)
    values = {(s, g): v for s in stat_names for g, v in _stat_values(result, s).items()}
    pvalues, normal_p = None, False
    if stars and kind != "bayes":
        if "p.value" in fixed.columns:
            pvalues = fixed["p.value"].astype(float)
        else:
            z = (fixed["estimate"] / fixed["std.error"]).to_numpy(dtype=float)
            pvalues = pd.Series(2.0 * sps.norm.sf(np.abs(z)), index=fixed.index)
            normal_p = True
    return _Model(name, kind, fixed, random, random_rows, values, pvalues, normal_p)


def _union(keys: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(keys))


def _star(p: float, levels: Sequence[tuple[str, float]]) -> str:
    if not math.isfinite(p):
        return ""
    for symbol, threshold in levels:  # most stars first
        if p < threshold:
            return symbol
    return ""


def _coef_cells(
    model: _Model, term: str, ci: bool, digits: int, levels: Sequence[tuple[str, float]]
) -> tuple[Cell, Cell]:
    if term not in model.fixed.index:
        return Cell(), Cell()
    row: dict[Any, Any] = model.fixed.loc[term].to_dict()
    est, se = float(row["estimate"]), float(row["std.error"])
    if math.isfinite(se) and se > 0:
        places = numbers.decimals(se, digits)
    elif ci and math.isfinite(row["conf.high"] - row["conf.low"]):
        places = numbers.decimals((row["conf.high"] - row["conf.low"]) / 4.0, digits)
    else:
        places = numbers.decimals(est, digits)
    stars = _star(float(model.pvalues[term]), levels) if model.pvalues is not None else ""
    first = Cell(numbers.fixed(est, places), stars)
    if ci:
        low, high = float(row["conf.low"]), float(row["conf.high"])
        if math.isnan(low) and math.isnan(high):
            return first, Cell()
        return first, Cell(f"[{numbers.fixed(low, places)}, {numbers.fixed(high, places)}]")
    return first, Cell(f"({numbers.fixed(se, places)})" if math.isfinite(se) else "")


def _resolve(results: tuple[Any, ...], names: Sequence[str] | None) -> tuple[list[Any], list[str]]:
    if len(results) == 1 and isinstance(results[0], Mapping):
        if names is not None:
            raise ModelError("give names either as the dict's keys or as names=, not both")
        return list(results[0].values()), [str(k) for k in results[0]]
    if len(results) == 1 and isinstance(results[0], list | tuple):
        results = tuple(results[0])
    if not results:
        raise ModelError("table needs at least one result")
    if names is None:
        labels = [f"Model {i}" for i in range(1, len(results) + 1)]
    else:
        labels = [str(n) for n in names]
        if len(labels) != len(results):
            raise ModelError(f"{len(labels)} names for {len(results)} results")
    if len(set(labels)) != len(labels):
        raise ModelError(f"model names must be unique, got {labels}")
    return list(results), labels


def _star_levels(stars: bool | Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    if stars is True:
        return DEFAULT_STARS
    if not stars:
        return ()
    if isinstance(stars, Mapping):
        return tuple(sorted(((str(s), float(t)) for s, t in stars.items()), key=lambda x: x[1]))
    raise ModelError(f"stars must be True, False or a mapping symbol → p threshold, not {stars!r}")


def table(
    *results: Any,
    names: Sequence[str] | None = None,
    stats: Sequence[str] = DEFAULT_STATS,
    se: str = "se",
    stars: bool | Mapping[str, float] = False,
    format: str | None = "text",
    level: float = 0.95,
    digits: int = 3,
    ddf: Any = None,
) -> str | pd.DataFrame:
    """Results side by side: fixed effects, random effects and statistics.

    Parameters
    ----------
    *results
        Any results of the library: LMM, GLMM, Bayesian, OLS, panel, two-stage, or stored
        (:func:`~multilevel.report.from_json`). Also one list of them, or one dict
        name → result.
    names
        Column names (default "Model 1", "Model 2", ...).
    stats
        Statistics beneath the estimates, in this order: ``"nobs"``, ``"ngroups"`` (a row per
        grouping factor), ``"icc"`` (adjusted ICC: the result's ``icc()`` total, else
        τ²/(τ²+σ²) for a single random intercept), ``"icc_conditional"``, ``"aic"``,
        ``"bic"``, ``"loglik"``, ``"deviance"``, ``"sigma"``, ``"r2"`` (OLS),
        ``"r2_marginal"`` and ``"r2_conditional"`` (Nakagawa's, of mixed models), ``"npar"``,
        ``"df_residual"``, or any numeric attribute name. Rows no model has are left out.
    se
        ``"se"``: standard errors in parentheses beneath each estimate; ``"ci"``: confidence
        intervals in brackets (Wald; credible intervals for Bayesian results).
    stars
        Significance stars: True for ``*`` p < 0.05, ``**`` p < 0.01, ``***`` p < 0.001, or a
        mapping symbol → threshold. p-values are those of :func:`~multilevel.report.tidy`
        (t tests of workflow results, z tests of GLMMs); linear mixed models have none unless
        ``ddf`` is given, so theirs come from the normal approximation (as texreg), noted
        beneath the table. Bayesian results get no stars.
    format
        ``"text"``, ``"markdown"``, ``"html"``, ``"latex"`` (a ``table`` float with a booktabs
        ``tabular``: needs ``\\usepackage{booktabs}``), or None for a DataFrame.
    level
        Confidence level of ``se="ci"``.
    digits
        Significant digits of standard errors (estimates get the same decimals), of
        variance components, and decimals of correlations.
    ddf
        Passed to :func:`~multilevel.report.tidy` for linear mixed models (e.g.
        ``"satterthwaite"``) for their p-values and t intervals.

    Returns
    -------
    str or pandas.DataFrame
        The rendered table; with ``format=None`` a DataFrame of unrounded numbers. Its rows are
        a MultiIndex (``part``: "fixed", "random" or "stats"; ``group``: the grouping factor or
        ""; ``term``: the coefficient, broom.mixed's random-effect parameter name such as
        ``sd__(Intercept)``, or the statistic), its columns a MultiIndex (model name;
        ``estimate`` and ``std.error``, or ``estimate``, ``conf.low`` and ``conf.high``).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.report import table
    >>> hsb = ml.datasets.load("Hsb82")
    >>> m1 = ml.fit("mAch ~ ses + (1 | school)", hsb)
    >>> m2 = ml.fit("mAch ~ ses + sector + (1 | school)", hsb)
    >>> print(table(m1, m2, stats=("nobs",)))  # doctest: +NORMALIZE_WHITESPACE
    ========================================
                            Model 1  Model 2
    ----------------------------------------
    (Intercept)              12.657   11.719
                            (0.188)  (0.228)
    ses                      2.390    2.375
                            (0.106)  (0.105)
    sectorCatholic                    2.101
                                     (0.341)
    ----------------------------------------
    school: SD (Intercept)    2.18     1.92
    Residual SD               6.09     6.09
    ----------------------------------------
    Num. obs.                 7185     7185
    ========================================
    Standard errors in parentheses.
    <BLANKLINE>
    """
    models_in, labels = _resolve(results, names)
    if se not in ("se", "ci"):
        raise ModelError(f"se must be 'se' or 'ci', not {se!r}")
    if format is not None and format not in FORMATS:
        raise ModelError(f"format must be one of {', '.join(map(repr, FORMATS))} or None, "
                         f"not {format!r}")
    if isinstance(stats, str):
        stats = (stats,)
    if not (isinstance(digits, int) and digits >= 1):
        raise ModelError(f"digits must be a positive integer, not {digits!r}")
    ci = se == "ci"
    level = acc.check_level(level)
    levels = _star_levels(stars)
    models = [
        _model(n, r, list(stats), ci, level, bool(levels), ddf)
        for n, r in zip(labels, models_in, strict=True)
    ]
    unknown = [s for s in stats if s not in STAT_LABELS
               and not any(math.isfinite(v) for m in models for (k, _), v in m.stats.items()
                           if k == s)]
    if unknown:
        raise ModelError(f"unknown statistic(s) {unknown}: none of the results has them; "
                         f"known: {', '.join(STAT_LABELS)}")

    terms = _union(t for m in models for t in m.fixed.index)
    random_rows = _union(r for m in models for r in m.random_rows)
    random_keys = _union((r.group, r.term) for r in random_rows)
    groups = _union(g for g, _ in random_keys)
    order = {g: i for i, g in enumerate(groups)}
    random_keys.sort(key=lambda k: (k[0] == "Residual", order[k[0]]))
    row_of = {(r.group, r.term): r for r in random_rows}
    stat_keys: list[tuple[str, str]] = []
    for s in stats:
        keys = _union(k for m in models for k in m.stats if k[0] == s)
        stat_keys.extend(k for k in keys
                         if any(math.isfinite(m.stats.get(k, math.nan)) for m in models))

    if format is None:
        return _frame(models, terms, random_keys, stat_keys, ci)

    sections: list[tuple[Row, ...]] = []
    fixed_rows: list[Row] = []
    for term in terms:
        pairs = [_coef_cells(m, term, ci, digits, levels) for m in models]
        fixed_rows.append(Row(term, tuple(p[0] for p in pairs)))
        fixed_rows.append(Row("", tuple(p[1] for p in pairs)))
    random_out: list[Row] = []
    for key in random_keys:
        meta = row_of[key]
        entries = []
        for m in models:
            v = m.random.get(key, math.nan)
            text = numbers.fixed(v, digits) if meta.correlation else numbers.significant(v, digits)
            entries.append(Cell(text if key in m.random else ""))
        random_out.append(Row(meta.label, tuple(entries)))
    stat_rows: list[Row] = []
    for name, group in stat_keys:
        label = STAT_LABELS.get(name, name)
        if group:
            label = f"{label}: {group}"
        cells = tuple(Cell(numbers.statistic(name, m.stats.get((name, group), math.nan), digits))
                      for m in models)
        stat_rows.append(Row(label, cells))
    sections = [tuple(s) for s in (fixed_rows, random_out, stat_rows) if s]

    kinds = {m.kind for m in models}
    if ci:
        what = "credible" if kinds == {"bayes"} else "confidence"
        notes = [f"{level * 100:g}% {what} intervals in brackets."]
    else:
        notes = ["Standard errors in parentheses."]
    if levels and any(m.normal_p for m in models):
        notes.append("p-values of linear mixed models from the normal approximation.")
    grid = Grid(tuple(labels), tuple(sections), tuple(notes), levels)
    return _RENDER[format](grid)


def _frame(
    models: list[_Model],
    terms: list[str],
    random_keys: list[tuple[str, str]],
    stat_keys: list[tuple[str, str]],
    ci: bool,
) -> pd.DataFrame:
    index = pd.MultiIndex.from_tuples(
        [("fixed", "", t) for t in terms]
        + [("random", g, t) for g, t in random_keys]
        + [("stats", g, s) for s, g in stat_keys],
        names=["part", "group", "term"],
    )
    second = ("conf.low", "conf.high") if ci else ("std.error",)
    columns = pd.MultiIndex.from_tuples(
        [(m.name, c) for m in models for c in ("estimate", *second)], names=["model", "value"]
    )
    values = np.full((len(index), len(columns)), np.nan)
    nf, nr = len(terms), len(random_keys)
    for j, m in enumerate(models):
        base = j * (1 + len(second))
        fixed = m.fixed.reindex(terms)
        for k, c in enumerate(("estimate", *second)):
            values[:nf, base + k] = fixed[c].to_numpy(dtype=float)
        for i, key in enumerate(random_keys):
            values[nf + i, base] = m.random.get(key, math.nan)
        for i, key in enumerate(stat_keys):
            values[nf + nr + i, base] = m.stats.get(key, math.nan)
    return pd.DataFrame(values, index=index, columns=columns)
