"""Diagnostic plots of a fitted mixed model (matplotlib, imported only when drawing).

``result.plot`` is a :class:`PlotAccessor`: ``result.plot.caterpillar()`` (random effects with
conditional intervals, lme4's ``dotplot(ranef(fit, condVar=TRUE))``), ``result.plot.qq()``
(normal QQ plots of the random effects) and ``result.plot.residuals()`` (residuals against
fitted values). Each returns the matplotlib Figure.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from multilevel.errors import MultilevelError
from multilevel.lazy import stats


def pyplot() -> Any:
    """matplotlib.pyplot, or a clear error naming the ``[plot]`` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MultilevelError(
            "plotting needs matplotlib: install it with pip install 'multilevel[plot]'"
        ) from exc
    return plt


def _panels(n: int, width: float = 4.0, height: float = 3.2) -> tuple[Any, list[Any]]:
    plt = pyplot()
    ncol = min(n, 3)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(width * ncol, height * nrow), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def caterpillar(result: Any, group: str | None = None, level: float = 0.95) -> Any:
    """Conditional modes of the random effects, sorted, with ±z conditional-SD intervals."""
    from multilevel.inference.ranef_var import ranef_table

    table = ranef_table(result)
    if group is not None:
        table = table[table["grpvar"] == group]
    keys = list(dict.fromkeys(zip(table["grpvar"], table["term"], strict=True)))
    fig, axes = _panels(len(keys), height=max(3.2, 0.12 * table["grp"].nunique()))
    z = stats.norm.ppf(0.5 + level / 2.0)
    for ax, (grp, term) in zip(axes, keys, strict=True):
        part = table[(table["grpvar"] == grp) & (table["term"] == term)].sort_values("condval")
        pos = np.arange(len(part))
        ax.errorbar(part["condval"], pos, xerr=z * part["condsd"], fmt="o", ms=3,
                    elinewidth=0.8)
        ax.axvline(0.0, color="grey", lw=0.8)
        ax.set_yticks(pos)
        ax.set_yticklabels(part["grp"].astype(str), fontsize=6)
        ax.set_title(f"{grp}: {term}")
    fig.tight_layout()
    return fig


def qq(result: Any, group: str | None = None) -> Any:
    """Normal QQ plot of the conditional modes of each random effect."""
    from multilevel.inference.ranef_var import ranef_table

    table = ranef_table(result)
    if group is not None:
        table = table[table["grpvar"] == group]
    keys = list(dict.fromkeys(zip(table["grpvar"], table["term"], strict=True)))
    fig, axes = _panels(len(keys))
    for ax, (grp, term) in zip(axes, keys, strict=True):
        vals = np.sort(table[(table["grpvar"] == grp) & (table["term"] == term)]["condval"])
        n = vals.size
        theo = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
        ax.plot(theo, vals, "o", ms=3)
        sd = float(np.std(vals, ddof=1)) if n > 1 else 0.0
        ax.plot(theo, float(np.mean(vals)) + sd * theo, color="grey", lw=0.8)
        ax.set_xlabel("standard normal quantiles")
        ax.set_ylabel("conditional mode")
        ax.set_title(f"{grp}: {term}")
    fig.tight_layout()
    return fig


def residuals(result: Any) -> Any:
    """Residuals against fitted values, with a zero line and a running mean."""
    plt = pyplot()
    fitted = result.fitted.to_numpy()
    resid = result.residuals.to_numpy()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(fitted, resid, s=6, alpha=0.5)
    ax.axhline(0.0, color="grey", lw=0.8)
    order = np.argsort(fitted)
    k = max(5, len(fitted) // 20)
    smooth = np.convolve(resid[order], np.ones(k) / k, mode="valid")
    ax.plot(fitted[order][k // 2 : k // 2 + smooth.size], smooth, color="C1", lw=1.2)
    ax.set_xlabel("fitted")
    ax.set_ylabel("residual")
    fig.tight_layout()
    return fig


def profile_plot(profile: Any, level: float = 0.95, absolute: bool = False) -> Any:
    """ζ (or |ζ|) against each profiled parameter, with ±z reference lines."""
    names = list(profile.estimates.index)
    fig, axes = _panels(len(names), width=3.4, height=3.0)
    z = stats.norm.ppf(0.5 + level / 2.0)
    for ax, name in zip(axes, names, strict=True):
        tr = profile.trace(name)
        y = np.abs(tr["zeta"]) if absolute else tr["zeta"]
        ax.plot(tr["value"], y, "-", lw=1.0)
        ax.plot(tr["value"], y, "+", ms=4)
        for h in ((z,) if absolute else (-z, 0.0, z)):
            ax.axhline(h, color="grey", lw=0.6, ls=":" if h else "-")
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("|ζ|" if absolute else "ζ")
    fig.tight_layout()
    return fig


class PlotAccessor:
    """``result.plot``: diagnostic plots of a fit.

    Calling it draws residuals against fitted values; its methods draw the others.
    """

    def __init__(self, result: Any):
        self._result = result

    def __call__(self) -> Any:
        return residuals(self._result)

    def caterpillar(self, group: str | None = None, level: float = 0.95) -> Any:
        """Caterpillar plot of the random effects (see :func:`caterpillar`)."""
        return caterpillar(self._result, group=group, level=level)

    def qq(self, group: str | None = None) -> Any:
        """QQ plots of the random effects (see :func:`qq`)."""
        return qq(self._result, group=group)

    def residuals(self) -> Any:
        """Residuals against fitted values (see :func:`residuals`)."""
        return residuals(self._result)
