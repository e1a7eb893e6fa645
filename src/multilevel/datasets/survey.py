"""A synthetic opinion poll with a known population, for multilevel regression and
poststratification (MRP).

The model is fixed; the seed draws the state effects and the poll.

Population
    50 states ``S01`` … ``S50`` with adult populations ``N_s = round(200000 × 1.08^(s-1))``
    (0.2 to 8.7 million). A state-level predictor (think of a standardized previous vote share)
    ``x_state = ((17 s mod 50) - 24.5) / 14.5``. Four age groups ``18-29``, ``30-44``,
    ``45-64``, ``65+`` with shares 0.21, 0.25, 0.33, 0.21 in every state; four education
    groups ``no HS``, ``HS``, ``some college``, ``college`` with state-specific shares
    proportional to ``exp(a_e + 0.5 x_state c_e)``, a = (-0.6, 0.4, 0.2, 0.1),
    c = (-1, -0.5, 0.5, 1) (more college graduates where x_state is high). The population count
    of a cell is ``round(N_s × age share × education share)``: 800 cells.
Opinion
    A binary opinion with ``logit P(y = 1) = -0.3 + 0.6 x_state + α_state + γ_age + δ_edu``,
    state effects ``α_state ~ N(0, 0.5²)`` (drawn with the seed), age effects
    γ = (0.5, 0.2, -0.2, -0.5) and education effects δ = (-0.4, -0.1, 0.1, 0.4).
Truth
    The true state mean: the population-weighted mean of the cells' probabilities.
Poll
    2,000 respondents sampled unevenly: each respondent's cell is drawn with probability
    proportional to its population times response propensities (0.5, 0.8, 1.0, 1.4) by age and
    (0.4, 0.8, 1.0, 1.6) by education (older and more educated people answer more), and the
    answer y drawn from the cell's probability. Small states get few respondents (about 3 for
    the smallest, some under 10, possibly none), and the sample over-represents older and more
    educated people.

>>> from multilevel.datasets import simulated_survey
>>> poll, population, truth = simulated_survey(1)
>>> poll.shape, population.shape, truth.shape
((2000, 5), (800, 5), (50,))
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

STATES = tuple(f"S{s:02d}" for s in range(1, 51))
AGES = ("18-29", "30-44", "45-64", "65+")
EDUCATION = ("no HS", "HS", "some college", "college")
AGE_SHARE = np.array([0.21, 0.25, 0.33, 0.21])
EDU_BASE = np.array([-0.6, 0.4, 0.2, 0.1])
EDU_SLOPE = np.array([-1.0, -0.5, 0.5, 1.0])
INTERCEPT = -0.3
X_EFFECT = 0.6
STATE_SD = 0.5
AGE_EFFECT = np.array([0.5, 0.2, -0.2, -0.5])
EDU_EFFECT = np.array([-0.4, -0.1, 0.1, 0.4])
AGE_RESPONSE = np.array([0.5, 0.8, 1.0, 1.4])
EDU_RESPONSE = np.array([0.4, 0.8, 1.0, 1.6])
POLL_SIZE = 2000


class SimulatedSurvey(NamedTuple):
    """A poll, its population and the truth.

    Attributes
    ----------
    poll
        One row per respondent: state, age, edu (categoricals), x_state, y (0/1).
    population
        One row per cell: state, age, edu, x_state, N (population count).
    truth
        True mean opinion per state (index: state).
    """

    poll: pd.DataFrame
    population: pd.DataFrame
    truth: pd.Series


def _population() -> pd.DataFrame:
    s = np.arange(1, 51)
    size = np.round(200_000 * 1.08 ** (s - 1))
    x = ((17 * s) % 50 - 24.5) / 14.5
    edu = np.exp(EDU_BASE[None, :] + 0.5 * x[:, None] * EDU_SLOPE[None, :])
    edu /= edu.sum(axis=1, keepdims=True)
    counts = np.round(size[:, None, None] * AGE_SHARE[None, :, None] * edu[:, None, :])
    si, ai, ei = (a.ravel() for a in np.meshgrid(range(50), range(4), range(4), indexing="ij"))
    return pd.DataFrame({
        "state": pd.Categorical.from_codes(si, pd.Index(STATES)),
        "age": pd.Categorical.from_codes(ai, pd.Index(AGES)),
        "edu": pd.Categorical.from_codes(ei, pd.Index(EDUCATION)),
        "x_state": x[si],
        "N": counts.ravel().astype(np.int64),
    })


def simulated_survey(seed: int = 0) -> SimulatedSurvey:
    """A synthetic poll from the fixed model of this module, with its population and truth.

    Parameters
    ----------
    seed
        Seed of ``numpy.random.default_rng``: it draws the state effects and the poll.

    Returns
    -------
    SimulatedSurvey
        ``(poll, population, truth)``: see :class:`SimulatedSurvey` and the module docstring.
    """
    rng = np.random.default_rng(seed)
    pop = _population()
    alpha = rng.normal(0.0, STATE_SD, size=len(STATES))
    si = pop["state"].cat.codes.to_numpy()
    ai = pop["age"].cat.codes.to_numpy()
    ei = pop["edu"].cat.codes.to_numpy()
    eta = INTERCEPT + X_EFFECT * pop["x_state"].to_numpy() + alpha[si] + AGE_EFFECT[ai]
    eta = eta + EDU_EFFECT[ei]
    prob = 1.0 / (1.0 + np.exp(-eta))
    n = pop["N"].to_numpy(dtype=float)
    truth = pd.Series(
        np.bincount(si, n * prob, 50) / np.bincount(si, n, 50),
        index=pd.Index(STATES, name="state"), name="truth",
    )
    select = n * AGE_RESPONSE[ai] * EDU_RESPONSE[ei]
    cells = rng.choice(len(pop), size=POLL_SIZE, p=select / select.sum())
    y = (rng.random(POLL_SIZE) < prob[cells]).astype(np.int64)
    poll = pop.iloc[cells][["state", "age", "edu", "x_state"]].reset_index(drop=True)
    poll["y"] = y
    return SimulatedSurvey(poll, pop, truth)


__all__ = ["SimulatedSurvey", "simulated_survey"]
