"""Worker for the bootstrap coverage test (importable by spawned processes)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

import multilevel as ml

BETA = (1.0, 0.5)
TAU = 0.8
SIGMA = 1.0
GROUPS = 12
PER_GROUP = 5


def slope(result: ml.LMMResult) -> float:
    """The statistic: the fixed slope."""
    return float(result.estimates.beta[1])


def one_dataset(seed: int, nboot: int = 200) -> tuple[bool, float, float]:
    """Simulate a data set from the known model, fit, bootstrap the slope.

    Returns (interval covers the true slope, interval width, Wald width).
    """
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(GROUPS), PER_GROUP)
    x = rng.standard_normal(g.size)
    y = BETA[0] + BETA[1] * x + rng.normal(0, TAU, GROUPS)[g] + rng.normal(0, SIGMA, g.size)
    data = pd.DataFrame({"y": y, "x": x, "g": [f"g{k}" for k in g]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.fit("y ~ x + (1 | g)", data)
        boot = ml.bootstrap(m, nboot, statistic=slope, seed=seed + 1, progress=False)
    lo, hi = boot.confint(0.95).iloc[0]
    wald = 2 * 1.959964 * float(m.se["x"])
    return bool(lo <= BETA[1] <= hi), float(hi - lo), wald
