"""GLM families and links: what PIRLS and the likelihood need of each.

Families: binomial (logit, probit, cloglog, log, cauchit), poisson (log, identity, sqrt),
Gamma (inverse, log, identity), inverse Gaussian (1/mu^2, inverse, log, identity) and negative
binomial (log) with dispersion θ (``Var = μ + μ²/θ``), as R's families and lme4's ``glmer``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import special

from multilevel.errors import ModelError
from multilevel.lazy import stats

FloatArray = NDArray[np.float64]
_EPS = np.finfo(float).eps
_THRESH = 30.0
_MTHRESH = -30.0


@dataclass(frozen=True)
class Link:
    """A link function g with its inverse and dμ/dη."""

    name: str
    linkfun: Callable[[FloatArray], FloatArray]
    linkinv: Callable[[FloatArray], FloatArray]
    mu_eta: Callable[[FloatArray], FloatArray]


def _logit_inv(eta: FloatArray) -> FloatArray:
    return np.asarray(special.expit(eta), dtype=float)


def _logit_mu_eta(eta: FloatArray) -> FloatArray:
    p = special.expit(eta)
    return np.maximum(p * (1.0 - p), _EPS)


def _probit_mu_eta(eta: FloatArray) -> FloatArray:
    return np.maximum(stats.norm.pdf(eta), _EPS)


def _cloglog_inv(eta: FloatArray) -> FloatArray:
    return np.clip(-np.expm1(-np.exp(eta)), _EPS, 1 - _EPS)


def _cloglog_mu_eta(eta: FloatArray) -> FloatArray:
    eta = np.minimum(eta, 700.0)
    return np.maximum(np.exp(eta) * np.exp(-np.exp(eta)), _EPS)


LINKS: dict[str, Link] = {
    "logit": Link("logit", lambda mu: special.logit(mu), _logit_inv, _logit_mu_eta),
    "probit": Link(
        "probit",
        lambda mu: stats.norm.ppf(mu),
        lambda eta: np.clip(stats.norm.cdf(eta), _EPS, 1 - _EPS),
        _probit_mu_eta,
    ),
    "cloglog": Link(
        "cloglog", lambda mu: np.log(-np.log1p(-mu)), _cloglog_inv, _cloglog_mu_eta
    ),
    "cauchit": Link(
        "cauchit",
        lambda mu: stats.cauchy.ppf(mu),
        lambda eta: np.clip(stats.cauchy.cdf(eta), _EPS, 1 - _EPS),
        lambda eta: np.maximum(stats.cauchy.pdf(eta), _EPS),
    ),
    "log": Link(
        "log",
        np.log,
        lambda eta: np.maximum(np.exp(eta), _EPS),
        lambda eta: np.maximum(np.exp(eta), _EPS),
    ),
    "identity": Link("identity", lambda mu: mu, lambda eta: eta, np.ones_like),
    "sqrt": Link("sqrt", np.sqrt, lambda eta: eta**2, lambda eta: 2.0 * eta),
    "inverse": Link(
        "inverse", lambda mu: 1.0 / mu, lambda eta: 1.0 / eta, lambda eta: -1.0 / eta**2
    ),
    "1/mu^2": Link(
        "1/mu^2",
        lambda mu: 1.0 / mu**2,
        lambda eta: 1.0 / np.sqrt(eta),
        lambda eta: -1.0 / (2.0 * eta**1.5),
    ),
}


def _ylogy(y: FloatArray, mu: FloatArray) -> FloatArray:
    """y log(y/μ) with 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(special.xlogy(y, np.where(y > 0, y / mu, 1.0)), dtype=float)


@dataclass(frozen=True)
class Family:
    """A GLM family with a link.

    Attributes
    ----------
    name
        "binomial", "poisson", "Gamma", "inverse.gaussian" or "negative.binomial".
    link
        The link function.
    nb_theta
        Dispersion θ of the negative binomial (None for other families).
    """

    name: str
    link: Link
    nb_theta: float | None = None
    links: tuple[str, ...] = field(default=(), repr=False)

    @property
    def has_dispersion(self) -> bool:
        """True when the family has a free scale (Gamma, inverse Gaussian)."""
        return self.name in ("Gamma", "inverse.gaussian")

    def variance(self, mu: FloatArray) -> FloatArray:
        """Variance function V(μ)."""
        if self.name == "binomial":
            return np.maximum(mu * (1.0 - mu), _EPS)
        if self.name == "poisson":
            return mu
        if self.name == "Gamma":
            return mu**2
        if self.name == "inverse.gaussian":
            return mu**3
        assert self.nb_theta is not None
        return mu + mu**2 / self.nb_theta

    def dev_resids(self, y: FloatArray, mu: FloatArray, wt: FloatArray) -> FloatArray:
        """Unit deviances times prior weights (R's ``family$dev.resids``)."""
        if self.name == "binomial":
            return 2.0 * wt * (_ylogy(y, mu) + _ylogy(1.0 - y, 1.0 - mu))
        if self.name == "poisson":
            return 2.0 * wt * (_ylogy(y, mu) - (y - mu))
        if self.name == "Gamma":
            return -2.0 * wt * (np.log(np.where(y == 0, 1.0, y / mu)) - (y - mu) / mu)
        if self.name == "inverse.gaussian":
            return wt * ((y - mu) ** 2) / (y * mu**2)
        th = self.nb_theta
        assert th is not None
        return 2.0 * wt * (_ylogy(y, mu) - (y + th) * np.log((y + th) / (mu + th)))

    def loglik_terms(
        self, y: FloatArray, mu: FloatArray, wt: FloatArray, dev: float | None = None
    ) -> FloatArray:
        """-2 log p(yᵢ | μᵢ) per observation (the full conditional log-likelihood).

        For binomial, ``y`` is the proportion and ``wt`` the number of trials; the dispersion of
        Gamma and inverse Gaussian families is estimated as ``dev / n`` as R's ``family$aic``.
        """
        if self.name == "binomial":
            k = np.round(wt * y)
            m = np.round(wt)
            with np.errstate(divide="ignore", invalid="ignore"):
                ll = (
                    special.gammaln(m + 1)
                    - special.gammaln(k + 1)
                    - special.gammaln(m - k + 1)
                    + special.xlogy(k, mu)
                    + special.xlog1py(m - k, -mu)
                )
            return -2.0 * np.where(m > 0, ll, 0.0)
        if self.name == "poisson":
            return -2.0 * wt * (special.xlogy(y, mu) - mu - special.gammaln(y + 1))
        if self.name == "negative.binomial":
            th = self.nb_theta
            assert th is not None
            ll = (
                special.gammaln(th + y)
                - special.gammaln(th)
                - special.gammaln(y + 1)
                + th * np.log(th / (th + mu))
                + special.xlogy(y, mu / (th + mu))
            )
            return -2.0 * wt * ll
        n = float(np.sum(wt))
        if dev is None:
            dev = float(np.sum(self.dev_resids(y, mu, wt)))
        disp = dev / n
        if self.name == "Gamma":
            shape = 1.0 / disp
            ll = stats.gamma.logpdf(y, shape, scale=mu * disp)
            return -2.0 * wt * ll
        ll = -0.5 * (np.log(2 * np.pi * disp * y**3) + (y - mu) ** 2 / (disp * y * mu**2))
        return -2.0 * wt * ll

    def valid_mu(self, mu: FloatArray) -> bool:
        """True when μ is inside the family's range."""
        if self.name == "binomial":
            return bool(np.all((mu > 0) & (mu < 1)))
        return bool(np.all(mu > 0))

    def initial_mu(self, y: FloatArray, wt: FloatArray) -> FloatArray:
        """R's ``family$initialize`` starting values of μ."""
        if self.name == "binomial":
            return (wt * y + 0.5) / (wt + 1.0)
        if self.name in ("poisson", "negative.binomial"):
            return y + 0.1
        return np.maximum(y, _EPS) if self.name == "Gamma" else y

    def with_theta(self, theta: float) -> Family:
        """The same negative-binomial family with another dispersion θ."""
        return Family(self.name, self.link, float(theta), self.links)

    def __str__(self) -> str:
        if self.name == "negative.binomial":
            return f"Negative Binomial({self.nb_theta:.4g}) ( {self.link.name} )"
        return f"{self.name} ( {self.link.name} )"


_DEFAULT_LINKS = {
    "binomial": ("logit", ("logit", "probit", "cloglog", "cauchit", "log")),
    "poisson": ("log", ("log", "identity", "sqrt")),
    "Gamma": ("inverse", ("inverse", "log", "identity")),
    "inverse.gaussian": ("1/mu^2", ("1/mu^2", "inverse", "log", "identity")),
    "negative.binomial": ("log", ("log", "identity", "sqrt")),
}

_ALIASES = {
    "binomial": "binomial",
    "bernoulli": "binomial",
    "poisson": "poisson",
    "gamma": "Gamma",
    "inverse.gaussian": "inverse.gaussian",
    "inverse_gaussian": "inverse.gaussian",
    "inversegaussian": "inverse.gaussian",
    "negative.binomial": "negative.binomial",
    "negative_binomial": "negative.binomial",
    "negbin": "negative.binomial",
    "nb": "negative.binomial",
}


def get_family(family: str | Family, link: str | None = None, theta: float | None = None) -> Family:
    """A :class:`Family` from a name such as ``"binomial"`` (or a Family), with its link.

    Parameters
    ----------
    family
        Family name (``binomial``, ``poisson``, ``Gamma``, ``inverse.gaussian``,
        ``negative.binomial``) or a Family object.
    link
        Link name overriding the family's default.
    theta
        Fixed negative-binomial dispersion (estimated when None).
    """
    if isinstance(family, Family):
        if link is None:
            return family
        family = family.name
    key = _ALIASES.get(str(family).lower())
    if key is None:
        raise ModelError(
            f"unknown family {family!r}; use one of binomial, poisson, Gamma, inverse.gaussian, "
            "negative.binomial (or gaussian for a linear mixed model)"
        )
    default, allowed = _DEFAULT_LINKS[key]
    name = default if link is None else link
    if name not in allowed:
        raise ModelError(
            f"link {name!r} is not available for the {key} family; use one of {', '.join(allowed)}"
        )
    nb = None
    if key == "negative.binomial":
        nb = 1.0 if theta is None else float(theta)
    return Family(key, LINKS[name], nb, allowed)
