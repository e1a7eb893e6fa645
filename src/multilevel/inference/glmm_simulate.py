"""Responses drawn from a fitted GLMM (lme4's ``simulate`` of a ``glmer`` fit).

η* = Xβ̂ + offset + Σ_terms Z b, with the conditional modes b̂ for the terms kept by
``re_form`` and new draws b = Λu, u ~ N(0, I), for the others (in a GLMM the random effects
carry no σ factor, as lme4 simulates them); μ* = g⁻¹(η*), and the response is drawn from the
family given μ*:

- binomial: successes ~ Binomial(m, μ*) with m the trials (``cbind`` totals, or the prior
  weights of a proportion response); returned as proportions (the fit's scale);
- Poisson: Poisson(μ*); negative binomial: NB with mean μ* and the fitted θ;
- Gamma: shape w/φ, mean μ* (variance φμ*²/w); inverse Gaussian: mean μ*, shape w/φ
  (variance φμ*³/w); φ = σ̂², the dispersion lme4's ``sigma`` is the square root of. (lme4
  1.1-31 draws Gamma responses with shape σ̂ instead of 1/σ̂², lme4 issue #782, since fixed.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.errors import ModelError
from multilevel.inference.newdata import keep_terms
from multilevel.inference.ranef_var import conditional_modes

FloatArray = NDArray[np.float64]


def family_draws(family: Any, mu: FloatArray, weights: FloatArray, dispersion: float,
                 rng: np.random.Generator) -> FloatArray:
    """Responses drawn from a GLM family given means (any shape, weights broadcast).

    Parameters
    ----------
    family
        The :class:`~multilevel.glmm.family.Family`.
    mu
        Means.
    weights
        Binomial trials (prior weights times trials), or prior weights.
    dispersion
        φ for Gamma and inverse Gaussian families (ignored otherwise).
    rng
        Random generator.

    Returns
    -------
    ndarray
        Draws of the shape of ``mu``; binomial draws as proportions of successes.
    """
    mu = np.asarray(mu, dtype=float)
    w = np.broadcast_to(np.asarray(weights, dtype=float), mu.shape)
    name = family.name
    if name == "binomial":
        trials = np.round(w)
        if np.any(np.abs(w - trials) > 1e-8):
            raise ModelError("cannot simulate binomial responses with non-integer trials or "
                             "prior weights")
        successes = rng.binomial(trials.astype(np.int64), np.clip(mu, 0.0, 1.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.where(trials > 0, successes / np.maximum(trials, 1.0), 0.0))
    if name == "poisson":
        return np.asarray(rng.poisson(mu), dtype=float)
    if name == "negative.binomial":
        theta = float(family.nb_theta)
        return np.asarray(rng.negative_binomial(theta, theta / (theta + mu)), dtype=float)
    if name == "Gamma":
        shape = w / dispersion
        return np.asarray(rng.gamma(shape, mu / shape))
    if name == "inverse.gaussian":
        return np.asarray(rng.wald(mu, w / dispersion))
    raise ModelError(f"cannot simulate from the {name} family")  # pragma: no cover


def dispersion(result: Any) -> float:
    """φ = σ̂² for Gamma and inverse Gaussian fits, 1 otherwise."""
    return float(result.sigma) ** 2 if result.family.has_dispersion else 1.0


def linear_predictor_draws(result: Any, nsim: int, rng: np.random.Generator,
                           re_form: Any = "~0") -> FloatArray:
    """(nsim, n) linear predictors: conditional modes for the kept terms, new random effects
    for the others."""
    d = result.design
    eta = d.X @ result.beta + result.problem.offset
    sims = np.broadcast_to(eta, (nsim, d.nobs)).copy()
    kept = set(keep_terms(result, re_form))
    for k, (t, lam, b) in enumerate(
        zip(d.terms, result.lambdas, conditional_modes(result), strict=True)
    ):
        if k in kept:
            sims += np.einsum("ij,ij->i", t.z, b[t.grouping.codes])[None, :]
            continue
        u = rng.standard_normal((nsim, t.nlevels, t.q))
        bs = np.einsum("sni,ji->snj", u, lam)
        sims += np.einsum("ij,sij->si", t.z, bs[:, t.grouping.codes, :])
    return np.asarray(sims)


def simulate_glmm_responses(result: Any, nsim: int, rng: np.random.Generator,
                            re_form: Any = "~0") -> FloatArray:
    """An (nsim, n) array of responses on the fit's scale (proportions for binomial)."""
    if nsim < 1:
        raise ModelError(f"nsim must be at least 1, got {nsim}")
    eta = linear_predictor_draws(result, nsim, rng, re_form)
    mu = result.family.link.linkinv(eta)
    return family_draws(result.family, mu, result.problem.prior_weights, dispersion(result), rng)
