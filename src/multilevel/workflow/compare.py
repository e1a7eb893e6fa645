"""One coefficient under every way of handling the groups: the pooling comparison table."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import ModelError, MultilevelError, MultilevelWarning
from multilevel.formula import parse_formula
from multilevel.workflow._data import constant_within, group_means, linear_design
from multilevel.workflow.ols import ols_design
from multilevel.workflow.panel import panel
from multilevel.workflow.pooling import per_group_ols
from multilevel.workflow.twostage import two_stage_arrays

_NAN = float("nan")


def mixed_df(model: Any, term: str) -> tuple[float, str]:
    """Satterthwaite df of one fixed effect, when the result offers ``coef_table``.

    Returns ``(inf, reason)`` (a z test) when it does not.
    """
    table = getattr(model, "coef_table", None)
    if callable(table):
        try:
            tab = table(ddf="satterthwaite")
            return float(tab.set_index("term").loc[term, "df"]), "Satterthwaite df"
        except (MultilevelError, KeyError, TypeError, ValueError, np.linalg.LinAlgError):
            pass
    return math.inf, "z test (Satterthwaite df not available)"


def _row(method: str, pooling: str, est: float, se: float, df: float, note: str) -> dict:
    return {"method": method, "pooling": pooling, "estimate": est, "se": se, "df": df,
            "note": note}


def compare_pooling(
    formula: str,
    data: Any,
    group: str,
    term: str,
    random: str | None = None,
    *,
    reml: bool = True,
    contrasts: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """A coefficient's estimate and SE under complete, no, two-stage and partial pooling.

    Parameters
    ----------
    formula
        The fixed part, e.g. ``"mAch ~ ses + sector + meanses"``.
    data
        pandas or polars DataFrame; every method uses the same complete rows.
    group
        The grouping column.
    term
        The coefficient to compare, by R's name (``"sectorCatholic"``).
    random
        Random-effects part of the mixed model (default ``"(1 | group)"``).
    reml
        REML (default) or ML for the mixed model.
    contrasts
        Per-column contrasts.

    Returns
    -------
    pandas.DataFrame
        Index ``method``; columns ``pooling``, ``estimate``, ``se``, ``df`` and ``note``:

        * ``OLS (iid)``, ``OLS (CR1)``, ``OLS (CR2)``: complete pooling, one regression with
          model-based, Stata-style cluster-robust, and bias-reduced cluster-robust SEs;
        * ``no pooling``: the mean over groups of each group's own OLS estimate, SE = SD/√J;
        * ``two-stage``: level-1 slopes by the within estimator, the intercept and level-2
          terms by OLS of the group intercepts on the group covariates (see
          :func:`~multilevel.workflow.twostage.two_stage`);
        * ``FE``: the within estimator (slopes only);
        * ``RE-GLS``: random-effects GLS with Swamy-Arora variances (plm's default);
        * ``mixed``: the mixed model fitted by REML (or ML), Satterthwaite df where available.

        A term a method cannot estimate has NaN estimate and SE and the reason in ``note``
        (a level-2 covariate under FE and no pooling; the intercept under FE).
        ``attrs`` hold ``term``, ``group``, ``nobs`` and ``ngroups``.

    Examples
    --------
    >>> import multilevel as ml
    >>> t = ml.compare_pooling("mAch ~ ses + sector + meanses", ml.datasets.load("Hsb82"),
    ...                        "school", "sectorCatholic")
    >>> t.index.tolist()[:3]
    ['OLS (iid)', 'OLS (CR1)', 'OLS (CR2)']
    """
    random = random or f"(1 | {group})"
    full = parse_formula(f"{formula} + {random}")
    if not full.random:
        raise ModelError(f"random={random!r} has no random-effects term such as (1 | {group})")
    design = linear_design(
        formula, data, group=group, extra=full.variables, contrasts=contrasts,
        what="compare_pooling",
    )
    names = list(design.names)
    if term not in names:
        raise ModelError(f"no coefficient {term!r} in {formula!r}; its terms are "
                         f"{', '.join(names)}")
    X, y, codes, J = design.X, design.y, design.codes, design.ngroups
    k = names.index(term)
    const = set(constant_within(X, codes, J))
    is_level2 = k in const and term != "(Intercept)"
    frame = design.frame
    rows = []
    for se in ("iid", "CR1", "CR2"):
        r = ols_design(design, se)
        rows.append(_row(f"OLS ({se})", "complete", r.coef[term], r.se[term], r.df[term], ""))

    level1 = [j for j in range(len(names)) if j not in const or names[j] == "(Intercept)"]
    if is_level2:
        rows.append(_row("no pooling", "none", _NAN, _NAN, _NAN,
                         f"not estimable: {term} is constant within each {group}, so a "
                         "regression inside one group cannot estimate it"))
    else:
        est, _, _, why = per_group_ols(X[:, level1], y, codes, J, len(level1) + 1)
        values = est[[w == "" for w in why], level1.index(k)]
        values = values[np.isfinite(values)]
        note = f"mean of {values.size} of {J} group regressions"
        rows.append(_row("no pooling", "none", float(values.mean()),
                         float(values.std(ddof=1) / np.sqrt(values.size)),
                         float(values.size - 1), note))

    l1 = [j for j in range(len(names)) if j not in const]
    l2 = [j for j in range(len(names)) if j in const]
    if l2:
        Z = group_means(X[:, l2], codes, J)
        b, vb, _, _, g, vg, df1, df2 = two_stage_arrays(y, X[:, l1], Z, codes, J)
        if k in l2:
            pos = l2.index(k)
            rows.append(_row("two-stage", "two-stage", g[pos], math.sqrt(vg[pos, pos]), df2,
                             "OLS of group intercepts on group covariates"))
        else:
            pos = l1.index(k)
            rows.append(_row("two-stage", "two-stage", b[pos], math.sqrt(vb[pos, pos]), df1,
                             "stage 1: within estimator"))
    else:
        rows.append(_row("two-stage", "two-stage", _NAN, _NAN, _NAN,
                         "not estimable: the model has no intercept or level-2 term"))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MultilevelWarning)
        fe = panel(formula, frame, group, "fe", contrasts=contrasts) if l1 else None
        re = panel(formula, frame, group, "re", contrasts=contrasts)
    if fe is not None and term in fe.coef.index:
        rows.append(_row("FE", "none", fe.coef[term], fe.se[term], fe.df[term], "within"))
    else:
        reason = ("FE reports slopes only (the intercept is absorbed by the group effects)"
               if term == "(Intercept)" else
               f"{term} is constant within each {group}, absorbed by the group effects")
        rows.append(_row("FE", "none", _NAN, _NAN, _NAN, f"not estimable: {reason}"))
    theta = re.sigma2
    note = (f"Swamy-Arora: σ²_u = {theta['id']:.4g}, σ²_e = {theta['idios']:.4g}"
            if isinstance(theta, dict) else "")
    rows.append(_row("RE-GLS", "partial", re.coef[term], re.se[term], re.df[term], note))

    from multilevel.fit import fit

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MultilevelWarning)
        mixed = fit(f"{formula} + {random}", frame, reml=reml, contrasts=contrasts)
    df, how = mixed_df(mixed, term)
    note = how + ("; singular fit" if mixed.singular else "")
    if any(issubclass(w.category, MultilevelWarning) and "converge" in str(w.message)
           for w in caught):
        note += "; convergence warning"
    label = f"mixed ({'REML' if reml else 'ML'})"
    rows.append(_row(label, "partial", mixed.fixef[term], mixed.se[term], df, note))

    table = pd.DataFrame(rows).set_index("method")
    table.attrs.update(term=term, group=group, nobs=design.nobs, ngroups=J,
                       formula=formula, random=random)
    return table


def format_comparison(table: pd.DataFrame) -> str:
    """The comparison table as text, NaN shown as "not estimable"."""
    def number(v: float) -> str:
        return "—" if not np.isfinite(v) else f"{v:.4f}"

    out = table.copy()
    for col in ("estimate", "se"):
        out[col] = out[col].map(number)
    out["df"] = table["df"].map(
        lambda v: "Inf" if v == math.inf else "—" if not np.isfinite(v) else f"{v:.1f}"
    )
    head = f"{table.attrs.get('term', '')}: estimate and SE by method"
    return head + "\n" + out.to_string()


__all__ = ["compare_pooling", "format_comparison"]

