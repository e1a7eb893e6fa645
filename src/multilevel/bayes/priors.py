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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.errors import ModelError

FloatArray = NDArray[np.float64]

PRIOR_CLASSES = ("Intercept", "b", "sd", "cor", "sigma", "dispersion")
_LOCATION_SCALE = ("normal", "student_t", "cauchy")
_POSITIVE_ONLY = ("exponential", "gamma", "inv_gamma")
_PARAMS = {
    "normal": ("loc", "scale"),
    "student_t": ("df", "loc", "scale"),
    "cauchy": ("loc", "scale"),
    "exponential": ("rate",),
    "gamma": ("shape", "rate"),
    "inv_gamma": ("shape", "scale"),
    "lkj": ("eta",),
}


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


@dataclass(frozen=True)
class PriorContext:
    """What the defaults and the autoscaling read off the data.

    Attributes
    ----------
    family
        Family name ("gaussian", "binomial", ...).
    m, s
        Location and scale of the response (mean and SD of y - offset for Gaussian models,
        the mean taken as 0 without an intercept; 0 and 1 otherwise).
    intercept
        True when the model has an intercept.
    slopes
        Names of the other fixed effects.
    slope_scales
        sd(x) of each (root mean square without an intercept).
    terms
        Per random-effects term: its label, its column names and sd(z) of each column.
    """

    family: str
    m: float
    s: float
    intercept: bool
    slopes: tuple[str, ...]
    slope_scales: FloatArray
    terms: tuple[tuple[str, tuple[str, ...], FloatArray], ...]


@dataclass(frozen=True)
class ResolvedPriors:
    """Priors of every parameter on the sampler's standardized scale, plus a readable table.

    Attributes
    ----------
    intercept
        Prior of the standardized intercept, or None.
    b
        Prior of each standardized slope.
    sd
        Per term, the prior of each standardized SD.
    cor
        Per term, the LKJ η.
    sigma, dispersion
        Priors of the residual SD (Gaussian) and of the family's extra parameter, or None.
    table
        class, group, coef, prior: each prior in the data's units.
    """

    intercept: Prior | None
    b: tuple[Prior, ...]
    sd: tuple[tuple[Prior, ...], ...]
    cor: tuple[float, ...]
    sigma: Prior | None
    dispersion: Prior | None
    table: pd.DataFrame


_DISPERSION = {
    "negative.binomial": ("theta", inv_gamma(0.4, 0.3)),
    "Gamma": ("shape", gamma(0.01, 0.01)),
    "inverse.gaussian": ("shape", gamma(0.01, 0.01)),
}


def dispersion_name(family: str) -> str | None:
    """Name of the family's extra parameter ("theta" or "shape"), None when it has none."""
    entry = _DISPERSION.get(family)
    return None if entry is None else entry[0]


def _as_prior(value: Any, cls: str) -> Prior:
    if cls == "cor" and isinstance(value, int | float) and not isinstance(value, bool):
        return lkj(value)
    if not isinstance(value, Prior):
        raise ModelError(
            f"the prior for {cls!r} must be made with multilevel.bayes.priors (normal, "
            f"student_t, cauchy, exponential, gamma, inv_gamma, lkj), not {type(value).__name__}"
        )
    if cls == "cor":
        if value.family != "lkj":
            raise ModelError(f"correlations take an lkj(eta) prior, not {value}")
    elif value.family == "lkj":
        raise ModelError(f"lkj() is a prior for correlations ('cor'), not for {cls!r}")
    elif cls in ("Intercept", "b") and not value.location_scale:
        raise ModelError(
            f"{cls!r} takes a normal, student_t or cauchy prior (it can be negative), not {value}"
        )
    return value


def _per_name(value: Any, cls: str, names: Sequence[str], what: str) -> dict[str, Prior]:
    """A class's user prior as {name: prior} for the names it sets."""
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ModelError(
                f"priors[{cls!r}] names {what} the model does not have: {unknown}; "
                f"its {what} are {list(names)}"
            )
        return {k: _as_prior(v, cls) for k, v in value.items()}
    prior = _as_prior(value, cls)
    return dict.fromkeys(names, prior)


def _check_classes(priors: Mapping[str, Any], ctx: PriorContext) -> None:
    unknown = [k for k in priors if k not in PRIOR_CLASSES]
    if unknown:
        raise ModelError(
            f"unknown prior classes {unknown}; the classes are {', '.join(PRIOR_CLASSES)}"
        )
    absent = {
        "Intercept": not ctx.intercept,
        "b": not ctx.slopes,
        "sigma": ctx.family != "gaussian",
        "dispersion": ctx.family not in _DISPERSION,
        "cor": all(len(names) < 2 for _, names, _ in ctx.terms),
    }
    for cls, missing in absent.items():
        if cls in priors and missing:
            raise ModelError(f"priors[{cls!r}] was given, but this model has no such parameter")


def resolve_priors(priors: Mapping[str, Any] | None, ctx: PriorContext) -> ResolvedPriors:
    """Every parameter's prior: the defaults, overridden by ``priors``, standardized.

    Parameters
    ----------
    priors
        The caller's ``priors=`` (class → prior, or class → {name: prior}).
    ctx
        The data's scales and the model's parameters.

    Returns
    -------
    ResolvedPriors
    """
    user = dict(priors or {})
    _check_classes(user, ctx)
    rows: list[dict[str, str]] = []
    m, s = ctx.m, ctx.s

    def note(cls: str, group: str, coef: str, prior: Prior, given: bool) -> None:
        source = "user" if given else "default"
        rows.append({"class": cls, "group": group, "coef": coef, "prior": str(prior),
                     "source": source})

    intercept = None
    if ctx.intercept:
        given = "Intercept" in user
        prior = _as_prior(user["Intercept"], "Intercept") if given else normal(m, 2.5 * s)
        prior = prior.rescaled(s)
        note("Intercept", "", "(Intercept)", prior, given)
        intercept = prior.standardized(m, s)
    b_user = _per_name(user["b"], "b", ctx.slopes, "coefficients") if "b" in user else {}
    b = []
    for name, d in zip(ctx.slopes, ctx.slope_scales, strict=True):
        prior = b_user.get(name, normal(0.0, 2.5, autoscale=True)).rescaled(s / d)
        note("b", "", name, prior, name in b_user)
        b.append(prior.standardized(0.0, s / d))
    labels = [label for label, _, _ in ctx.terms]
    sd_user = _per_name(user["sd"], "sd", labels, "group labels") if "sd" in user else {}
    cor_user = _per_name(user["cor"], "cor", labels, "group labels") if "cor" in user else {}
    sds, cors = [], []
    sd_scale = 1.0 if ctx.family == "gaussian" else 2.5
    for label, names, dz in ctx.terms:
        per = []
        for name, d in zip(names, dz, strict=True):
            prior = sd_user.get(label, student_t(3.0, 0.0, sd_scale, autoscale=True))
            prior = prior.rescaled(s / d)
            note("sd", label, name, prior, label in sd_user)
            per.append(prior.standardized(0.0, s / d))
        sds.append(tuple(per))
        eta = cor_user[label].params[0] if label in cor_user else 1.0
        if len(names) > 1:
            note("cor", label, "", lkj(eta), label in cor_user)
        cors.append(eta)
    sigma = None
    if ctx.family == "gaussian":
        given = "sigma" in user
        prior = _as_prior(user["sigma"], "sigma") if given else exponential(1.0 / s)
        prior = prior.rescaled(s)
        note("sigma", "", "sigma", prior, given)
        sigma = prior.standardized(0.0, s)
    dispersion = None
    if ctx.family in _DISPERSION:
        name, default = _DISPERSION[ctx.family]
        given = "dispersion" in user
        dispersion = _as_prior(user["dispersion"], "dispersion") if given else default
        dispersion = dispersion.rescaled(1.0)
        note("dispersion", "", name, dispersion, given)
    table = pd.DataFrame(rows, columns=["class", "group", "coef", "prior", "source"])
    return ResolvedPriors(intercept, tuple(b), tuple(sds), tuple(cors), sigma, dispersion, table)


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
    "PriorContext",
    "ResolvedPriors",
    "cauchy",
    "exponential",
    "gamma",
    "inv_gamma",
    "lkj",
    "normal",
    "resolve_priors",
    "student_t",
]
