"""“How many groups do I need?”: a seeded simulation study of the estimators of a two-level model.

Data come from y_ij = γ₀ + γ_x x_ij + γ_z z_j + u_0j + u_1j x_ij + e_ij with pupils i in groups
j, e ~ N(0, 1), u_0 ~ N(0, τ²) where τ² = icc/(1 - icc) (so the empty model's ICC is ``icc``),
u_1 ~ N(0, ``slope_sd``²), a group covariate z_j ~ N(0, 1) and a pupil covariate
x_ij = √x_icc·a_j + √(1 - x_icc)·ε_ij whose group part a_j correlates ``x_u_corr`` with u_0j
(the case where random effects are biased for γ_x and fixed effects are not).
Every method is fitted to the same simulated data sets; each condition gets its own random
stream from ``seed``, so a study is reproducible and adding a method or a condition does not
change the data of the others.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from multilevel.design.grouping import Grouping
from multilevel.errors import DataError, ModelError, MultilevelError, MultilevelWarning
from multilevel.formula import parse_formula
from multilevel.lazy import stats
from multilevel.progress import Progress
from multilevel.workflow._data import LinearDesign
from multilevel.workflow.ols import ols_arrays
from multilevel.workflow.panel import _fe, _re
from multilevel.workflow.twostage import two_stage_arrays

METHODS = ("ols", "ols_cr1", "ols_cr2", "two_stage", "fe", "re", "mixed")
TERMS = ("(Intercept)", "x", "z")
_PARSED = parse_formula("y ~ x + z")


@dataclass(frozen=True, eq=False)
class SimulationStudy:
    """The outcome of :func:`simulate_study`.

    Attributes
    ----------
    summary
        One row per (n_groups, group_size, method): ``bias``, ``rmse``, ``coverage`` (of the
        ``level`` intervals), ``power`` (share of p < alpha; the type I error rate when the
        true value is 0), ``singular`` (share of singular mixed fits; NaN for other methods),
        ``mean_se``, ``sd`` (empirical SD of the estimates), ``failed`` (share of fits that
        raised) and ``n`` (successful replicates).
    estimates
        One row per replicate and method: estimate, se, df, lower, upper, p, singular.
    settings
        The arguments of the study.
    """

    summary: pd.DataFrame
    estimates: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def table(self, metric: str = "coverage") -> pd.DataFrame:
        """One metric as a table: rows (n_groups, group_size), one column per method."""
        if metric not in self.summary.columns:
            choices = ", ".join(map(str, self.summary.columns))
            raise ModelError(f"no metric {metric!r}; choose from {choices}")
        return self.summary[metric].unstack("method")

    def plot(self, metric: str = "coverage", ax: Any = None) -> Any:
        """The metric against the number of groups, a line per method (matplotlib)."""
        from multilevel.workflow.plots import simulation_plot

        return simulation_plot(self, metric=metric, ax=ax)

    def __repr__(self) -> str:
        s = self.settings
        return (f"<SimulationStudy target={s.get('target')!r}, {s.get('nsim')} replicates of "
                f"{len(self.summary) // max(len(s.get('methods', [1])), 1)} conditions>")


def _simulate(rng: np.random.Generator, J: int, n: int, p: dict[str, float]) -> tuple[
    np.ndarray, np.ndarray, np.ndarray
]:
    codes = np.repeat(np.arange(J), n)
    tau = math.sqrt(p["icc"] / (1.0 - p["icc"]))
    u0 = tau * rng.standard_normal(J)
    r = p["x_u_corr"] if tau > 0 else 0.0
    a = r * u0 / max(tau, 1e-300) + math.sqrt(1.0 - r**2) * rng.standard_normal(J)
    u1 = p["slope_sd"] * rng.standard_normal(J)
    z = rng.standard_normal(J)
    x = math.sqrt(p["x_icc"]) * a[codes] + math.sqrt(1.0 - p["x_icc"]) * rng.standard_normal(J * n)
    y = (p["intercept"] + p["x"] * x + p["z"] * z[codes] + u0[codes] + u1[codes] * x
         + rng.standard_normal(J * n))
    X = np.column_stack([np.ones(J * n), x, z[codes]])
    return X, y, codes


def _design(X: np.ndarray, y: np.ndarray, codes: np.ndarray, J: int) -> LinearDesign:
    levels = tuple(str(j) for j in range(J))
    frame = pd.DataFrame({"y": y, "x": X[:, 1], "z": X[:, 2], "g": codes})
    return LinearDesign("y ~ x + z", _PARSED, y, X, TERMS, (), frame, frame.index,
                        Grouping("g", codes, levels, True))


def _fit_one(method: str, X: np.ndarray, y: np.ndarray, codes: np.ndarray, J: int, k: int,
             random: str, ddf: str) -> tuple[float, float, float, bool]:
    """(estimate, se, df, singular) of coefficient k by one method; NaN when not estimable."""
    nan = (math.nan, math.nan, math.nan, False)
    if method.startswith("ols"):
        se_type = {"ols": "iid", "ols_cr1": "CR1", "ols_cr2": "CR2"}[method]
        b, v, dfs, _ = ols_arrays(X, y, se_type, codes, J)
        return float(b[k]), math.sqrt(v[k, k]), float(dfs[k]), False
    if method == "two_stage":
        first = np.unique(codes, return_index=True)[1]
        Z = X[first][:, [0, 2]]
        b1, v1, _, _, g, vg, df1, df2 = two_stage_arrays(y, X[:, [1]], Z, codes, J)
        if k == 1:
            return b1[0], math.sqrt(v1[0, 0]), df1, False
        pos = 0 if k == 0 else 1
        return g[pos], math.sqrt(vg[pos, pos]), df2, False
    design = _design(X, y, codes, J)
    if method == "fe":
        if k != 1:
            return nan
        fe = _fe(design)[0]
        return fe.coef["x"], fe.se["x"], fe.df["x"], False
    if method == "re":
        re = _re(design)
        return re.coef.iloc[k], re.se.iloc[k], re.df.iloc[k], False
    from multilevel.fit import fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MultilevelWarning)
        m = fit(f"y ~ x + z + {random}", design.frame)
    df = math.inf
    table = getattr(m, "coef_table", None)
    if ddf == "satterthwaite" and callable(table):
        df = float(table(ddf="satterthwaite")["df"].iloc[k])
    return float(m.fixef.iloc[k]), float(m.se.iloc[k]), df, bool(m.singular)


def _summarise(est: pd.DataFrame, truth: float, alpha: float) -> pd.DataFrame:
    def metrics(d: pd.DataFrame) -> pd.Series:
        ok = d.dropna(subset=["estimate", "se"])
        err = ok["estimate"] - truth
        cover = ((ok["lower"] <= truth) & (truth <= ok["upper"])).mean()
        return pd.Series({
            "bias": err.mean(), "rmse": math.sqrt((err**2).mean()) if len(ok) else math.nan,
            "coverage": cover if len(ok) else math.nan,
            "power": (ok["p"] < alpha).mean() if len(ok) else math.nan,
            "singular": ok["singular"].mean() if d["method"].iloc[0] == "mixed" else math.nan,
            "mean_se": ok["se"].mean(), "sd": ok["estimate"].std(ddof=1),
            "failed": d["failed"].mean(), "n": float(len(ok)),
        })

    keys = ["n_groups", "group_size", "method"]
    rows = {key: metrics(d) for key, d in est.groupby(keys, sort=False)}
    out = pd.DataFrame(rows).T
    out.index = pd.MultiIndex.from_tuples(list(rows), names=keys)
    return out


def simulate_study(
    n_groups: Sequence[int] = (5, 10, 25, 50, 100),
    group_sizes: Sequence[int] = (5, 20),
    *,
    methods: Sequence[str] = ("ols", "ols_cr2", "fe", "mixed"),
    target: str = "z",
    nsim: int = 100,
    icc: float = 0.2,
    effects: dict[str, float] | None = None,
    slope_sd: float = 0.0,
    x_icc: float = 0.3,
    x_u_corr: float = 0.0,
    random: str = "(1 | g)",
    level: float = 0.95,
    alpha: float = 0.05,
    ddf: str = "satterthwaite",
    seed: int | None = 0,
    progress: bool = True,
) -> SimulationStudy:
    """Simulate two-level data over numbers and sizes of groups and compare estimators.

    Parameters
    ----------
    n_groups, group_sizes
        The conditions: every number of groups J with every group size n.
    methods
        Any of "ols" (complete pooling, iid SEs), "ols_cr1", "ols_cr2" (cluster-robust),
        "two_stage", "fe" (within; estimates x only), "re" (GLS, Swamy-Arora) and "mixed"
        (REML mixed model with ``random``; Satterthwaite df when available, else z tests).
    target
        The coefficient studied: "z" (level 2, default), "x" (level 1) or "(Intercept)".
    nsim
        Replicates per condition.
    icc, effects, slope_sd, x_icc, x_u_corr
        The data-generating model (module docstring); ``effects`` maps "intercept", "x" and
        "z" to γ₀, γ_x, γ_z (default 0, 0.3, 0.3).
    random
        Random part of the mixed model: "(1 | g)" or "(1 + x | g)".
    level, alpha
        Interval level (coverage) and test level (power).
    ddf
        "satterthwaite" or "z" for the mixed model's t tests.
    seed
        Seed of the whole study.
    progress
        Show a progress bar on stderr.

    Returns
    -------
    SimulationStudy
        ``summary`` (bias, RMSE, coverage, power, singular-fit rate ... per condition and
        method), ``estimates`` (every replicate), ``table(metric)`` and ``plot(metric)``.

    Examples
    --------
    >>> import multilevel as ml
    >>> s = ml.simulate_study((5, 20), (5,), nsim=4, methods=("ols", "mixed"),
    ...                       progress=False)
    >>> s.table("coverage").shape
    (2, 2)
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ModelError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    if target not in TERMS:
        raise ModelError(f"target must be one of {', '.join(TERMS)}, not {target!r}")
    if not 0.0 <= icc < 1.0 or not 0.0 <= x_icc <= 1.0 or not -1.0 <= x_u_corr <= 1.0:
        raise ModelError("icc must be in [0, 1), x_icc in [0, 1] and x_u_corr in [-1, 1]")
    if ddf not in ("satterthwaite", "z"):
        raise ModelError(f"ddf must be 'satterthwaite' or 'z', not {ddf!r}")
    if min(n_groups) < 4 or min(group_sizes) < 1 or nsim < 2:
        raise DataError("use at least 4 groups, groups of at least 1, and nsim >= 2")
    params = {"intercept": 0.0, "x": 0.3, "z": 0.3, **(effects or {}), "icc": icc,
              "slope_sd": slope_sd, "x_icc": x_icc, "x_u_corr": x_u_corr}
    truth = params["intercept" if target == "(Intercept)" else target]
    k = TERMS.index(target)
    conditions = [(J, n) for J in n_groups for n in group_sizes]
    streams = np.random.SeedSequence(seed).spawn(len(conditions))
    rows = []
    with Progress(len(conditions) * nsim, "simulate_study", enabled=progress) as bar:
        for (J, n), stream in zip(conditions, streams, strict=True):
            rng = np.random.default_rng(stream)
            for rep in range(nsim):
                X, y, codes = _simulate(rng, J, n, params)
                for method in methods:
                    try:
                        fitted = _fit_one(method, X, y, codes, J, k, random, ddf)
                        rows.append((J, n, rep, method, *fitted, False))
                    except (MultilevelError, np.linalg.LinAlgError, ValueError):
                        rows.append((J, n, rep, method, math.nan, math.nan, math.nan, False,
                                     True))
                bar.update()
    table = pd.DataFrame(rows, columns=["n_groups", "group_size", "rep", "method", "estimate",
                                        "se", "df", "singular", "failed"])
    q = stats.t.ppf(0.5 + level / 2.0, table["df"].to_numpy(dtype=float))
    table["lower"] = table["estimate"] - q * table["se"]
    table["upper"] = table["estimate"] + q * table["se"]
    table["p"] = 2.0 * stats.t.sf(np.abs(table["estimate"] / table["se"]), table["df"])
    summary = _summarise(table, truth, alpha)
    settings = {"n_groups": list(n_groups), "group_sizes": list(group_sizes),
                "methods": list(methods), "target": target, "truth": truth, "nsim": nsim,
                "params": params, "random": random, "level": level, "alpha": alpha,
                "ddf": ddf, "seed": seed}
    return SimulationStudy(summary, table, settings)


__all__ = ["SimulationStudy", "simulate_study"]
