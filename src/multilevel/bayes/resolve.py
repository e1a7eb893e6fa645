"""Every parameter's prior: the defaults of :mod:`multilevel.bayes.priors`, the caller's
overrides, autoscaling, and the map to the sampler's standardized scale."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.bayes.priors import (
    PRIOR_CLASSES,
    Prior,
    exponential,
    gamma,
    inv_gamma,
    lkj,
    normal,
    student_t,
)
from multilevel.errors import ModelError

FloatArray = NDArray[np.float64]


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


__all__ = ["PriorContext", "ResolvedPriors", "dispersion_name", "resolve_priors"]
