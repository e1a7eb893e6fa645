"""Plots of the workflow: shrinkage, caterpillar (random effects with intervals), simulations.

Exposed as ``ml.plot``: ``ml.plot.shrinkage(model)``, ``ml.plot.caterpillar(model)``,
``ml.plot.simulation(study)``. matplotlib is imported only when a plot is drawn (install it
with ``pip install "multilevel[plot]"``). Each function draws on ``ax`` when given one and
otherwise on a new :class:`matplotlib.figure.Figure` (no pyplot state, so it works headless);
it returns the figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import ModelError, MultilevelError, NotSupportedError

MAX_DENSE_EFFECTS = 3000


def _figure(ax: Any, ncols: int = 1, width: float = 6.0, height: float = 4.0) -> tuple[Any, list]:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MultilevelError(
            "plotting needs matplotlib, which is not installed: "
            'pip install "multilevel[plot]"'
        ) from exc
    if ax is not None:
        axes = list(np.ravel(ax))
        return axes[0].figure, axes
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = [fig.add_subplot(1, ncols, k + 1) for k in range(ncols)]
    return fig, axes


def _log_x(axis: Any, ticks: list | None) -> None:
    """A log x axis labelled with plain numbers (no 6×10⁰ minor labels)."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    axis.set_xscale("log")
    if ticks is not None:
        axis.set_xticks(ticks)
    axis.xaxis.set_major_formatter(ScalarFormatter())
    axis.xaxis.set_minor_formatter(NullFormatter())


def shrinkage(model: Any, term: str = "(Intercept)", group: str | None = None,
              ax: Any = None) -> Any:
    """No-pooling (open) and partial-pooling (filled) group estimates against group size.

    Each group's own OLS estimate is joined by a line to the mixed model's estimate for it;
    small groups move furthest toward the fixed-effect line. ``model`` may be a fitted mixed
    model or the frame :func:`multilevel.shrinkage` returns.
    """
    from multilevel.workflow.pooling import shrinkage as shrinkage_data

    data = model if isinstance(model, pd.DataFrame) else shrinkage_data(model, term, group)
    fig, (axis,) = _figure(ax)
    n = data["n"].to_numpy(dtype=float)
    rng = np.random.default_rng(0)
    x = n * np.exp(rng.uniform(-0.04, 0.04, n.size))  # jitter ties on the log scale
    ok = np.isfinite(data["no_pooling"].to_numpy())
    for xi, a, b in zip(x[ok], data["no_pooling"][ok], data["partial_pooling"][ok], strict=True):
        axis.plot([xi, xi], [a, b], color="0.7", linewidth=0.8, zorder=1)
    axis.scatter(x[ok], data["no_pooling"][ok], facecolors="none", edgecolors="C0", s=22,
                 label="no pooling (own OLS)", zorder=2)
    axis.scatter(x, data["partial_pooling"], color="C3", s=14,
                 label="partial pooling (mixed model)", zorder=3)
    fixed = data["fixed"].to_numpy(dtype=float)
    if np.allclose(fixed, fixed[0]):
        axis.axhline(fixed[0], color="k", linestyle="--", linewidth=1, label="fixed effect")
    if n.max() > 3 * n.min():
        nice = [m * 10**e for e in range(0, 7) for m in (1, 2, 5)]
        _log_x(axis, [t for t in nice if n.min() * 0.9 <= t <= n.max() * 1.1])
    axis.set_xlabel("group size (rows)")
    axis.set_ylabel(f"{data.attrs.get('term', term)} by {data.attrs.get('group', 'group')}")
    axis.set_title("Shrinkage: no pooling → partial pooling")
    axis.legend(fontsize="small", frameon=False)
    return fig


def conditional_sd(result: Any) -> dict[str, pd.DataFrame]:
    """Conditional SDs of the random effects given β̂ and θ̂ (lme4's ``condVar``).

    Var(b | y) = σ² Λ (Λ'Z'WZΛ + I)⁻¹ Λ', read block by block; computed densely, so only for
    models with at most 3000 random effects and a PLS system (linear mixed models).

    Returns
    -------
    dict of DataFrame
        Like ``result.ranef``: grouping factor → levels × effects.
    """
    design = result.design
    if getattr(result, "system", None) is None or getattr(result, "family", None) is not None:
        raise NotSupportedError("conditional SDs are computed for linear mixed models only")
    sizes = [t.nlevels * t.q for t in design.terms]
    total = int(sum(sizes))
    if total > MAX_DENSE_EFFECTS:
        raise NotSupportedError(f"{total} random effects are too many for a dense inverse")
    n = design.nobs
    zl = np.zeros((n, total))
    start = 0
    for t, lam in zip(design.terms, result.lambdas, strict=True):
        block = t.z @ lam  # row i: z_i'λ, placed at the columns of its level
        cols = start + t.grouping.codes[:, None] * t.q + np.arange(t.q)[None, :]
        np.put_along_axis(zl, cols, block, axis=1)
        start += t.nlevels * t.q
    w = design.weights if design.weights is not None else np.ones(n)
    inv = np.linalg.inv((zl * w[:, None]).T @ zl + np.eye(total))
    out: dict[str, pd.DataFrame] = {}
    start = 0
    sigma2 = float(result.sigma) ** 2
    for t, lam in zip(design.terms, result.lambdas, strict=True):
        sd = np.empty((t.nlevels, t.q))
        for level in range(t.nlevels):
            idx = start + level * t.q + np.arange(t.q)
            cov = sigma2 * lam @ inv[np.ix_(idx, idx)] @ lam.T
            sd[level] = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        frame = pd.DataFrame(sd, index=pd.Index(list(t.grouping.levels), name=t.group),
                             columns=list(t.cnames))
        out[t.group] = pd.concat([out[t.group], frame], axis=1) if t.group in out else frame
        start += t.nlevels * t.q
    return out


def caterpillar(model: Any, group: str | None = None, level: float = 0.95,
                ax: Any = None) -> Any:
    """Conditional modes of the random effects, sorted, with intervals (lme4's dotplot).

    One panel per effect of the grouping factor (default: the one with most levels). The
    intervals are ±z·SD from :func:`conditional_sd` when they can be computed.
    """
    from scipy import stats

    ranef = model.ranef
    group = group or next(iter(ranef))
    if group not in ranef:
        raise ModelError(f"no grouping factor {group!r}; the model has {', '.join(ranef)}")
    modes = ranef[group]
    try:
        sds: pd.DataFrame | None = conditional_sd(model)[group]
    except NotSupportedError:
        sds = None
    fig, axes = _figure(ax, ncols=len(modes.columns), width=4.0, height=5.0)
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    for axis, effect in zip(axes, modes.columns, strict=False):
        values = modes[effect].sort_values()
        pos = np.arange(values.size)
        if sds is not None:
            half = z * sds.loc[values.index, effect].to_numpy()
            axis.errorbar(values.to_numpy(), pos, xerr=half, fmt="none", ecolor="0.6",
                          elinewidth=0.8)
        axis.plot(values.to_numpy(), pos, "o", color="C0", markersize=3)
        axis.axvline(0.0, color="k", linewidth=0.8)
        axis.set_title(f"{effect} | {group}")
        axis.set_xlabel("conditional mode")
        if values.size <= 40:
            axis.set_yticks(pos, [str(v) for v in values.index], fontsize="x-small")
        else:
            axis.set_yticks([])
            axis.set_ylabel(f"{values.size} levels, sorted")
    return fig


def simulation(study: Any, metric: str = "coverage", ax: Any = None) -> Any:
    """A simulation study's metric against the number of groups: a line per method, a panel
    per group size."""
    table = study.table(metric)
    sizes = list(dict.fromkeys(table.index.get_level_values("group_size")))
    fig, axes = _figure(ax, ncols=len(sizes), width=4.0, height=3.5)
    settings = getattr(study, "settings", {})
    for axis, size in zip(axes, sizes, strict=False):
        part = table.xs(size, level="group_size")
        for method in part.columns:
            axis.plot(part.index, part[method], marker="o", markersize=3, label=method)
        if metric == "coverage":
            axis.axhline(settings.get("level", 0.95), color="k", linestyle="--", linewidth=1)
        if metric in ("bias",):
            axis.axhline(0.0, color="k", linewidth=0.8)
        if metric == "power" and settings.get("truth", 1.0) == 0.0:
            axis.axhline(settings.get("alpha", 0.05), color="k", linestyle="--", linewidth=1)
        _log_x(axis, list(part.index))
        axis.set_xlabel("number of groups")
        axis.set_title(f"groups of {size}")
    axes[0].set_ylabel(f"{metric} ({settings.get('target', '')})")
    axes[-1].legend(fontsize="small", frameon=False)
    return fig


def simulation_plot(study: Any, metric: str = "coverage", ax: Any = None) -> Any:
    """Alias of :func:`simulation` used by ``SimulationStudy.plot``."""
    return simulation(study, metric=metric, ax=ax)


__all__ = ["caterpillar", "conditional_sd", "shrinkage", "simulation"]
