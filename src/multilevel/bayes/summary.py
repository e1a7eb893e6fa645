"""The printed summary of a Bayesian fit (laid out as brms's ``summary``)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def _table(frame: pd.DataFrame) -> str:
    out = frame.copy()
    out["ess_bulk"] = out["ess_bulk"].round().astype("Int64")
    return out.to_string(
        formatters={c: "{:.4g}".format for c in ("mean", "sd", "lower", "upper")}
        | {"r_hat": "{:.3f}".format}
    )


def format_summary(result: Any, level: float = 0.95) -> str:
    """The summary text of a :class:`~multilevel.bayes.result.BayesResult`.

    Parameters
    ----------
    result
        The Bayesian result.
    level
        Probability of the credible intervals.
    """
    opts = result.options
    stats = result.sampler
    chains, draws = result.posterior.shape
    groups = "; ".join(f"{g}: {n} groups" for g, n in result.ngroups.items())
    lines = [
        "Bayesian multilevel model fitted by NUTS (NumPyro)",
        f" Family: {result.family} ( {result.link} )" if isinstance(result.family, str)
        else f" Family: {result.family}",
        f"Formula: {result.formula}",
        f"   Data: {result.nobs} observations; {groups}",
        f"  Draws: {chains} chains × {draws} draws (warmup {opts.warmup}), "
        f"chain_method={opts.chain_method!r}, seed={opts.seed}; {stats.seconds:.1f} s",
        f"Divergences: {stats.divergences}; target_accept={opts.target_accept}",
        "",
    ]
    table = result.posterior_summary(level=level)
    names = list(table.index)
    fixed = [n for n in result.design.xnames if n in names]
    group = [n for n in names if n.startswith(("sd_", "cor_"))]
    other = [n for n in names if n not in set(fixed) | set(group)]
    if group:
        lines += ["Group-level effects:", _table(table.loc[group]), ""]
    lines += ["Population-level effects:", _table(table.loc[fixed]), ""]
    if other:
        lines += ["Family-specific parameters:", _table(table.loc[other]), ""]
    lines.append(
        f"mean, sd: posterior mean and SD; lower, upper: {100 * level:g}% equal-tailed "
        "credible interval; r_hat: rank-normalized split R-hat; ess_bulk: bulk effective "
        "sample size."
    )
    if result.warnings:
        lines += ["", "Warnings:"] + [f"  {w}" for w in result.warnings]
    return "\n".join(lines)


__all__ = ["format_summary"]
