"""Means and simulated responses from draws of the linear predictor (posterior predictive).

The mean is the family's inverse link of η; a simulated response draws one observation per row
and draw: Gaussian N(η, σ²/w); binomial successes out of the row's trials, returned as a
proportion (as the fitted response ``y``); Poisson; negative binomial with mean μ and
``Var = μ + μ²/θ``; Gamma with mean μ and the draw's shape; inverse Gaussian (Wald) with mean μ
and the draw's shape λ.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from multilevel.errors import ModelError
from multilevel.glmm.family import get_family

FloatArray = NDArray[np.float64]


def inverse_link(family: str, link: str, eta: FloatArray) -> FloatArray:
    """μ = g⁻¹(η) (NumPy), for any family and link of the likelihood fits."""
    if family == "gaussian":
        return eta
    fam = get_family(family, link)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return np.asarray(fam.link.linkinv(eta), dtype=float)


def simulate(
    family: str,
    mu: FloatArray,
    rng: np.random.Generator,
    *,
    sigma: FloatArray | None = None,
    dispersion: FloatArray | None = None,
    trials: FloatArray | None = None,
    weights: FloatArray | None = None,
) -> FloatArray:
    """One simulated response per draw and row.

    Parameters
    ----------
    family
        Family name.
    mu
        Means (S, m).
    rng
        Random generator.
    sigma
        Residual SD per draw (S,), Gaussian models.
    dispersion
        θ or shape per draw (S,), negative binomial, Gamma and inverse Gaussian.
    trials
        Binomial trials per row (m,) (ones when None).
    weights
        Gaussian precision weights per row (m,) (ones when None).
    """
    if family == "gaussian":
        assert sigma is not None
        scale = sigma[:, None] * np.ones_like(mu)
        if weights is not None:
            scale = scale / np.sqrt(weights)[None, :]
        return np.asarray(mu + scale * rng.standard_normal(mu.shape))
    if family == "binomial":
        m = np.ones(mu.shape[1]) if trials is None else np.asarray(trials, dtype=float)
        n = np.rint(m).astype(np.int64)
        k = rng.binomial(n[None, :], np.clip(mu, 0.0, 1.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n[None, :] > 0, k / np.maximum(n, 1)[None, :], 0.0)
    if family == "poisson":
        return rng.poisson(np.maximum(mu, 0.0)).astype(float)
    assert dispersion is not None
    d = dispersion[:, None]
    if family == "negative.binomial":
        return rng.negative_binomial(d * np.ones_like(mu), d / (d + mu)).astype(float)
    if family == "Gamma":
        return np.asarray(rng.gamma(d * np.ones_like(mu), mu / d))
    if family == "inverse.gaussian":
        return np.asarray(rng.wald(mu, d * np.ones_like(mu)))
    raise ModelError(f"cannot simulate the {family} family")


__all__ = ["inverse_link", "simulate"]
