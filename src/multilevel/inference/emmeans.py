"""Estimated marginal means and their contrasts (R's emmeans, Stata's ``margins``).

The reference grid crosses every level of each factor in the fixed effects with numeric
covariates at their means (or at values given in ``at``). The marginal mean of a cell of
``specs`` (within each level of ``by``) averages the grid's predictions Xβ̂ over the other
factors with equal weights: a linear function ℓᵀβ̂, tested as any contrast (Kenward-Roger df for
REML fits up to 3000 observations by default, as emmeans; Satterthwaite for ML fits; z beyond).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from multilevel.errors import ModelError
from multilevel.inference._common import require_lmm
from multilevel.inference.coeftable import contrast_tests
from multilevel.inference.newdata import encode

FloatArray = NDArray[np.float64]

LIMIT = 3000


def _levels(col: pd.Series) -> list[Any]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        return list(col.cat.categories)
    return sorted(col.dropna().unique().tolist())


def _grid(result: Any, at: Mapping[str, Any]) -> pd.DataFrame:
    frame = result.design.frame.data
    variables = list(result.design.formula.fixed.variables)
    variables += [v for f in result.design.formula.offsets for v in f.variables]
    if isinstance(result.options.offset, str):
        variables.append(result.options.offset)
    axes: dict[str, list[Any]] = {}
    for v in dict.fromkeys(variables):
        col = frame[v]
        if v in at:
            value = at[v]
            axes[v] = list(value) if isinstance(value, list | tuple | np.ndarray) else [value]
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            axes[v] = [float(col.mean())]
        else:
            axes[v] = _levels(col)
    names = list(axes)
    rows = list(itertools.product(*(axes[n] for n in names)))
    grid = pd.DataFrame(rows, columns=names)
    for n in names:
        if isinstance(frame[n].dtype, pd.CategoricalDtype):
            grid[n] = pd.Categorical(grid[n], categories=frame[n].cat.categories)
    return grid


def _auto_ddf(result: Any) -> str | None:
    if result.nobs > LIMIT:
        return None
    return "kenward-roger" if result.reml else "satterthwaite"


@dataclass(frozen=True)
class EMMeans:
    """Estimated marginal means of a fit.

    Attributes
    ----------
    table
        One row per cell of ``specs`` (within ``by``): the factor levels, emmean, SE, df,
        lower.CL, upper.CL.
    L
        The linear function of β̂ behind each row.
    specs, by
        The factors the means are for, and the grouping factors.
    result
        The fitted model.
    ddf, level
        Degrees-of-freedom method and confidence level used.
    """

    table: pd.DataFrame
    L: FloatArray
    specs: tuple[str, ...]
    by: tuple[str, ...]
    result: Any
    ddf: Any
    level: float

    def __repr__(self) -> str:
        return repr(self.table)

    def _groups(self) -> list[NDArray[np.intp]]:
        if not self.by:
            return [np.arange(len(self.table))]
        keys = self.table[list(self.by)].astype(str).agg("|".join, axis=1)
        return [np.flatnonzero(keys.to_numpy() == k) for k in dict.fromkeys(keys)]

    def _label(self, i: int) -> str:
        return " ".join(str(self.table.iloc[i][s]) for s in self.specs)

    def pairs(self, adjust: str = "tukey", level: float | None = None,
              reverse: bool = False) -> pd.DataFrame:
        """All pairwise differences of the means (within each ``by`` group).

        Parameters
        ----------
        adjust
            P-value and interval adjustment for multiple comparisons within each group:
            "tukey" (default), "bonferroni", "holm", "sidak", "fdr" or "none".
        level
            Confidence level (default: the level of the means).
        reverse
            Label and compute later minus earlier instead of earlier minus later.
        """
        rows_l, labels, group_rows = [], [], []
        for idx in self._groups():
            pairs = list(itertools.combinations(idx, 2))
            for i, j in pairs:
                a, b = (j, i) if reverse else (i, j)
                rows_l.append(self.L[a] - self.L[b])
                labels.append(f"{self._label(a)} - {self._label(b)}")
            group_rows.append((len(idx), len(pairs), idx[0]))
        if not rows_l:
            raise ModelError("pairwise contrasts need at least two means in a group")
        lev = self.level if level is None else level
        tests = contrast_tests(self.result, np.array(rows_l), ddf=self.ddf, level=lev)
        out = pd.DataFrame({"contrast": labels})
        start = 0
        by_cols: dict[str, list[Any]] = {b: [] for b in self.by}
        for nmeans, npairs, first in group_rows:
            part = slice(start, start + npairs)
            _adjust(tests, part, adjust, nmeans, npairs, lev)
            for b in self.by:
                by_cols[b].extend([self.table.iloc[first][b]] * npairs)
            start += npairs
        for b in self.by:
            out[b] = by_cols[b]
        stat = "z.ratio" if np.all(np.isinf(tests["df"])) else "t.ratio"
        out["estimate"] = tests["estimate"].to_numpy()
        out["SE"] = tests["std.error"].to_numpy()
        out["df"] = tests["df"].to_numpy()
        out[stat] = tests["statistic"].to_numpy()
        out["p.value"] = tests["p.value"].to_numpy()
        out["lower.CL"] = tests["conf.low"].to_numpy()
        out["upper.CL"] = tests["conf.high"].to_numpy()
        return out

    def contrast(self, weights: Mapping[str, Sequence[float]], level: float | None = None
                 ) -> pd.DataFrame:
        """Custom contrasts of the means: name → one weight per row of ``table`` (no
        multiplicity adjustment)."""
        names = list(weights)
        mat = np.array([np.asarray(weights[n], dtype=float) for n in names])
        if mat.shape[1] != len(self.table):
            raise ModelError(f"each contrast needs {len(self.table)} weights (one per mean)")
        tests = contrast_tests(self.result, mat @ self.L, ddf=self.ddf,
                               level=self.level if level is None else level)
        tests.insert(0, "contrast", names)
        return tests


def _adjust(tests: pd.DataFrame, part: slice, method: str, nmeans: int, npairs: int,
            level: float) -> None:
    p = tests["p.value"].to_numpy()[part].copy()
    t = tests["statistic"].to_numpy()[part]
    df = tests["df"].to_numpy()[part]
    se = tests["std.error"].to_numpy()[part]
    est = tests["estimate"].to_numpy()[part]
    method = method.lower()
    alpha = 1.0 - level
    crit = None
    if method == "tukey":
        p = stats.studentized_range.sf(np.abs(t) * np.sqrt(2.0), nmeans, df)
        crit = stats.studentized_range.ppf(level, nmeans, df) / np.sqrt(2.0)
    elif method in ("bonferroni", "holm"):
        if method == "bonferroni":
            p = np.minimum(p * npairs, 1.0)
        else:
            order = np.argsort(p)
            adj = np.maximum.accumulate(p[order] * (npairs - np.arange(npairs)))
            p[order] = np.minimum(adj, 1.0)
        crit = _quantile(1 - alpha / (2 * npairs), df)
    elif method == "sidak":
        p = 1.0 - (1.0 - p) ** npairs
        crit = _quantile(1 - (1 - (1 - alpha) ** (1 / npairs)) / 2, df)
    elif method in ("fdr", "bh"):
        order = np.argsort(p)[::-1]
        ranks = npairs - np.arange(npairs)
        adj = np.minimum.accumulate(p[order] * npairs / ranks)
        p[order] = np.minimum(adj, 1.0)
    elif method != "none":
        raise ModelError(
            f"unknown adjust {method!r}; use 'tukey', 'bonferroni', 'holm', 'sidak', 'fdr' or "
            "'none'"
        )
    idx = tests.index[part]
    tests.loc[idx, "p.value"] = p
    if crit is not None:
        tests.loc[idx, "conf.low"] = est - crit * se
        tests.loc[idx, "conf.high"] = est + crit * se


def _quantile(prob: float, df: FloatArray) -> FloatArray:
    return np.where(np.isinf(df), stats.norm.ppf(prob), stats.t.ppf(prob, df))


def emmeans(
    result: Any,
    specs: str | Sequence[str],
    by: str | Sequence[str] | None = None,
    at: Mapping[str, Any] | None = None,
    ddf: Any = "auto",
    level: float = 0.95,
) -> EMMeans:
    """Estimated marginal means of a factor (or factor combination) of the fixed effects.

    Parameters
    ----------
    result
        A fitted linear mixed model.
    specs
        Factor name(s) whose levels the means are for.
    by
        Factor name(s) to compute the means within.
    at
        Values for variables in the grid: a number or list per variable (numeric covariates
        default to their mean).
    ddf
        "auto" (Kenward-Roger for REML fits, Satterthwaite for ML fits, z tests beyond 3000
        observations, as emmeans), or any ddf of :func:`coef_table`.
    level
        Confidence level.

    Returns
    -------
    EMMeans
        ``.table`` of means; ``.pairs(adjust="tukey")`` for pairwise comparisons.
    """
    result = require_lmm(result, "emmeans")
    specs_t = (specs,) if isinstance(specs, str) else tuple(specs)
    by_t = () if by is None else ((by,) if isinstance(by, str) else tuple(by))
    at = dict(at or {})
    grid = _grid(result, at)
    for v in (*specs_t, *by_t):
        if v not in grid.columns:
            raise ModelError(f"{v!r} is not a variable of the fixed effects: {list(grid.columns)}")
    enc = encode(result, grid, [], allow_new_levels=True)
    x = enc.X
    keys = [*by_t, *specs_t]
    cells = grid[keys].drop_duplicates().reset_index(drop=True)
    rows = []
    for _, cell in cells.iterrows():
        mask = np.ones(len(grid), dtype=bool)
        for k in keys:
            mask &= (grid[k] == cell[k]).to_numpy()
        rows.append(x[mask].mean(axis=0))
    L = np.array(rows)
    method = _auto_ddf(result) if ddf == "auto" else ddf
    tests = contrast_tests(result, L, ddf=method, level=level)
    table = cells[[*specs_t, *by_t]].copy()
    table["emmean"] = tests["estimate"].to_numpy()
    table["SE"] = tests["std.error"].to_numpy()
    table["df"] = tests["df"].to_numpy()
    table["lower.CL"] = tests["conf.low"].to_numpy()
    table["upper.CL"] = tests["conf.high"].to_numpy()
    return EMMeans(table, L, specs_t, by_t, result, method, level)
