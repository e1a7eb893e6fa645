"""Multilevel regression and poststratification (MRP): estimates for groups of population cells.

A fitted multilevel model predicts the mean of every cell of a population frame (say state ×
age × education, with the cell's population count); the estimate for a group of cells (a
state) is the population-weighted mean of its cells' predictions (Gelman and Little, 1997;
Park, Gelman and Bafumi, 2004). The uncertainty comes from draws of the cell means: posterior
draws for Bayesian fits, simulations from the sampling distribution for likelihood fits
(:mod:`multilevel.mrp.simulate`). Cells whose group levels (a state absent from the poll) were
not in the fitted data get random effects drawn from their estimated distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.bayes.posterior import new_rows
from multilevel.design.frame import as_pandas
from multilevel.errors import DataError, ModelError

FloatArray = NDArray[np.float64]


def cell_draws(
    result: Any,
    frame: Any,
    *,
    re_form: Any = None,
    allow_new_levels: bool = True,
    ndraws: int | None = None,
    nsim: int = 1000,
    seed: Any = None,
) -> FloatArray:
    """Draws of the mean of every row of ``frame``: an array (draws, rows).

    Parameters
    ----------
    result
        A Bayesian fit (posterior draws of μ) or a likelihood fit (LMM or GLMM: simulated).
    frame
        The rows (every column the model uses, no missing values).
    re_form, allow_new_levels
        As for ``predict``.
    ndraws
        Bayesian fits: number of posterior draws to use (default: all).
    nsim
        Likelihood fits: number of simulations.
    seed
        Seed of ``numpy.random.default_rng`` (new levels and likelihood simulations).
    """
    from multilevel.bayes.result import BayesResult
    from multilevel.glmm.result import GLMMResult
    from multilevel.result import LMMResult

    if isinstance(result, BayesResult):
        return result.posterior_epred(frame, re_form, allow_new_levels, ndraws, seed)
    if not isinstance(result, LMMResult | GLMMResult):
        raise TypeError(
            f"poststratify needs a fitted multilevel model, not {type(result).__name__}"
        )
    from multilevel.mrp.simulate import likelihood_draws

    if not (isinstance(nsim, int) and nsim >= 2):
        raise ModelError(f"nsim must be an integer >= 2, not {nsim!r}")
    rows = new_rows(result, frame, re_form, allow_new_levels)
    return likelihood_draws(result, rows, nsim, np.random.default_rng(seed))


def poststratify(
    result: Any,
    frame: Any,
    weight: str = "N",
    by: str | Sequence[str] | None = "state",
    level: float = 0.9,
    *,
    re_form: Any = None,
    allow_new_levels: bool = True,
    ndraws: int | None = None,
    nsim: int = 1000,
    seed: Any = None,
) -> pd.DataFrame:
    """MRP estimates per group of population cells, with intervals.

    Parameters
    ----------
    result
        A fitted multilevel model: Bayesian (``method="bayes"``) or likelihood (LMM, GLMM).
    frame
        The poststratification frame: one row per population cell, with every column the model
        uses, the cell's population count (``weight``) and the grouping columns (``by``).
    weight
        Column of cell counts (or any non-negative weights).
    by
        Column(s) whose combinations are the groups estimated for (None: one overall estimate).
    level
        Probability of the intervals.
    re_form
        Random effects to include (None: all).
    allow_new_levels
        Cells with group levels not in the fitted data get random effects drawn from their
        distribution (default); False refuses them.
    ndraws
        Bayesian fits: use this many posterior draws (default: all).
    nsim
        Likelihood fits: number of simulations (default 1000).
    seed
        Seed of ``numpy.random.default_rng`` (new levels; likelihood simulations).

    Returns
    -------
    DataFrame
        One row per group (index: the ``by`` values): ``estimate`` (mean of the draws of the
        weighted mean), ``sd``, ``lower`` and ``upper`` (equal-tailed interval of probability
        ``level``) and ``weight`` (the group's total weight).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.mrp import poststratify
    >>> poll, population, truth = ml.datasets.simulated_survey(1)
    >>> m = ml.fit("y ~ x_state + age + edu + (1 | state)", poll, family="binomial")
    >>> est = poststratify(m, population, weight="N", by="state", seed=1)
    >>> list(est.columns)
    ['estimate', 'sd', 'lower', 'upper', 'weight']
    """
    if not (isinstance(level, int | float) and 0.0 < float(level) < 1.0):
        raise ModelError(f"level must be between 0 and 1, not {level!r}")
    df = as_pandas(frame)
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    missing = [c for c in [weight, *keys] if c not in df.columns]
    if missing:
        raise DataError(f"the poststratification frame lacks the columns {missing}")
    w = pd.to_numeric(df[weight], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError(f"the weights {weight!r} must be non-negative numbers")
    draws = cell_draws(result, df, re_form=re_form, allow_new_levels=allow_new_levels,
                       ndraws=ndraws, nsim=nsim, seed=seed)
    if draws.shape[1] != len(df):
        raise DataError(
            "the poststratification frame has rows with missing values in columns the model "
            "uses; every cell needs them"
        )
    if keys:
        groups = df[keys].astype(object).apply(tuple, axis=1) if len(keys) > 1 else df[keys[0]]
        codes, uniques = pd.factorize(groups, sort=True)
        if len(keys) > 1:
            index: pd.Index = pd.MultiIndex.from_tuples(list(uniques), names=keys)
        else:
            index = pd.Index(uniques, name=keys[0])
    else:
        codes, index = np.zeros(len(df), dtype=np.intp), pd.Index(["all"])
    ngroups = len(index)
    totals = np.bincount(codes, weights=w, minlength=ngroups)
    if np.any(totals <= 0):
        raise DataError("some groups have a total weight of zero")
    member = np.zeros((len(df), ngroups))
    member[np.arange(len(df)), codes] = w / totals[codes]
    est = draws @ member
    alpha = (1.0 - float(level)) / 2.0
    lo, hi = np.quantile(est, [alpha, 1.0 - alpha], axis=0)
    return pd.DataFrame(
        {
            "estimate": est.mean(axis=0),
            "sd": est.std(axis=0, ddof=1),
            "lower": lo,
            "upper": hi,
            "weight": totals,
        },
        index=index,
    )


__all__ = ["cell_draws", "poststratify"]
