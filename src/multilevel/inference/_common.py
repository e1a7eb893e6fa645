"""Shared helpers of the inference modules: result-type dispatch, caching, the response.

Result classes are imported lazily: :mod:`multilevel.result` imports the inference mixin, so a
module-level import here would be circular.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from multilevel.errors import NotSupportedError

if TYPE_CHECKING:
    from multilevel.result import LMMResult

FloatArray = NDArray[np.float64]
T = TypeVar("T")

_CACHE = "_inference_cache"


def result_kind(result: Any) -> str:
    """"lmm" or "glmm" for a fitted result; TypeError for anything else."""
    from multilevel.result import LMMResult

    if isinstance(result, LMMResult):
        return "lmm"
    from multilevel.glmm.result import GLMMResult

    if isinstance(result, GLMMResult):
        return "glmm"
    raise TypeError(f"expected a fitted mixed model, got {type(result).__name__}")


def require_lmm(result: Any, feature: str) -> LMMResult:
    """The result itself if it is a linear mixed model; NotSupportedError for GLMMs."""
    kind = result_kind(result)
    if kind != "lmm":
        raise NotSupportedError(
            f"{feature} is not available for generalized linear mixed models yet; it is "
            "implemented for linear mixed models (family='gaussian')"
        )
    return result


def cached(result: Any, key: str, factory: Callable[[], T]) -> T:
    """A per-result cache (results are frozen; the cache lives in their ``__dict__``)."""
    store = result.__dict__.setdefault(_CACHE, {})
    if key not in store:
        store[key] = factory()
    return store[key]


def response_vector(result: Any) -> FloatArray:
    """The response with any offset subtracted (what the PLS system was built from)."""
    d = result.design
    y = np.asarray(d.y, dtype=float)
    return y if d.offset is None else y - d.offset


def has_scale(result: Any) -> bool:
    """True when the model has a residual scale σ among its parameters: linear mixed models,
    and GLMMs of the Gamma and inverse Gaussian families (lme4's ``useSc``)."""
    if result_kind(result) == "lmm":
        return True
    return bool(result.family.has_dispersion)


def variance_parameter_names(result: Any) -> list[str]:
    """lme4's names of the variance parameters: ``sd_x|g``, ``cor_x.y|g`` per term, then
    ``sigma`` when the model has a residual scale (not for binomial, Poisson or negative
    binomial GLMMs)."""
    from multilevel.inference.deviance import sdcor_names

    terms = result.design.terms
    names = sdcor_names([t.group for t in terms], [t.cnames for t in terms])
    return names if has_scale(result) else names[:-1]


def variance_parameter_values(result: Any) -> FloatArray:
    """The standard deviations and correlations of each term (on VarCorr's scale: times σ for
    models with a residual scale), then σ if the model has one."""
    from multilevel.inference.deviance import theta_to_sdcor

    values = theta_to_sdcor(result.layout, result.theta, float(result.sigma))
    return values if has_scale(result) else values[:-1]
