"""Priors of Bayesian fits: weakly informative defaults on the data's scale, and overrides.

Parameter classes (the keys of ``priors=``):

``Intercept``
    The intercept with every predictor at its sample mean (the intercept of the centred
    predictors, as rstanarm and brms put it). Default ``normal(mean(y), 2.5 sd(y))`` for
    Gaussian models (offset subtracted), ``normal(0, 2.5)`` on the link scale otherwise.
``b``
    Each other fixed effect. Default ``normal(0, 2.5 s / sd(x))`` (rstanarm's autoscaled
    normal): ``s = sd(y)`` for Gaussian models, 1 otherwise; ``sd(x)`` is the column's SD (its
    root mean square in a model without an intercept). A dict ``{coefficient: prior}`` sets some
    coefficients and leaves the others at the default.
``sd``
    Each random-effect standard deviation. Default half-Student-t(3) (brms's), autoscaled:
    ``student_t(3, 0, sd(y) / sd(z))`` for Gaussian models (brms uses mad(y)),
    ``student_t(3, 0, 2.5 / sd(z))`` on the link scale otherwise (brms's 2.5); ``sd(z)`` is the
    SD of the term's column, 1 for an intercept. A dict ``{group label: prior}`` (labels as in
    ``varcorr``: ``Subject``, ``Subject.1``) sets some terms.
``cor``
    Correlations of each term with two or more effects: LKJ on their Cholesky factor, default
    ``lkj(1)`` (uniform over correlation matrices). A number is taken as the LKJ η; a dict
    ``{group label: prior}`` sets some terms.
``sigma``
    Residual SD of a Gaussian model. Default ``exponential(1 / sd(y))`` (rstanarm's).
``dispersion``
    The family's extra parameter: negative binomial θ (``Var = μ + μ²/θ``), default
    ``inv_gamma(0.4, 0.3)`` (brms's); Gamma shape (``Var = μ²/shape``) and inverse Gaussian
    shape λ (``Var = μ³/λ``), default ``gamma(0.01, 0.01)`` (brms's).

:func:`multilevel.bayes.resolve.resolve_priors` applies the defaults and the overrides.
Priors are given with :func:`normal`, :func:`student_t`, :func:`cauchy`, :func:`exponential`,
:func:`gamma`, :func:`inv_gamma` and :func:`lkj`, in the data's units; ``autoscale=True``
multiplies a scale (divides a rate) by the class's factor above (``s``, ``s / sd(x)``,
``s / sd(z)``). For the positive classes (``sd``, ``sigma``, ``dispersion``) location-scale
priors are truncated at zero (``student_t(3, 0, 10)`` is a half-t).

>>> from multilevel.bayes.priors import normal, student_t
>>> print(normal(0, 10), student_t(3, 0, 2.5, autoscale=True))
normal(0, 10) student_t(3, 0, 2.5, autoscale)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.errors import ModelError

FloatArray = NDArray[np.float64]

PRIOR_CLASSES = ("Intercept", "b", "sd", "cor", "sigma", "dispersion")
_LOCATION_SCALE = ("normal", "student_t", "cauchy")


@dataclass(frozen=True)
class Prior:
    """A prior distribution of one parameter (or of each of a class of parameters).

    Attributes
    ----------
    family
        "normal", "student_t", "cauchy", "exponential", "gamma", "inv_gamma" or "lkj".
    params
        Its parameters, in the order of the constructor of the same name.
    autoscale
        Scale by the data (see the module docstring).
    """

    family: str
    params: tuple[float, ...]
    autoscale: bool = False

    def __str__(self) -> str:
        text = ", ".join(f"{v:.4g}" for v in self.params)
        return f"{self.family}({text}{', autoscale' if self.autoscale else ''})"

    @property
    def location_scale(self) -> bool:
        """True for normal, Student-t and Cauchy priors."""
        return self.family in _LOCATION_SCALE

    def rescaled(self, factor: float) -> Prior:
        """The prior with ``autoscale`` applied: scales times ``factor`` (rates divided)."""
        if not self.autoscale:
            return self
        if self.location_scale:  # the location stays in the data's units
            p = self.params
            return replace(self, params=(*p[:-1], p[-1] * factor), autoscale=False)
        return replace(self._multiply(factor), autoscale=False)

    def _multiply(self, c: float) -> Prior:
        """The prior of c·x when this is the prior of x (c > 0)."""
        f, p = self.family, self.params
        if f in _LOCATION_SCALE:
            return replace(self, params=(*p[:-2], p[-2] * c, p[-1] * c))
        if f in ("exponential", "gamma"):
            return replace(self, params=(*p[:-1], p[-1] / c))
        if f == "inv_gamma":
            return replace(self, params=(p[0], p[1] * c))
        return self

    def standardized(self, shift: float, c: float) -> Prior:
        """The prior of (x - shift) / c when this is the prior of x (c > 0)."""
        if shift != 0.0:
            if not self.location_scale:
                raise ModelError(f"cannot shift the prior {self}")
            p = self.params
            moved = replace(self, params=(*p[:-2], p[-2] - shift, p[-1]))
            return moved._multiply(1.0 / c)
        return self._multiply(1.0 / c)


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ModelError(f"the prior's {name} must be a positive number, not {value!r}")
    return value


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value):
        raise ModelError(f"the prior's {name} must be a finite number, not {value!r}")
    return value


def normal(loc: float = 0.0, scale: float = 1.0, *, autoscale: bool = False) -> Prior:
    """Normal(loc, scale) prior (half-normal for positive parameters when loc = 0)."""
    return Prior("normal", (_finite("loc", loc), _positive("scale", scale)), autoscale)


def student_t(
    df: float = 3.0, loc: float = 0.0, scale: float = 1.0, *, autoscale: bool = False
) -> Prior:
    """Student-t(df, loc, scale) prior (half-t for positive parameters when loc = 0)."""
    params = (_positive("df", df), _finite("loc", loc), _positive("scale", scale))
    return Prior("student_t", params, autoscale)


def cauchy(loc: float = 0.0, scale: float = 1.0, *, autoscale: bool = False) -> Prior:
    """Cauchy(loc, scale) prior (half-Cauchy for positive parameters when loc = 0)."""
    return Prior("cauchy", (_finite("loc", loc), _positive("scale", scale)), autoscale)


def exponential(rate: float = 1.0, *, autoscale: bool = False) -> Prior:
    """Exponential prior with the given rate (mean 1 / rate), for positive parameters."""
    return Prior("exponential", (_positive("rate", rate),), autoscale)


def gamma(shape: float, rate: float, *, autoscale: bool = False) -> Prior:
    """Gamma(shape, rate) prior (mean shape / rate), for positive parameters."""
    return Prior("gamma", (_positive("shape", shape), _positive("rate", rate)), autoscale)


def inv_gamma(shape: float, scale: float, *, autoscale: bool = False) -> Prior:
    """Inverse-gamma(shape, scale) prior, for positive parameters."""
    return Prior("inv_gamma", (_positive("shape", shape), _positive("scale", scale)), autoscale)


def lkj(eta: float = 1.0) -> Prior:
    """LKJ(η) prior on a correlation matrix (η = 1: uniform; larger: towards independence)."""
    return Prior("lkj", (_positive("eta", eta),))


def parameters(priors: Prior | Sequence[Prior]) -> FloatArray:
    """Prior parameters as an array: (nparams,) for one prior, (nparams, k) for k priors of one
    family (so that a compiled model takes them as data)."""
    if isinstance(priors, Prior):
        return np.asarray(priors.params, dtype=float)
    family = priors[0].family
    if any(p.family != family for p in priors):
        raise ModelError("priors of one site must share a family")
    return np.asarray([p.params for p in priors], dtype=float).T


def log_prob(family: str, params: Any, x: Any) -> Any:
    """Elementwise log density of ``x`` under a prior of ``family`` with ``params`` (rows as
    :func:`parameters` lays them out), with NumPyro's distributions.

    On the positive classes (SDs, residual SD, dispersion) a location-scale prior is truncated
    at zero; truncation only adds a constant to the log density (the prior's parameters are
    fixed), so the untruncated density is used on (0, ∞): the same posterior, and a much
    smaller compiled program than a normalized truncated Student-t.
    """
    import numpyro.distributions as dist

    d: Any
    if family == "normal":
        d = dist.Normal(params[0], params[1])
    elif family == "student_t":
        d = dist.StudentT(params[0], params[1], params[2])
    elif family == "cauchy":
        d = dist.Cauchy(params[0], params[1])
    elif family == "exponential":
        d = dist.Exponential(params[0])
    elif family == "gamma":
        d = dist.Gamma(params[0], params[1])
    elif family == "inv_gamma":
        d = dist.InverseGamma(params[0], params[1])
    else:
        raise ModelError(f"no distribution for the prior family {family!r}")
    return d.log_prob(x)


def group_by_family(priors: Sequence[Prior]) -> list[tuple[str, list[int]]]:
    """Positions of the priors of each family, in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for k, p in enumerate(priors):
        groups.setdefault(p.family, []).append(k)
    return list(groups.items())


__all__ = [
    "PRIOR_CLASSES",
    "Prior",
    "cauchy",
    "exponential",
    "gamma",
    "group_by_family",
    "inv_gamma",
    "lkj",
    "log_prob",
    "normal",
    "parameters",
    "student_t",
]
