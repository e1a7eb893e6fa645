"""Panel-data estimators of econometrics, as R's ``plm`` computes them, and the Hausman test.

``pooled`` is OLS; ``fe`` (plm's ``"within"``) is OLS on deviations from group means;
``between`` is OLS on group means; ``re`` is the feasible GLS random-effects estimator with
Swamy-Arora variance components, in the unbiased form plm uses for unbalanced panels (Baltagi
and Chang 1994). On balanced panels that is the textbook Swamy-Arora estimator, which Stata's
``xtreg, re`` also uses; on unbalanced panels Stata's default ``xtreg, re`` computes the
between variance differently, and ``xtreg, re sa`` is the variant close to plm's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.fixed import independent_columns
from multilevel.errors import DataError, ModelError
from multilevel.lazy import stats
from multilevel.workflow._coefs import CoefResult, named, named_matrix
from multilevel.workflow._data import LinearDesign, constant_within, group_means, linear_design
from multilevel.workflow.ols import ols_arrays

FloatArray = NDArray[np.float64]

MODELS = ("re", "fe", "between", "pooled")
_LABELS = {
    "re": "Random effects (GLS, Swamy-Arora)",
    "fe": "Fixed effects (within)",
    "between": "Between (group means)",
    "pooled": "Pooled OLS",
}


@dataclass(frozen=True, eq=False)
class PanelResult(CoefResult):
    """A panel estimator's fit (see :func:`panel`).

    Attributes
    ----------
    model
        "re", "fe", "between" or "pooled".
    formula, group
        The formula and the grouping column.
    ngroups
        Number of groups.
    df_resid
        Residual degrees of freedom (the df of every t test).
    sigma2
        For "re": the variance components ``{"idios": σ²_ε, "id": σ²_u}``; for "fe": the
        residual variance; otherwise the residual variance of the regression.
    theta
        For "re": the GLS quasi-demeaning weight θ_j = 1 - sqrt(σ²_ε / (n_j σ²_u + σ²_ε)) of
        each group (one value for balanced panels); None otherwise.
    dropped
        Terms that cannot be estimated by this estimator (for "fe": those constant within
        every group, such as level-2 covariates).
    group_effects
        For "fe": each group's intercept ȳ_j - x̄_j'β (plm's ``fixef(type = "level")``).
    """

    model: str = "re"
    formula: str = ""
    group: str = ""
    ngroups: int = 0
    df_resid: int = 0
    sigma2: Mapping[str, float] | float = float("nan")
    theta: pd.Series | float | None = None
    dropped: tuple[str, ...] = ()
    group_effects: pd.Series | None = None

    def _header(self) -> list[str]:
        lines = [
            f"{_LABELS[self.model]}: {self.formula}, groups: {self.group}",
            f"Number of obs: {self.nobs}, groups: {self.ngroups}, residual df: {self.df_resid}",
        ]
        if isinstance(self.sigma2, Mapping):
            s = self.sigma2
            total = s["idios"] + s["id"]
            lines.append(
                f"Variance components: idiosyncratic {s['idios']:.6g}, individual "
                f"{s['id']:.6g} (share {s['id'] / total:.4f})"
            )
        return lines


def _fe(design: LinearDesign) -> tuple[PanelResult, FloatArray]:
    X, y, codes, J = design.X, design.y, design.codes, design.ngroups
    n = design.nobs
    const = set(constant_within(X, codes, J))
    keep = [k for k in range(X.shape[1]) if k not in const]
    dropped = tuple(design.names[k] for k in sorted(const) if design.names[k] != "(Intercept)")
    names = tuple(design.names[k] for k in keep)
    if not keep:
        raise ModelError(
            f"nothing to estimate by fixed effects: every term of {design.formula!r} is "
            f"constant within {design.group.name if design.group else 'group'}"
        )
    Xd = X[:, keep] - group_means(X[:, keep], codes, J)[codes]
    yd = y - group_means(y, codes, J)[codes]
    df_resid = n - J - len(keep)
    if df_resid < 1:
        raise DataError(
            f"fixed effects leave no residual degrees of freedom ({n} rows, {J} groups, "
            f"{len(keep)} slopes)"
        )
    beta, vcov, _, resid = ols_arrays(Xd, yd, "iid")
    s2 = float(resid @ resid) / df_resid
    vcov = vcov * (s2 / (float(resid @ resid) / (n - len(keep))))
    level = group_means(y, codes, J) - group_means(X[:, keep], codes, J) @ beta
    notes = tuple(
        f"{name}: not estimable by fixed effects (constant within each group)"
        for name in dropped
    )
    return (
        PanelResult(
            coef=named(beta, names, "estimate"),
            se=named(np.sqrt(np.diag(vcov)), names, "se"),
            vcov=named_matrix(vcov, names),
            df=named(np.full(len(names), float(df_resid)), names, "df"),
            method="FE (within)",
            nobs=n,
            notes=notes,
            model="fe",
            formula=design.formula,
            group=design.group.name if design.group else "",
            ngroups=J,
            df_resid=df_resid,
            sigma2=s2,
            dropped=dropped,
            group_effects=pd.Series(
                level, index=list(design.group.levels) if design.group else None, name="level"
            ),
        ),
        resid,
    )


def _plain(design: LinearDesign, model: str) -> PanelResult:
    """Pooled OLS, or OLS on the group means (between)."""
    X, y = design.X, design.y
    if model == "between":
        X = group_means(X, design.codes, design.ngroups)
        y = group_means(y, design.codes, design.ngroups)
    beta, vcov, df, resid = ols_arrays(X, y, "iid")
    m = X.shape[0] - X.shape[1]
    names = design.names
    return PanelResult(
        coef=named(beta, names, "estimate"),
        se=named(np.sqrt(np.diag(vcov)), names, "se"),
        vcov=named_matrix(vcov, names),
        df=named(df, names, "df"),
        method="Pooled OLS" if model == "pooled" else "Between",
        nobs=design.nobs,
        model=model,
        formula=design.formula,
        group=design.group.name if design.group else "",
        ngroups=design.ngroups,
        df_resid=m,
        sigma2=float(resid @ resid) / m,
    )


def swamy_arora(design: LinearDesign) -> tuple[float, float]:
    """Swamy-Arora variance components (σ²_ε, σ²_u), unbiased for unbalanced panels.

    σ²_ε is the within residual sum of squares over N - J - K_w (K_w the slopes that vary
    within groups). σ²_u comes from the between regression weighted by group size: its
    residual sum of squares q_b = Σ n_j (ȳ_j - x̄_j'β_B)² has expectation
    (J - p) σ²_ε + (N - tr((Σ n_j x̄_j x̄_j')⁻¹ Σ n_j² x̄_j x̄_j')) σ²_u, which is solved for σ²_u
    (set to 0 when negative), as plm's ``ercomp(method = "swar")``. Where the between design
    is rank deficient (plm stops with "system is computationally singular"), p is its rank
    and the aliased group-mean columns are left out.
    """
    X, y, codes, J, N = design.X, design.y, design.codes, design.ngroups, design.nobs
    p = X.shape[1]
    if J <= p:
        raise DataError(
            f"the between regression behind the Swamy-Arora variances needs more groups "
            f"({J}) than coefficients ({p})"
        )
    _, within_resid = _fe(design)
    k_within = X.shape[1] - len(constant_within(X, codes, J))
    sigma2_e = float(within_resid @ within_resid) / (N - J - k_within)
    counts = np.bincount(codes, minlength=J).astype(float)
    xbar, ybar = group_means(X, codes, J), group_means(y, codes, J)
    sw = np.sqrt(counts)
    # a level-1 variable whose group means equal a level-2 covariate (ses and meanses) makes
    # the between design rank deficient: plm stops there; the estimator only needs the
    # projection onto its column space, so aliased between columns are dropped
    xbar = xbar[:, independent_columns(xbar * sw[:, None])]
    p = xbar.shape[1]
    beta_b = np.linalg.lstsq(xbar * sw[:, None], ybar * sw, rcond=None)[0]
    q_between = float(np.sum(counts * (ybar - xbar @ beta_b) ** 2))
    cross_b = (xbar * counts[:, None]).T @ xbar
    cross_s = (xbar * counts[:, None] ** 2).T @ xbar
    trace = float(np.trace(np.linalg.solve(cross_b, cross_s)))
    sigma2_u = (q_between - (J - p) * sigma2_e) / (N - trace)
    return sigma2_e, max(sigma2_u, 0.0)


def _re(design: LinearDesign) -> PanelResult:
    X, y, codes, J, N = design.X, design.y, design.codes, design.ngroups, design.nobs
    s2e, s2u = swamy_arora(design)
    counts = np.bincount(codes, minlength=J).astype(float)
    theta = 1.0 - np.sqrt(s2e / (counts * s2u + s2e))
    Xs = X - theta[codes, None] * group_means(X, codes, J)[codes]
    ys = y - theta[codes] * group_means(y, codes, J)[codes]
    beta, vcov, df, _ = ols_arrays(Xs, ys, "iid")
    names = design.names
    levels = list(design.group.levels) if design.group else None
    notes: tuple[str, ...] = ()
    if s2u == 0.0:
        notes = ("the between-group variance is estimated as 0: RE equals pooled OLS",)
    return PanelResult(
        coef=named(beta, names, "estimate"),
        se=named(np.sqrt(np.diag(vcov)), names, "se"),
        vcov=named_matrix(vcov, names),
        df=named(df, names, "df"),
        method="RE (GLS)",
        nobs=N,
        notes=notes,
        model="re",
        formula=design.formula,
        group=design.group.name if design.group else "",
        ngroups=J,
        df_resid=N - X.shape[1],
        sigma2={"idios": s2e, "id": s2u},
        theta=float(theta[0]) if np.all(counts == counts[0]) else pd.Series(theta, levels),
    )


def panel(
    formula: str,
    data: Any,
    group: str,
    model: str = "re",
    *,
    contrasts: Mapping[str, str] | None = None,
) -> PanelResult:
    """Panel-data (econometric) estimators of a two-level linear model, as R's ``plm``.

    Parameters
    ----------
    formula
        An R formula without random-effects terms, e.g. ``"mAch ~ ses"``.
    data
        pandas or polars DataFrame (not modified); incomplete rows are dropped.
    group
        The grouping column ("individual" index of plm), e.g. the school.
    model
        ``"re"``: random-effects GLS (plm's ``model = "random"`` with its default Swamy-Arora
        variance components, unbiased for unbalanced groups; Stata's ``xtreg, re`` agrees on
        balanced panels, on unbalanced ones ``xtreg, re sa`` is the close variant).
        ``"fe"``: the within estimator (plm's ``"within"``): slopes only, no intercept;
        terms constant within groups (level-2 covariates) are not estimable and are reported
        in ``dropped``; SEs use N - J - K residual df.
        ``"between"``: OLS on the J group means (unweighted).
        ``"pooled"``: OLS ignoring the groups.
    contrasts
        Per-column contrasts ("treatment" default, "sum", "helmert", "poly").

    Returns
    -------
    PanelResult
        ``coef``, ``se``, ``vcov``, ``df``, ``summary()``; ``sigma2`` and ``theta`` for "re".

    Examples
    --------
    >>> import multilevel as ml
    >>> hsb = ml.datasets.load("Hsb82")
    >>> fe = ml.panel("mAch ~ ses", hsb, "school", model="fe")
    >>> re = ml.panel("mAch ~ ses", hsb, "school", model="re")
    >>> round(fe.coef["ses"], 4), round(re.coef["ses"], 4)
    (2.1912, 2.4973)
    """
    if model not in MODELS:
        raise ModelError(f"model must be one of {', '.join(map(repr, MODELS))}, not {model!r}")
    if not isinstance(group, str):
        raise DataError(f"group must be the name of a column, not {type(group).__name__}")
    design = linear_design(formula, data, group=group, contrasts=contrasts, what="panel")
    if design.ngroups < 2:
        raise DataError(f"panel needs at least two groups; {group!r} has {design.ngroups}")
    if model == "fe":
        return _fe(design)[0]
    if model == "re":
        return _re(design)
    return _plain(design, model)


@dataclass(frozen=True)
class HausmanTest:
    """Hausman's specification test of FE against RE.

    Attributes
    ----------
    statistic
        (b_FE - b_RE)' (V_FE - V_RE)⁻¹ (b_FE - b_RE).
    df
        Number of coefficients compared.
    pvalue
        Upper tail of χ²(df).
    terms
        The coefficients compared (those of both models other than the intercept).
    difference
        b_FE - b_RE by term.
    """

    statistic: float
    df: int
    pvalue: float
    terms: tuple[str, ...]
    difference: pd.Series

    def summary(self) -> str:
        """A printable summary (as plm's ``phtest``)."""
        verdict = "one model is inconsistent" if self.pvalue < 0.05 else "no evidence against RE"
        return (
            "Hausman test (FE vs RE)\n"
            f"  chisq = {self.statistic:.4f}, df = {self.df}, p-value = {self.pvalue:.4g}\n"
            f"  terms: {', '.join(self.terms)}\n"
            f"  at the 5% level: {verdict}"
        )

    def __str__(self) -> str:
        return self.summary()


def _coef_vcov(result: Any) -> tuple[pd.Series, pd.DataFrame]:
    if isinstance(result, CoefResult):
        return result.coef, result.vcov
    if hasattr(result, "fixef") and hasattr(result, "vcov"):
        return result.fixef, result.vcov
    raise ModelError(
        f"hausman takes fitted models with coefficients and their covariance (ml.panel, "
        f"ml.ols or ml.fit results), not {type(result).__name__}"
    )


def hausman(fe: Any, re: Any) -> HausmanTest:
    """Hausman test of the fixed-effects against the random-effects estimator (plm's phtest).

    Parameters
    ----------
    fe
        The consistent estimator, usually ``ml.panel(..., model="fe")``.
    re
        The efficient one: ``ml.panel(..., model="re")`` or a mixed model from ``ml.fit``.

    Returns
    -------
    HausmanTest
        ``statistic``, ``df`` and ``pvalue`` (χ² test on the coefficients both models
        estimate, the intercept excepted).

    Raises
    ------
    ModelError
        When the models share no coefficient.
    """
    b1, v1 = _coef_vcov(fe)
    b2, v2 = _coef_vcov(re)
    terms = [t for t in b1.index if t in b2.index and t != "(Intercept)"]
    if not terms:
        raise ModelError(
            "the two models share no coefficient other than the intercept; fit them with the "
            "same formula"
        )
    d = (b1[terms] - b2[terms]).to_numpy(dtype=float)
    dv = v1.loc[terms, terms].to_numpy(dtype=float) - v2.loc[terms, terms].to_numpy(dtype=float)
    stat = float(d @ np.linalg.solve(dv, d))
    return HausmanTest(
        statistic=stat,
        df=len(terms),
        pvalue=float(stats.chi2.sf(stat, len(terms))),
        terms=tuple(terms),
        difference=pd.Series(d, index=terms, name="difference"),
    )


__all__ = ["HausmanTest", "PanelResult", "hausman", "panel"]
