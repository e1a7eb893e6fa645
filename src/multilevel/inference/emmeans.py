"""Estimated marginal means and their contrasts (R's emmeans, Stata's ``margins``).

The reference grid crosses every level of each factor in the fixed effects with numeric
covariates at their means (or at values given in ``at``). The marginal mean of a cell of
``specs`` (within each level of ``by``) averages the grid's predictions Xβ̂ over the other
factors with equal weights: a linear function ℓᵀβ̂, tested as any contrast (Kenward-Roger df for
REML fits up to 3000 observations by default, as emmeans; Satterthwaite for ML fits; z beyond).

For GLMMs the means are on the link scale (η), with asymptotic z inference (df = ∞) from the
covariance of β̂, as emmeans on a ``glmer`` fit. ``type="response"`` back-transforms them with
the inverse link g⁻¹: the estimate and the interval bounds are mapped, the SE is the delta
method's |dμ/dη|·SE(η) (emmeans' ``type = "response"``). Pairwise differences are taken on the
link scale; on the response scale, for log and logit links, they are reported as ratios
exp(Δη) (rate ratios, odds ratios) with SE exp(Δη)·SE(Δη), as emmeans does; for other links the
contrasts stay on the link scale.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.errors import ModelError, NotSupportedError
from multilevel.inference._common import result_kind
from multilevel.inference.coeftable import contrast_tests, normalize_ddf
from multilevel.inference.newdata import encode
from multilevel.lazy import stats

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
    if result_kind(result) == "glmm" or result.nobs > LIMIT:
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
    vcov
        The covariance of β̂ used (GLMMs: the model's; None for linear mixed models, whose
        covariance follows from ``ddf``).
    type
        Scale of ``table`` and the default scale of :meth:`pairs`: "link" or "response"
        (the same for linear mixed models).
    """

    table: pd.DataFrame
    L: FloatArray
    specs: tuple[str, ...]
    by: tuple[str, ...]
    result: Any
    ddf: Any
    level: float
    vcov: FloatArray | None = None
    type: str = "link"

    def __repr__(self) -> str:
        return repr(self.table)

    def _link(self) -> Any:
        """The GLMM's link, or None for an identity link (linear mixed models included)."""
        if result_kind(self.result) != "glmm":
            return None
        link = self.result.family.link
        return None if link.name == "identity" else link

    def summary(self, type: str | None = None, level: float | None = None) -> pd.DataFrame:
        """The table of means on the link (η) or response (μ) scale.

        Parameters
        ----------
        type
            "link" or "response" (default: the scale the means were computed for). On the
            response scale a GLMM's means, SEs and limits are back-transformed (SE by the
            delta method) and the column ``emmean`` is named as emmeans names it: ``prob``
            (binomial), ``rate`` (Poisson, negative binomial) or ``response``.
        level
            Confidence level (default: the level of the means).

        Returns
        -------
        DataFrame
            The factor levels, the estimate, SE, df, lower.CL, upper.CL.
        """
        kind = _check_type(self.type if type is None else type)
        lev = self.level if level is None else level
        tests = contrast_tests(self.result, self.L, ddf=self.ddf, vcov=self.vcov, level=lev)
        table = self.table[[*self.specs, *self.by]].copy()
        est = tests["estimate"].to_numpy()
        se = tests["std.error"].to_numpy()
        low, high = tests["conf.low"].to_numpy(), tests["conf.high"].to_numpy()
        name = "emmean"
        link = self._link()
        if kind == "response" and link is not None:
            name = _response_name(self.result.family.name)
            se = np.abs(link.mu_eta(est)) * se
            low, high = link.linkinv(low), link.linkinv(high)
            est = link.linkinv(est)
            low, high = np.minimum(low, high), np.maximum(low, high)
        table[name] = est
        table["SE"] = se
        table["df"] = tests["df"].to_numpy()
        table["lower.CL"] = low
        table["upper.CL"] = high
        return table

    def _groups(self) -> list[NDArray[np.intp]]:
        if not self.by:
            return [np.arange(len(self.table))]
        keys = self.table[list(self.by)].astype(str).agg("|".join, axis=1)
        return [np.flatnonzero(keys.to_numpy() == k) for k in dict.fromkeys(keys)]

    def _label(self, i: int) -> str:
        return " ".join(str(self.table.iloc[i][s]) for s in self.specs)

    def pairs(self, adjust: str = "tukey", level: float | None = None,
              reverse: bool = False, type: str | None = None) -> pd.DataFrame:
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
        type
            "link" or "response" (default: the scale of the means). GLMM contrasts are
            differences on the link scale (log odds ratios for logit, log ratios for log);
            with "response" and a log or logit link they are back-transformed to ratios
            ``a / b`` (columns ``odds.ratio`` or ``ratio``; SE by the delta method; the z
            statistic and p-value are those of the link scale), as emmeans does. For other
            links the contrasts stay on the link scale.

        Returns
        -------
        DataFrame
            contrast, any ``by`` columns, estimate, SE, df, t.ratio (z.ratio when df = ∞),
            p.value, lower.CL, upper.CL.
        """
        kind = _check_type(self.type if type is None else type)
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
        tests = contrast_tests(self.result, np.array(rows_l), ddf=self.ddf, vcov=self.vcov,
                               level=lev)
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
        est = tests["estimate"].to_numpy()
        se = tests["std.error"].to_numpy()
        low, high = tests["conf.low"].to_numpy(), tests["conf.high"].to_numpy()
        name = "estimate"
        link = self._link()
        if kind == "response" and link is not None and link.name in ("log", "logit"):
            name = "odds.ratio" if link.name == "logit" else "ratio"
            out["contrast"] = out["contrast"].str.replace(" - ", " / ", regex=False)
            est, low, high = np.exp(est), np.exp(low), np.exp(high)
            se = est * se
        out[name] = est
        out["SE"] = se
        out["df"] = tests["df"].to_numpy()
        out[stat] = tests["statistic"].to_numpy()
        out["p.value"] = tests["p.value"].to_numpy()
        out["lower.CL"] = low
        out["upper.CL"] = high
        return out

    def contrast(self, weights: Mapping[str, Sequence[float]], level: float | None = None
                 ) -> pd.DataFrame:
        """Custom contrasts of the means: name → one weight per row of ``table`` (no
        multiplicity adjustment; on the link scale for GLMMs)."""
        names = list(weights)
        mat = np.array([np.asarray(weights[n], dtype=float) for n in names])
        if mat.shape[1] != len(self.table):
            raise ModelError(f"each contrast needs {len(self.table)} weights (one per mean)")
        tests = contrast_tests(self.result, mat @ self.L, ddf=self.ddf, vcov=self.vcov,
                               level=self.level if level is None else level)
        tests.insert(0, "contrast", names)
        return tests


def _check_type(type: str) -> str:
    if type not in ("link", "response"):
        raise ModelError(f"type must be 'link' or 'response', not {type!r}")
    return type


def _response_name(family: str) -> str:
    """emmeans' name of a back-transformed mean."""
    if family == "binomial":
        return "prob"
    if family in ("poisson", "negative.binomial"):
        return "rate"
    return "response"


def _glmm_ddf(ddf: Any) -> None:
    if ddf == "auto" or normalize_ddf(ddf) is None:
        return
    raise NotSupportedError(
        f"ddf={ddf!r} is not available for the marginal means of generalized linear mixed "
        "models: they get asymptotic z inference (df = inf), as emmeans on a glmer fit; use "
        "ddf='auto' or None"
    )


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
    type: str = "link",
) -> EMMeans:
    """Estimated marginal means of a factor (or factor combination) of the fixed effects.

    Parameters
    ----------
    result
        A fitted linear or generalized linear mixed model.
    specs
        Factor name(s) whose levels the means are for.
    by
        Factor name(s) to compute the means within.
    at
        Values for variables in the grid: a number or list per variable (numeric covariates
        default to their mean).
    ddf
        "auto" (Kenward-Roger for REML fits, Satterthwaite for ML fits, z tests beyond 3000
        observations, as emmeans), or any ddf of :func:`coef_table`. GLMMs: z inference only
        ("auto" or None; others raise NotSupportedError).
    level
        Confidence level.
    type
        Scale of ``.table`` and of ``.pairs()``: "link" (default; η for GLMMs) or "response"
        (back-transformed by the inverse link; no difference for linear mixed models).

    Returns
    -------
    EMMeans
        ``.table`` of means; ``.pairs(adjust="tukey")`` for pairwise comparisons;
        ``.summary(type="response")`` for a GLMM's means on the response scale.

    Examples
    --------
    >>> import multilevel as ml
    >>> cbpp = ml.datasets.load("cbpp")
    >>> m = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
    ...            family="binomial")  # doctest: +SKIP
    >>> m.emmeans("period").summary(type="response")  # doctest: +SKIP
    """
    _check_type(type)
    glmm = result_kind(result) == "glmm"
    if glmm:
        _glmm_ddf(ddf)
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
    method = None if glmm else (_auto_ddf(result) if ddf == "auto" else ddf)
    vcov = np.asarray(result.vcov_matrix, dtype=float) if glmm else None
    skeleton = EMMeans(cells[[*specs_t, *by_t]].copy(), L, specs_t, by_t, result, method,
                       level, vcov, type)
    return dataclasses.replace(skeleton, table=skeleton.summary())
