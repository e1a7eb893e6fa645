"""No pooling (one regression per group) and the shrinkage of group estimates by a mixed model.

Gelman and Hill's three ways to use grouped data: complete pooling ignores the groups (one
OLS regression, :func:`~multilevel.workflow.ols.ols`), no pooling fits each group on its own
(:func:`no_pooling`), and partial pooling (the mixed model) pulls each group's estimate toward
the overall one, the more so the smaller and noisier the group (:func:`shrinkage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.fixed import independent_columns
from multilevel.errors import ModelError, NotSupportedError
from multilevel.workflow._data import constant_within, linear_design

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def group_rows(codes: IntArray, ngroups: int) -> list[IntArray]:
    """Row indices of each group, in group order."""
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=ngroups))[:-1]
    return [np.asarray(part, dtype=np.intp) for part in np.split(order, bounds)]


def per_group_ols(
    X: FloatArray, y: FloatArray, codes: IntArray, ngroups: int, min_size: int
) -> tuple[FloatArray, FloatArray, IntArray, list[str]]:
    """OLS in every group: estimates and SEs (J, p) with NaN where not estimable, residual df,
    and why a group was flagged ("" when it was not)."""
    p = X.shape[1]
    est = np.full((ngroups, p), np.nan)
    se = np.full((ngroups, p), np.nan)
    dfr = np.zeros(ngroups, dtype=np.intp)
    why: list[str] = []
    for g, idx in enumerate(group_rows(codes, ngroups)):
        n = idx.size
        Xg, yg = X[idx], y[idx]
        keep = independent_columns(Xg) if n else np.zeros(0, np.intp)
        reasons = []
        if n < min_size:
            reasons.append(f"n = {n} < {min_size}")
        if keep.size < p:
            reasons.append(f"{p - keep.size} of {p} coefficients not estimable")
        dfr[g] = n - keep.size
        if keep.size:
            coef, *_ = np.linalg.lstsq(Xg[:, keep], yg, rcond=None)
            est[g, keep] = coef
            if dfr[g] > 0:
                resid = yg - Xg[:, keep] @ coef
                s2 = float(resid @ resid) / dfr[g]
                cov = s2 * np.linalg.inv(Xg[:, keep].T @ Xg[:, keep])
                se[g, keep] = np.sqrt(np.diag(cov))
            else:
                reasons.append("no residual df")
        why.append("; ".join(reasons))
    return est, se, dfr, why


@dataclass(frozen=True, eq=False)
class NoPoolingResult:
    """One OLS regression per group (see :func:`no_pooling`).

    Attributes
    ----------
    estimates, se
        Groups × terms; NaN where a group cannot estimate a term.
    n
        Group sizes.
    df_resid
        Residual df of each group's regression.
    flagged
        Why each group is flagged as too small or degenerate ("" if it is not).
    not_estimable
        Terms no group can estimate, with the reason (level-2 covariates).
    formula, group
        The formula and grouping column.
    """

    estimates: pd.DataFrame
    se: pd.DataFrame
    n: pd.Series
    df_resid: pd.Series
    flagged: pd.Series
    not_estimable: Mapping[str, str]
    formula: str
    group: str

    @property
    def ok(self) -> pd.Series:
        """True for the groups that are not flagged."""
        return pd.Series(self.flagged == "", index=self.flagged.index, name="ok")

    def mean(self, term: str) -> tuple[float, float, int]:
        """Mean over unflagged groups of one term's estimates, its SE (SD/√J) and J.

        This is the no-pooling summary of a coefficient: each group's regression counts once,
        whatever its size, and the SE comes from the spread of the group estimates.
        """
        if term in self.not_estimable:
            raise ModelError(f"{term}: {self.not_estimable[term]}")
        if term not in self.estimates.columns:
            raise ModelError(
                f"no term {term!r}; the terms are {', '.join(self.estimates.columns)}"
            )
        values = self.estimates.loc[self.ok, term].dropna().to_numpy()
        if values.size < 2:
            return float("nan"), float("nan"), int(values.size)
        return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size)), values.size

    def summary(self) -> str:
        """Group count, flagged groups and the distribution of each term's estimates."""
        ok = self.ok
        lines = [
            f"No pooling: {self.formula} fitted in each of {len(ok)} groups of {self.group}",
            f"group sizes {int(self.n.min())} to {int(self.n.max())} (median "
            f"{float(self.n.median()):g}); {int((~ok).sum())} groups flagged",
            "",
        ]
        desc = self.estimates.loc[ok].describe().T[["count", "mean", "std", "min", "max"]]
        lines.append(desc.to_string(float_format=lambda v: f"{v:.4g}"))
        for term, why in self.not_estimable.items():
            lines.append(f"Note: {term}: {why}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def no_pooling(
    formula: str,
    data: Any,
    group: str,
    min_size: int | None = None,
    *,
    contrasts: Mapping[str, str] | None = None,
) -> NoPoolingResult:
    """Fit the formula by OLS separately in every group ("no pooling").

    Parameters
    ----------
    formula
        An R formula without random-effects terms, e.g. ``"mAch ~ ses"``.
    data
        pandas or polars DataFrame (not modified).
    group
        The grouping column.
    min_size
        Groups with fewer rows are flagged (their estimates are kept but left out of
        :meth:`NoPoolingResult.mean`), as are groups where some coefficient cannot be
        estimated (a covariate that does not vary inside the group). Default: the number of
        estimable coefficients + 1, the fewest rows that leave one residual df.
    contrasts
        Per-column contrasts.

    Returns
    -------
    NoPoolingResult
        Per-group estimates and SEs, group sizes, and the flagged groups. Terms constant
        within every group (level-2 covariates such as the school's sector) cannot be
        estimated by a regression inside one group: they are NaN and listed in
        ``not_estimable``.

    Examples
    --------
    >>> import multilevel as ml
    >>> r = ml.no_pooling("mAch ~ ses", ml.datasets.load("Hsb82"), "school")
    >>> r.estimates.shape
    (160, 2)
    """
    design = linear_design(formula, data, group=group, contrasts=contrasts, what="no_pooling")
    X, y, codes, J = design.X, design.y, design.codes, design.ngroups
    names = list(design.names)
    const = set(constant_within(X, codes, J))
    level1 = [k for k in range(len(names)) if k not in const or names[k] == "(Intercept)"]
    size = len(level1) + 1 if min_size is None else int(min_size)
    sub_est, sub_se, dfr, why = per_group_ols(X[:, level1], y, codes, J, size)
    est = np.full((J, len(names)), np.nan)
    se = np.full((J, len(names)), np.nan)
    est[:, level1], se[:, level1] = sub_est, sub_se
    levels = pd.Index(list(design.group.levels) if design.group else [], name=group)
    not_estimable = {
        names[k]: f"constant within each group of {group}: a regression inside one group "
        "cannot estimate it (a level-2 covariate)"
        for k in sorted(const)
        if names[k] != "(Intercept)"
    }
    return NoPoolingResult(
        estimates=pd.DataFrame(est, index=levels, columns=names),
        se=pd.DataFrame(se, index=levels, columns=names),
        n=pd.Series(np.bincount(codes, minlength=J), index=levels, name="n"),
        df_resid=pd.Series(dfr, index=levels, name="df_resid"),
        flagged=pd.Series(why, index=levels, name="flagged"),
        not_estimable=not_estimable,
        formula=design.formula,
        group=group,
    )


def _choose_group(model: Any, group: str | None) -> Any:
    terms = model.design.terms
    if group is None:
        return terms[0]
    for term in terms:
        if term.group == group:
            return term
    raise ModelError(
        f"the model has no grouping factor {group!r}; it has "
        f"{', '.join(dict.fromkeys(t.group for t in terms))}"
    )


def shrinkage(model: Any, term: str = "(Intercept)", group: str | None = None) -> pd.DataFrame:
    """No-pooling against partial-pooling estimates of a group-specific coefficient.

    Parameters
    ----------
    model
        A fitted mixed model in which ``term`` varies by ``group``.
    term
        The varying coefficient: ``"(Intercept)"`` or a random slope.
    group
        The grouping factor (default: the one with most levels).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``n`` (rows), ``no_pooling`` (the group's own OLS estimate, from a
        regression on the level-1 columns of the model), ``partial_pooling`` (the mixed
        model's group-specific coefficient: fixed part at the group's level-2 covariates plus
        the conditional mode) and ``fixed`` (the value for this group with a zero random
        effect). ``attrs["term"]`` and ``attrs["group"]`` name them.
    """
    rterm = _choose_group(model, group)
    if term not in rterm.cnames:
        raise ModelError(
            f"{term!r} does not vary by {rterm.group} in this model; its varying terms are "
            f"{', '.join(rterm.cnames)}"
        )
    design = model.design
    X, y = design.X, design.y
    if design.offset is not None:
        y = y - design.offset
    codes, J = rterm.grouping.codes, rterm.nlevels
    names = list(design.xnames)
    if term not in names:
        raise NotSupportedError(f"{term!r} varies by group but has no fixed effect")
    const = set(constant_within(X, codes, J))
    beta = model.fixef.to_numpy()
    counts = np.bincount(codes, minlength=J)
    first = np.array([idx[0] for idx in group_rows(codes, J)])
    if term == "(Intercept)":
        fixed = sum(beta[k] * X[first, k] for k in sorted(const))
    else:
        others = [n for n in names if n != term and term in n.split(":")]
        if others:
            raise NotSupportedError(
                f"{term!r} interacts with {', '.join(others)}; shrinkage plots take a "
                "varying coefficient without cross-level interactions"
            )
        fixed = np.full(J, beta[names.index(term)])
    level1 = [k for k in range(X.shape[1]) if k not in const or names[k] == "(Intercept)"]
    sub = [names[k] for k in level1]
    est, _, _, _ = per_group_ols(X[:, level1], y, codes, J, len(level1) + 1)
    partial = np.asarray(fixed, dtype=float) + model.ranef[rterm.group][term].to_numpy()
    out = pd.DataFrame(
        {
            "n": counts,
            "no_pooling": est[:, sub.index(term)],
            "partial_pooling": partial,
            "fixed": np.asarray(fixed, dtype=float),
        },
        index=pd.Index(list(rterm.grouping.levels), name=rterm.group),
    )
    out.attrs["term"] = term
    out.attrs["group"] = rterm.group
    return out


__all__ = ["NoPoolingResult", "no_pooling", "shrinkage"]

