"""Simulated intervals for the predictions of a GLMM (as merTools' ``predictInterval``).

Each simulation draws β from N(β̂, cov(β̂)) and, for each random-effects term kept by
``re_form``, one vector of effects per level from N(b̂, cov(b | y)) (the conditional
covariance of :mod:`~multilevel.inference.ranef_var`, lme4's ``condVar``) or, for a level not
seen in fitting, from N(0, ΛΛᵀ). The linear predictor η is mapped to the mean μ = g⁻¹(η):
"confidence" intervals are quantiles of η (``type="link"``) or μ (``type="response"``);
"prediction" intervals add a response drawn from the family given μ (response scale only), with
the binomial trials and prior weights of the fitted rows. New data carry no trials, so binomial
prediction intervals are for the fitted rows only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.errors import ModelError
from multilevel.inference.glmm_simulate import dispersion, family_draws
from multilevel.inference.newdata import encode, keep_terms
from multilevel.inference.ranef_var import conditional_modes, ranef_covariances

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def _eta_draws(result: Any, x: FloatArray, off: FloatArray, zs: list[FloatArray],
               codes: list[IntArray], terms: list[int], nsim: int,
               rng: np.random.Generator) -> FloatArray:
    beta = np.asarray(result.beta, dtype=float)
    draws = rng.multivariate_normal(beta, np.asarray(result.vcov_matrix), size=nsim,
                                    method="eigh")
    sims = draws @ x.T + off[None, :]
    covs = ranef_covariances(result)
    modes = conditional_modes(result)
    for k, z, code in zip(terms, zs, codes, strict=True):
        lam = result.lambdas[k]
        for lev in np.unique(code):
            rows = code == lev
            if lev >= 0:
                mean, cov = modes[k][lev], covs[k][lev]
            else:
                mean, cov = np.zeros(lam.shape[0]), lam @ lam.T
            draw = rng.multivariate_normal(mean, cov, size=nsim, method="eigh")
            sims[:, rows] += draw @ z[rows].T
    return np.asarray(sims)


def predict_interval(
    result: Any,
    newdata: Any = None,
    re_form: Any = None,
    allow_new_levels: bool = False,
    type: str = "response",
    interval: str = "confidence",
    level: float = 0.95,
    nsim: int = 1000,
    seed: Any = None,
) -> pd.DataFrame:
    """Predictions of a GLMM with simulated confidence or prediction intervals.

    Parameters
    ----------
    result
        A fitted GLMM.
    newdata, re_form, allow_new_levels, type
        As :meth:`multilevel.glmm.result.GLMMResult.predict`.
    interval
        "confidence" (for the mean) or "prediction" (for a new response; ``type="response"``).
    level
        Interval level.
    nsim
        Number of simulations.
    seed
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    DataFrame
        Columns fit (the plug-in prediction), lower, upper; NaN for rows with missing values.
    """
    if interval not in ("prediction", "confidence"):
        raise ModelError(f"interval must be None, 'prediction' or 'confidence', not {interval!r}")
    if interval == "prediction" and type != "response":
        raise ModelError("prediction intervals are for new responses: use type='response'")
    if not 0.0 < level < 1.0:
        raise ModelError(f"level must be between 0 and 1, got {level}")
    fit = result.predict(newdata=newdata, re_form=re_form, allow_new_levels=allow_new_levels,
                         type=type)
    terms = keep_terms(result, re_form)
    d = result.design
    if newdata is None:
        x, off = np.asarray(d.X), np.asarray(result.problem.offset)
        zs = [d.terms[k].z for k in terms]
        codes = [d.terms[k].grouping.codes for k in terms]
        complete = np.ones(d.nobs, dtype=bool)
        weights = np.asarray(result.problem.prior_weights)
    else:
        if interval == "prediction" and result.family.name == "binomial":
            raise ModelError(
                "prediction intervals of a binomial GLMM need the number of trials, which new "
                "data do not carry; use interval='confidence', or predict the fitted rows"
            )
        enc = encode(result, newdata, terms, allow_new_levels)
        x, off, zs, codes = enc.X, enc.offset, list(enc.z), list(enc.codes)
        complete = enc.complete
        weights = np.ones(x.shape[0])
    rng = np.random.default_rng(seed)
    sims = _eta_draws(result, x, off, zs, codes, terms, int(nsim), rng)
    if type == "response":
        sims = result.family.link.linkinv(sims)
    if interval == "prediction":
        sims = family_draws(result.family, sims, weights, dispersion(result), rng)
    alpha = (1.0 - level) / 2.0
    bounds = np.full((2, complete.size), np.nan)
    bounds[:, complete] = np.quantile(sims, [alpha, 1.0 - alpha], axis=0)
    return pd.DataFrame({"fit": fit.to_numpy(), "lower": bounds[0], "upper": bounds[1]},
                        index=fit.index)
