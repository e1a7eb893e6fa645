"""Intraclass correlations: the one-way ANOVA ICC(1) of the data, and the ICC of a fitted model.

:func:`icc_anova` is the classical estimator from the one-way random-effects ANOVA (as R's
``ICC1`` recipes and ``ICC::ICCest`` compute it, with Searle's F-based interval).
:func:`model_icc` reads the variance components of a fitted mixed model and returns the
adjusted and conditional ICCs as R's ``performance::icc`` defines them; ``result.icc()`` calls
it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from multilevel.design.frame import model_frame
from multilevel.design.grouping import grouping
from multilevel.design.response import evaluate_expression
from multilevel.errors import DataError, ModelError, MultilevelWarning, NotSupportedError
from multilevel.formula import parse_expression
from multilevel.formula.terms import make_factor
from multilevel.lazy import stats
from multilevel.progress import Progress
from multilevel.workflow.decomposition import VarianceComponents, variance_components


@dataclass(frozen=True)
class ICCAnova:
    """The one-way ANOVA intraclass correlation ICC(1) and its F-based interval.

    Attributes
    ----------
    icc
        ICC(1) = (MSB - MSW) / (MSB + (n0 - 1) MSW).
    lower, upper
        Searle's F-based confidence interval (exact for equal group sizes, approximate
        otherwise, with n0 in place of the common group size).
    msb, msw
        Between-group and within-group mean squares.
    n0
        The "average" group size of unbalanced one-way ANOVA, (N - Σn_j²/N) / (J - 1).
    eta_squared
        SS_between / SS_total: the share of the total sum of squares between groups. Naive
        recipes report it as "the ICC"; it is not one (it is biased upwards, by about
        (J - 1)/N when the true ICC is zero).
    F, df_between, df_within, pvalue
        The one-way ANOVA F test of no group differences.
    level
        Confidence level of the interval.
    nobs, ngroups
        N and J.
    balanced
        True when every group has the same size (the interval is then exact).
    """

    icc: float
    lower: float
    upper: float
    msb: float
    msw: float
    n0: float
    eta_squared: float
    F: float
    df_between: int
    df_within: int
    pvalue: float
    level: float
    nobs: int
    ngroups: int
    balanced: bool

    def summary(self) -> str:
        """A printable summary."""
        pct = f"{100 * self.level:g}%"
        approx = "" if self.balanced else " (approximate: unequal group sizes)"
        return "\n".join(
            [
                "One-way ANOVA intraclass correlation ICC(1)",
                f"  groups J = {self.ngroups}, observations N = {self.nobs}, n0 = {self.n0:.4f}",
                f"  MSB = {self.msb:.6g}, MSW = {self.msw:.6g}, "
                f"F({self.df_between}, {self.df_within}) = {self.F:.4f}, p = {self.pvalue:.3g}",
                f"  ICC(1) = {self.icc:.6f}, {pct} CI [{self.lower:.6f}, {self.upper:.6f}]"
                + approx,
                f"  eta² = SS_between/SS_total = {self.eta_squared:.6f} (not an ICC)",
            ]
        )

    def __str__(self) -> str:
        return self.summary()


def _response(data: Any, y: str, group: str) -> tuple[np.ndarray, np.ndarray, int]:
    if not isinstance(y, str) or not isinstance(group, str):
        raise DataError("icc_anova: give y and group as column names (strings)")
    expr = make_factor(parse_expression(y), y)
    frame = model_frame(data, [*expr.variables, group]).data
    values = evaluate_expression(expr, frame)
    coded = grouping(frame, (group,), group)
    return values, coded.codes, coded.nlevels


def icc_anova(data: Any, y: str, group: str, level: float = 0.95) -> ICCAnova:
    """One-way ANOVA intraclass correlation ICC(1) with Searle's F-based interval.

    With J groups of sizes n_j (N in all), MSB and MSW the between- and within-group mean
    squares and n0 = (N - Σn_j²/N) / (J - 1)::

        ICC(1) = (MSB - MSW) / (MSB + (n0 - 1) MSW)

    The interval inverts the F test: with F = MSB/MSW and F_hi, F_lo the upper and lower
    (1 ± level)/2 quantiles of F(J - 1, N - J), ``lower = (F/F_hi - 1)/(F/F_hi + n0 - 1)`` and
    ``upper = (F/F_lo - 1)/(F/F_lo + n0 - 1)`` (Searle 1971). For equal group sizes it is
    exact; for unequal sizes F is not exactly F-distributed and the interval is approximate.

    Parameters
    ----------
    data
        pandas or polars DataFrame. Rows missing y or group are dropped.
    y
        The outcome column (or an R expression of columns such as ``"log(y)"``).
    group
        The grouping column.
    level
        Confidence level of the interval.

    Returns
    -------
    ICCAnova
        ``icc``, ``lower``, ``upper``, ``msb``, ``msw``, ``n0``, ``eta_squared`` and the F
        test. ``eta_squared`` (SS_between/SS_total) is what naive recipes report as "the ICC";
        it is kept for comparison only.

    Raises
    ------
    DataError
        With fewer than two groups, no within-group replication or no within-group variation.

    Examples
    --------
    >>> import multilevel as ml
    >>> r = ml.icc_anova(ml.datasets.load("Hsb82"), "mAch", "school")
    >>> round(r.icc, 4), round(r.lower, 4), round(r.upper, 4)
    (0.1736, 0.1423, 0.2136)
    """
    if not 0.0 < level < 1.0:
        raise ModelError(f"level must be between 0 and 1, not {level!r}")
    values, codes, J = _response(data, y, group)
    N = int(values.shape[0])
    if J < 2:
        raise DataError(f"icc_anova needs at least two groups; {group!r} has {J}")
    if N - J < 1:
        raise DataError(
            f"icc_anova needs some group with two or more observations; the {N} rows fall in "
            f"{J} groups of {group!r}"
        )
    n = np.bincount(codes, minlength=J).astype(float)
    means = np.bincount(codes, weights=values, minlength=J) / n
    grand = float(values.mean())
    ss_between = float(np.sum(n * (means - grand) ** 2))
    ss_within = float(np.sum((values - means[codes]) ** 2))
    if ss_within <= 0.0:
        raise DataError(
            f"{y!r} does not vary within the groups of {group!r}; the ICC is not defined"
        )
    df_b, df_w = J - 1, N - J
    msb, msw = ss_between / df_b, ss_within / df_w
    n0 = (N - float(np.sum(n**2)) / N) / df_b
    icc = (msb - msw) / (msb + (n0 - 1.0) * msw)
    F = msb / msw
    alpha = 1.0 - level
    f_hi = float(stats.f.ppf(1.0 - alpha / 2.0, df_b, df_w))
    f_lo = float(stats.f.ppf(alpha / 2.0, df_b, df_w))
    lo_ratio, hi_ratio = F / f_hi, F / f_lo
    return ICCAnova(
        icc=float(icc),
        lower=float((lo_ratio - 1.0) / (lo_ratio + n0 - 1.0)),
        upper=float((hi_ratio - 1.0) / (hi_ratio + n0 - 1.0)),
        msb=float(msb),
        msw=float(msw),
        n0=float(n0),
        eta_squared=ss_between / (ss_between + ss_within),
        F=float(F),
        df_between=df_b,
        df_within=df_w,
        pvalue=float(stats.f.sf(F, df_b, df_w)),
        level=level,
        nobs=N,
        ngroups=J,
        balanced=bool(np.all(n == n[0])),
    )




# -- the ICC of a fitted model -----------------------------------------------------------------
def _icc_frame(vc: VarianceComponents, by_group: bool) -> pd.DataFrame:
    parts = dict(vc.random) if by_group else {"total": vc.total_random}
    unexplained = vc.total_random + vc.residual
    frame = pd.DataFrame(
        {
            "adjusted": {g: v / unexplained for g, v in parts.items()},
            "conditional": {g: v / (unexplained + vc.fixed) for g, v in parts.items()},
        }
    )
    frame.index.name = "group"
    return frame


def simulate_lmm(result: Any, rng: np.random.Generator) -> np.ndarray:
    """A new response drawn from a fitted linear mixed model (parametric bootstrap)."""
    design = result.design
    sigma = float(result.sigma)
    y = design.X @ result.fixef.to_numpy()
    if design.offset is not None:
        y = y + design.offset
    for term, lam in zip(design.terms, result.lambdas, strict=True):
        b = sigma * rng.standard_normal((term.nlevels, lam.shape[0])) @ lam.T
        y = y + np.einsum("ij,ij->i", term.z, b[term.grouping.codes])
    noise = sigma * rng.standard_normal(design.nobs)
    if design.weights is not None:
        noise = noise / np.sqrt(design.weights)
    return np.asarray(y + noise)


def refit_with_response(result: Any, y: np.ndarray) -> Any:
    """Refit a linear mixed model to its own design rows with the response replaced."""
    design = result.design
    name = design.formula.response.text
    frame = design.frame.data.copy()
    if name not in frame.columns:
        raise NotSupportedError(
            f"refitting needs the response to be a column, not the expression {name!r}; "
            "compute it as a column and fit again"
        )
    frame[name] = y
    kwargs: dict[str, Any] = {}
    if design.weights is not None:
        kwargs["weights"] = design.weights
    offset = result.options.offset
    if offset is not None and not isinstance(offset, str):
        kwargs["offset"] = np.asarray(offset, dtype=float).ravel()[design.frame.positions]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MultilevelWarning)
        return result.update(data=frame, **kwargs)


def _bootstrap(
    result: Any, by_group: bool, nsim: int, seed: Any, progress: bool
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    draws = []
    with Progress(nsim, "bootstrap ICC", enabled=progress) as bar:
        for _ in range(nsim):
            try:
                refit = refit_with_response(result, simulate_lmm(result, rng))
                frame = _icc_frame(variance_components(refit), by_group)
                draws.append(frame.to_numpy())
            except (ModelError, DataError, np.linalg.LinAlgError):
                pass
            bar.update()
    if len(draws) < max(10, nsim // 2):
        raise ModelError(f"only {len(draws)} of {nsim} bootstrap refits succeeded")
    return np.stack(draws)


def _profile(result: Any, level: float) -> tuple[float, float]:
    """Profile-likelihood interval of the ICC of a model with one random intercept.

    There the adjusted ICC is θ²/(1 + θ²), a monotone function of θ alone, and the objective
    as a function of θ is already profiled over β and σ; the interval is where it stays
    within the χ²₁ quantile of its minimum.
    """
    from multilevel.lmm import make_objective

    terms = result.design.terms
    if len(terms) != 1 or terms[0].cnames != ("(Intercept)",) or result.theta.size != 1:
        raise NotSupportedError(
            "profile intervals of the ICC are available for models with a single random "
            "intercept, (1 | g); use method='bootstrap' for this model"
        )
    fun = make_objective(result.system, result.reml)
    theta_hat = float(result.theta[0])
    crit = float(result.objective) + float(stats.chi2.ppf(level, 1))

    def gap(t: float) -> float:
        return fun(np.array([t])) - crit

    lo = 0.0 if gap(0.0) <= 0 else float(optimize.brentq(gap, 0.0, theta_hat, xtol=1e-12))
    hi_end = max(theta_hat, 1e-3) * 2.0
    while gap(hi_end) < 0:
        hi_end *= 2.0
    hi = float(optimize.brentq(gap, theta_hat, hi_end, xtol=1e-12))
    return lo**2 / (1.0 + lo**2), hi**2 / (1.0 + hi**2)


def model_icc(
    result: Any,
    by_group: bool = True,
    ci: float | None = None,
    method: str = "profile",
    nsim: int = 200,
    seed: Any = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Intraclass correlations of a fitted mixed model, as R's ``performance::icc``.

    With V_f the variance of the fixed-effects predictor, V_g the random-effects variance of
    grouping factor g (a random slope's averaged over the observed covariate, Johnson 2014),
    V_r = Σ_g V_g and V_e the residual variance (σ²; for GLMMs the latent-scale distribution
    variance, π²/3 for a logit link)::

        adjusted_g    = V_g / (V_r + V_e)
        conditional_g = V_g / (V_f + V_r + V_e)

    Summed over g these are performance's ``ICC_adjusted`` and ``ICC_conditional``
    (``by_group=False``). Without random slopes the rows are performance's
    ``icc(by_group = TRUE)``; with random slopes performance uses each factor's intercept
    variance there (and warns), while these rows use the factor's whole contribution, so they
    add up to the overall ICC.

    Parameters
    ----------
    result
        A fitted mixed model. Its family (if it has one) sets the residual variance.
    by_group
        One row per grouping factor (True, default) or one row "total".
    ci
        Confidence level for intervals (e.g. 0.95), or None for none.
    method
        ``"profile"``: profile-likelihood interval of the adjusted ICC, for a single random
        intercept (there the ICC is a function of θ alone); the conditional ICC's interval is
        left NaN unless the model has no fixed effects besides the intercept.
        ``"bootstrap"``: parametric bootstrap percentile intervals of both ICCs (refits the
        model ``nsim`` times).
    nsim, seed
        Bootstrap replicates and random seed.
    progress
        Show a progress bar while bootstrapping.

    Returns
    -------
    pandas.DataFrame
        Index: grouping factors (or "total"); columns ``adjusted`` and ``conditional``, and
        with ``ci`` also ``adjusted_lower``, ``adjusted_upper``, ``conditional_lower`` and
        ``conditional_upper``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("mAch ~ 1 + (1 | school)", ml.datasets.load("Hsb82"))
    >>> round(m.icc().loc["school", "adjusted"], 4)
    0.1804
    """
    frame = _icc_frame(variance_components(result), by_group)
    if ci is None:
        return frame
    if not 0.0 < ci < 1.0:
        raise ModelError(f"ci must be a confidence level between 0 and 1, not {ci!r}")
    if method not in ("profile", "bootstrap"):
        raise ModelError(f"method must be 'profile' or 'bootstrap', not {method!r}")
    if variance_components(result).latent:
        raise NotSupportedError(
            "intervals of latent-scale ICCs (GLMMs) are not available yet; give ci=None"
        )
    if method == "profile":
        lo, hi = _profile(result, ci)
        frame["adjusted_lower"], frame["adjusted_upper"] = lo, hi
        plain = result.design.X.shape[1] == 1 and result.design.xnames == ("(Intercept)",)
        frame["conditional_lower"] = lo if plain else np.nan
        frame["conditional_upper"] = hi if plain else np.nan
    else:
        draws = _bootstrap(result, by_group, nsim, seed, progress)
        alpha = (1.0 - ci) / 2.0
        lower = np.nanquantile(draws, alpha, axis=0)
        upper = np.nanquantile(draws, 1.0 - alpha, axis=0)
        for k, col in enumerate(("adjusted", "conditional")):
            frame[f"{col}_lower"] = lower[:, k]
            frame[f"{col}_upper"] = upper[:, k]
    cols = ["adjusted", "adjusted_lower", "adjusted_upper"]
    cols += ["conditional", "conditional_lower", "conditional_upper"]
    return frame[cols]


__all__ = ["ICCAnova", "icc_anova", "model_icc"]
