"""Log-likelihoods of the families in JAX, per observation, for the NumPyro model.

Each function takes the linear predictor η and returns log p(yᵢ | η, ...) per observation;
the model multiplies by the prior weights (for Gaussian models the weights are precisions and
enter the variance instead). Binomial responses are successes ``k`` out of ``trials`` (which
need not be integers: proportions with weights give the same kernel as glmer). An η outside a
link's range (a negative mean under an identity link, say) gives -inf, which NUTS rejects.
"""

from __future__ import annotations

import math
from typing import Any

from multilevel.errors import NotSupportedError

_LOG_2PI = math.log(2.0 * math.pi)


def _log_mu_binomial(link: str, eta: Any) -> tuple[Any, Any]:
    """log μ and log(1 - μ) of a binomial mean under ``link``, computed stably."""
    import jax.numpy as jnp
    from jax.nn import log_sigmoid
    from jax.scipy.special import log_ndtr

    if link == "logit":
        return log_sigmoid(eta), log_sigmoid(-eta)
    if link == "probit":
        return log_ndtr(eta), log_ndtr(-eta)
    if link == "cloglog":
        e = jnp.exp(jnp.minimum(eta, 700.0))
        return jnp.log(-jnp.expm1(-e)), -e
    if link == "cauchit":
        mu = jnp.clip(0.5 + jnp.arctan(eta) / math.pi, 1e-300, 1.0 - 1e-16)
        return jnp.log(mu), jnp.log1p(-mu)
    if link == "log":
        ok = eta < 0
        safe = jnp.where(ok, eta, -1.0)
        return jnp.where(ok, safe, -jnp.inf), jnp.where(ok, jnp.log(-jnp.expm1(safe)), -jnp.inf)
    raise NotSupportedError(f"the binomial family has no link {link!r} in Bayesian fits")


def inverse_link(link: str, eta: Any) -> Any:
    """μ = g⁻¹(η) for the links of the count and positive families (NaN outside the range)."""
    import jax.numpy as jnp

    if link == "log":
        return jnp.exp(eta)
    if link == "identity":
        return jnp.where(eta > 0, eta, jnp.nan)
    if link == "sqrt":
        return jnp.where(eta > 0, eta**2, jnp.nan)
    if link == "inverse":
        return jnp.where(eta > 0, 1.0 / eta, jnp.nan)
    if link == "1/mu^2":
        return jnp.where(eta > 0, 1.0 / jnp.sqrt(jnp.abs(eta)), jnp.nan)
    raise NotSupportedError(f"link {link!r} is not available in Bayesian fits")


def _finite_or_minus_inf(ll: Any) -> Any:
    import jax.numpy as jnp

    return jnp.where(jnp.isnan(ll), -jnp.inf, ll)


def gaussian(eta: Any, y: Any, weights: Any, sigma: Any) -> Any:
    """log N(y | η, σ²/w) per observation (w: precision weights)."""
    import jax.numpy as jnp

    r = y - eta
    return 0.5 * (jnp.log(weights) - _LOG_2PI) - jnp.log(sigma) - 0.5 * weights * (r / sigma) ** 2


def binomial(eta: Any, k: Any, trials: Any, link: str) -> Any:
    """log Binomial(k | trials, μ) per observation."""
    from jax.scipy.special import gammaln

    log_mu, log1m_mu = _log_mu_binomial(link, eta)
    comb = gammaln(trials + 1.0) - gammaln(k + 1.0) - gammaln(trials - k + 1.0)
    return comb + k * log_mu + (trials - k) * log1m_mu


def poisson(eta: Any, y: Any, link: str) -> Any:
    """log Poisson(y | μ) per observation."""
    import jax.numpy as jnp
    from jax.scipy.special import gammaln

    if link == "log":
        return y * eta - jnp.exp(eta) - gammaln(y + 1.0)
    mu = inverse_link(link, eta)
    return _finite_or_minus_inf(y * jnp.log(mu) - mu - gammaln(y + 1.0))


def negative_binomial(eta: Any, y: Any, theta: Any, link: str) -> Any:
    """log NB(y | μ, θ) per observation, Var = μ + μ²/θ."""
    import jax.numpy as jnp
    from jax.scipy.special import gammaln

    mu = inverse_link(link, eta)
    ll = (
        gammaln(theta + y) - gammaln(theta) - gammaln(y + 1.0)
        + theta * (jnp.log(theta) - jnp.log(theta + mu))
        + y * (jnp.log(mu) - jnp.log(theta + mu))
    )
    return _finite_or_minus_inf(ll)


def gamma(eta: Any, y: Any, shape: Any, link: str) -> Any:
    """log Gamma(y | mean μ, shape ν) per observation, Var = μ²/ν."""
    import jax.numpy as jnp
    from jax.scipy.special import gammaln

    mu = inverse_link(link, eta)
    rate = shape / mu
    ll = shape * jnp.log(rate) + (shape - 1.0) * jnp.log(y) - rate * y - gammaln(shape)
    return _finite_or_minus_inf(ll)


def inverse_gaussian(eta: Any, y: Any, shape: Any, link: str) -> Any:
    """log IG(y | mean μ, shape λ) per observation, Var = μ³/λ."""
    import jax.numpy as jnp

    mu = inverse_link(link, eta)
    ll = 0.5 * (jnp.log(shape) - _LOG_2PI - 3.0 * jnp.log(y)) - shape * (y - mu) ** 2 / (
        2.0 * mu**2 * y
    )
    return _finite_or_minus_inf(ll)


__all__ = [
    "binomial",
    "gamma",
    "gaussian",
    "inverse_gaussian",
    "inverse_link",
    "negative_binomial",
    "poisson",
]
