"""The model's log posterior density on the unconstrained scale, for NUTS.

The model is written directly as a log density with NumPyro's distributions and transforms
(rather than as a NumPyro model function) so that it is one compiled JAX function of the free
parameters and of the data: NumPyro would otherwise trace the model op by op to find its sites,
which costs more than the sampling on a small model. The function depends only on the model's
:class:`Structure` (family, link, terms, prior families); data and prior parameters are
arguments, so models of the same structure share one compiled sampler
(:mod:`multilevel.bayes.sample`).

Sites (all on the standardized scale of :mod:`multilevel.bayes.model`):

``Intercept``
    The intercept of the centred predictors (real).
``b_<family>``
    The slopes whose priors share that family (real vector).
``sd_<k>``, ``z_<k>``, ``L_<k>``
    Per random-effects term k: SDs (positive, through exp), standard-normal effects
    (nlevels × q) and, for q > 1, the Cholesky factor of the correlation matrix (through
    NumPyro's ``CorrCholeskyTransform``; LKJ prior). The effects are
    ``b_j = diag(sd) L z_j`` (non-centred).
``sigma``, ``dispersion``
    Residual SD (Gaussian) and the family's extra parameter (positive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from multilevel.bayes import likelihood as lik
from multilevel.bayes.model import Standardized
from multilevel.bayes.priors import group_by_family, log_prob, parameters
from multilevel.bayes.resolve import ResolvedPriors


@dataclass(frozen=True)
class Site:
    """One block of parameters.

    Attributes
    ----------
    name
        Site name.
    shape
        Shape of its value.
    kind
        "real", "positive" or "corr_cholesky".
    """

    name: str
    shape: tuple[int, ...]
    kind: str

    @property
    def free_shape(self) -> tuple[int, ...]:
        """Shape on the unconstrained scale."""
        if self.kind == "corr_cholesky":
            q = self.shape[0]
            return (q * (q - 1) // 2,)
        return self.shape


@dataclass(frozen=True)
class Structure:
    """What the compiled log density depends on besides array shapes (hashable).

    Attributes
    ----------
    family, link
        Family and link names.
    intercept
        Prior family of the intercept, or None without one.
    slopes
        (prior family, positions) of each group of slopes.
    terms
        Per random-effects term: (q, prior family of its SDs).
    sigma, dispersion
        Prior families of the residual SD and of the dispersion, or None.
    weights
        True when the data have weights.
    """

    family: str
    link: str
    intercept: str | None
    slopes: tuple[tuple[str, tuple[int, ...]], ...]
    terms: tuple[tuple[int, str], ...]
    sigma: str | None
    dispersion: str | None
    weights: bool


def structure(std: Standardized, priors: ResolvedPriors) -> Structure:
    """The structure of a model."""
    return Structure(
        family=std.family,
        link=std.link,
        intercept=None if priors.intercept is None else priors.intercept.family,
        slopes=tuple((fam, tuple(idx)) for fam, idx in group_by_family(priors.b)),
        terms=tuple((q, sd[0].family) for q, sd in zip(std.q, priors.sd, strict=True)),
        sigma=None if priors.sigma is None else priors.sigma.family,
        dispersion=None if priors.dispersion is None else priors.dispersion.family,
        weights=std.weights is not None,
    )


def arguments(std: Standardized, priors: ResolvedPriors) -> dict[str, np.ndarray]:
    """The arrays the log density takes: the data and the priors' parameters."""
    out = dict(std.arrays())
    if priors.intercept is not None:
        out["prior_Intercept"] = parameters(priors.intercept)
    for fam, idx in group_by_family(priors.b):
        out[f"prior_b_{fam}"] = parameters([priors.b[i] for i in idx])
    for k, (sd, eta) in enumerate(zip(priors.sd, priors.cor, strict=True)):
        out[f"prior_sd_{k}"] = parameters(list(sd))
        out[f"lkj_{k}"] = np.asarray(eta, dtype=float)
    if priors.sigma is not None:
        out["prior_sigma"] = parameters(priors.sigma)
    if priors.dispersion is not None:
        out["prior_dispersion"] = parameters(priors.dispersion)
    return out


def sites(s: Structure, nlevels: tuple[int, ...]) -> tuple[Site, ...]:
    """The sites of a model of structure ``s`` with these numbers of levels, in order."""
    out = []
    if s.intercept is not None:
        out.append(Site("Intercept", (), "real"))
    for fam, idx in s.slopes:
        out.append(Site(f"b_{fam}", (len(idx),), "real"))
    for k, ((q, _), nlev) in enumerate(zip(s.terms, nlevels, strict=True)):
        out.append(Site(f"sd_{k}", (q,), "positive"))
        out.append(Site(f"z_{k}", (nlev, q), "real"))
        if q > 1:
            out.append(Site(f"L_{k}", (q, q), "corr_cholesky"))
    if s.sigma is not None:
        out.append(Site("sigma", (), "positive"))
    if s.dispersion is not None:
        out.append(Site("dispersion", (), "positive"))
    return tuple(out)


def _constrain(kind: str, u: Any) -> tuple[Any, Any]:
    """(value, log |Jacobian|) of an unconstrained block."""
    import jax.numpy as jnp
    from numpyro.distributions.transforms import CorrCholeskyTransform

    if kind == "real":
        return u, 0.0
    if kind == "positive":
        return jnp.exp(u), jnp.sum(u)
    t = CorrCholeskyTransform()
    x = t(u)
    return x, t.log_abs_det_jacobian(u, x)


def constrain(all_sites: tuple[Site, ...], free: dict[str, Any]) -> dict[str, np.ndarray]:
    """Draws on the unconstrained scale → values (batched over leading axes), in one compiled
    call."""
    import jax

    kinds = {s.name: s.kind for s in all_sites}

    def values(u: dict[str, Any]) -> dict[str, Any]:
        return {name: _constrain(kind, u[name])[0] for name, kind in kinds.items()}

    out = jax.jit(values)({name: free[name] for name in kinds})
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def log_density(s: Structure) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    """The log posterior density (up to a constant) ``logp(free, args)`` of a structure.

    ``free`` maps site names to unconstrained arrays (log-Jacobians of the transforms are
    included); ``args`` is what :func:`arguments` returns.
    """
    import jax.numpy as jnp
    import numpyro.distributions as dist

    nslopes = sum(len(idx) for _, idx in s.slopes)
    extra = {
        "negative.binomial": lik.negative_binomial,
        "Gamma": lik.gamma,
        "inverse.gaussian": lik.inverse_gaussian,
    }
    kinds = [
        (site.name, site.kind) for site in sites(s, tuple(1 for _ in s.terms))
    ]

    def logp(free: dict[str, Any], a: dict[str, Any]) -> Any:
        lp: Any = 0.0
        v: dict[str, Any] = {}
        for name, kind in kinds:
            v[name], ladj = _constrain(kind, free[name])
            lp = lp + ladj
        eta = a["offset"]
        if s.intercept is not None:
            lp = lp + log_prob(s.intercept, a["prior_Intercept"], v["Intercept"])
            eta = eta + v["Intercept"]
        if nslopes:
            beta = jnp.zeros(nslopes)
            for fam, idx in s.slopes:
                lp = lp + jnp.sum(log_prob(fam, a[f"prior_b_{fam}"], v[f"b_{fam}"]))
                beta = beta.at[jnp.asarray(idx)].set(v[f"b_{fam}"])
            eta = eta + a["X"] @ beta
        for k, (q, sd_family) in enumerate(s.terms):
            sd, z = v[f"sd_{k}"], v[f"z_{k}"]
            lp = lp + jnp.sum(log_prob(sd_family, a[f"prior_sd_{k}"], sd)) - 0.5 * jnp.sum(z**2)
            if q == 1:
                b = z * sd
            else:
                chol = v[f"L_{k}"]
                lp = lp + dist.LKJCholesky(q, a[f"lkj_{k}"]).log_prob(chol)
                b = z @ (sd[:, None] * chol).T
            eta = eta + jnp.sum(a[f"z{k}"] * b[a[f"codes{k}"]], axis=1)
        w = a["weights"] if s.weights else None
        if s.family == "gaussian":
            assert s.sigma is not None
            sigma = v["sigma"]
            lp = lp + log_prob(s.sigma, a["prior_sigma"], sigma)
            ll = lik.gaussian(eta, a["y"], jnp.ones_like(eta) if w is None else w, sigma)
        elif s.family == "binomial":
            ll = lik.binomial(eta, a["y"], a["trials"], s.link)
        elif s.family == "poisson":
            ll = lik.poisson(eta, a["y"], s.link)
        else:
            assert s.dispersion is not None
            phi = v["dispersion"]
            lp = lp + log_prob(s.dispersion, a["prior_dispersion"], phi)
            ll = extra[s.family](eta, a["y"], phi, s.link)
        if w is not None and s.family not in ("gaussian", "binomial"):
            ll = ll * w
        return lp + jnp.sum(ll)

    return logp


def initial_values(
    all_sites: tuple[Site, ...], chain: int, seed: int, radius: float = 1.0
) -> dict[str, np.ndarray]:
    """A starting point of one chain: uniform on (-radius, radius) on the unconstrained scale,
    drawn from ``numpy.random.default_rng((seed, chain))`` (so a chain's start does not depend
    on the number of chains)."""
    rng = np.random.default_rng((seed, chain))
    return {s.name: rng.uniform(-radius, radius, size=s.free_shape) for s in all_sites}


__all__ = [
    "Site",
    "Structure",
    "arguments",
    "constrain",
    "initial_values",
    "log_density",
    "sites",
    "structure",
]
