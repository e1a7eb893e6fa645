"""Predictions from a fitted linear mixed model (lme4's ``predict``), with simulated intervals.

A prediction is Xβ̂ + offset plus, for each random-effects term kept by ``re_form``, the
term's columns times the conditional mode of the row's level (zero for a level not seen in
fitting, when allowed). Intervals are simulated as merTools' ``predictInterval``: β from
N(β̂, cov(β̂)), each kept level's effects from N(b̂, cov(b | y)) (a new level's from
N(0, Σ_term)), and for prediction intervals a residual from N(0, σ̂²/w).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.errors import ModelError
from multilevel.inference._common import require_lmm
from multilevel.inference.newdata import encode, keep_terms

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def _fitted_parts(result: Any, terms: list[int]
                  ) -> tuple[FloatArray, FloatArray, list[FloatArray], list[IntArray]]:
    d = result.design
    off = np.zeros(d.nobs) if d.offset is None else np.asarray(d.offset)
    return (np.asarray(d.X), off, [d.terms[k].z for k in terms],
            [d.terms[k].grouping.codes for k in terms])


def _point(result: Any, x: FloatArray, off: FloatArray, zs: list[FloatArray],
           codes: list[IntArray], terms: list[int]) -> FloatArray:
    eta = x @ result.estimates.beta + off
    for k, z, code in zip(terms, zs, codes, strict=True):
        b = result.estimates.b[k]
        known = code >= 0
        contrib = np.zeros(z.shape[0])
        contrib[known] = np.einsum("ij,ij->i", z[known], b[code[known]])
        eta = eta + contrib
    return np.asarray(eta)


def _simulate_interval(result: Any, x: FloatArray, off: FloatArray, zs: list[FloatArray],
                       codes: list[IntArray], terms: list[int], weights: FloatArray | None,
                       kind: str, level: float, nsim: int, seed: Any) -> FloatArray:
    from multilevel.inference.ranef_var import ranef_covariances

    rng = np.random.default_rng(seed)
    beta = np.asarray(result.estimates.beta)
    vcov = result.sigma**2 * np.asarray(result.estimates.vcov_unscaled)
    draws_beta = rng.multivariate_normal(beta, vcov, size=nsim, method="eigh")
    sims = draws_beta @ x.T + off[None, :]
    covs = ranef_covariances(result)
    for k, z, code in zip(terms, zs, codes, strict=True):
        b = result.estimates.b[k]
        lam = result.lambdas[k]
        prior = result.sigma**2 * (lam @ lam.T)
        q = lam.shape[0]
        levels = np.unique(code)
        contrib = np.zeros((nsim, z.shape[0]))
        for lev in levels:
            rows = code == lev
            if lev >= 0:
                mean, cov = b[lev], covs[k][lev]
            else:
                mean, cov = np.zeros(q), prior
            # one draw per simulation and level, shared by that level's rows
            draw = rng.multivariate_normal(mean, cov, size=nsim, method="eigh")
            contrib[:, rows] = draw @ z[rows].T
        sims += contrib
    if kind == "prediction":
        scale = result.sigma if weights is None else result.sigma / np.sqrt(weights)
        sims += rng.standard_normal(sims.shape) * scale
    alpha = (1.0 - level) / 2.0
    return np.asarray(np.quantile(sims, [alpha, 1.0 - alpha], axis=0))


def predict(
    result: Any,
    newdata: Any = None,
    re_form: Any = None,
    allow_new_levels: bool = False,
    type: str = "response",
    interval: str | None = None,
    level: float = 0.95,
    nsim: int = 1000,
    seed: Any = None,
) -> pd.Series | pd.DataFrame:
    """Predicted values, optionally with simulated intervals.

    Parameters
    ----------
    result
        A fitted linear mixed model.
    newdata
        Data to predict for (default: the fitted rows).
    re_form
        Random effects to include: None (all, default), "~0" (none: population-level
        predictions), or a formula of some of the model's terms, e.g. ``"~(1|school)"``.
    allow_new_levels
        Predict levels not seen in fitting with zero random effects (otherwise an error).
    type
        "response" or "link" (identical for a linear mixed model).
    interval
        None, "prediction" (new observations) or "confidence" (the mean), simulated.
    level
        Interval level.
    nsim
        Number of simulations for intervals.
    seed
        Seed for ``numpy.random.default_rng`` (intervals only).

    Returns
    -------
    Series or DataFrame
        Predictions (NaN for rows with missing values); with ``interval``, columns fit, lower,
        upper.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(float(m.predict(re_form="~0").iloc[0]), 2)
    251.41
    """
    result = require_lmm(result, "predict")
    if type not in ("response", "link"):
        raise ModelError(f"type must be 'response' or 'link', not {type!r}")
    if interval not in (None, "prediction", "confidence"):
        raise ModelError(f"interval must be None, 'prediction' or 'confidence', not {interval!r}")
    terms = keep_terms(result, re_form)
    if newdata is None:
        x, off, zs, codes = _fitted_parts(result, terms)
        index = result.design.frame.rows
        complete = np.ones(x.shape[0], dtype=bool)
        weights = result.design.weights
    else:
        enc = encode(result, newdata, terms, allow_new_levels)
        x, off, zs, codes = enc.X, enc.offset, list(enc.z), list(enc.codes)
        index, complete, weights = enc.index, enc.complete, None
    fit = np.full(complete.size, np.nan)
    fit[complete] = _point(result, x, off, zs, codes, terms)
    if interval is None:
        return pd.Series(fit, index=index, name="fit")
    bounds = np.full((2, complete.size), np.nan)
    bounds[:, complete] = _simulate_interval(
        result, x, off, zs, codes, terms, weights, interval, level, nsim, seed
    )
    return pd.DataFrame({"fit": fit, "lower": bounds[0], "upper": bounds[1]}, index=index)
