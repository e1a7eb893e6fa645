"""A Bayesian result as an ``arviz.InferenceData`` (arviz is optional)."""

from __future__ import annotations

from typing import Any

import numpy as np

from multilevel.bayes.resolve import dispersion_name
from multilevel.errors import NotSupportedError


def to_inference_data(result: Any, posterior_predictive: bool = False) -> Any:
    """The draws of ``result`` in ArviZ's InferenceData.

    Parameters
    ----------
    result
        A :class:`~multilevel.bayes.result.BayesResult`.
    posterior_predictive
        Add posterior predictive draws of the response (``y``).

    Raises
    ------
    NotSupportedError
        If arviz is not installed.
    """
    try:
        import arviz as az
    except ImportError as exc:
        raise NotSupportedError(
            "to_arviz() needs arviz: pip install arviz"
        ) from exc
    d = result.posterior
    design = result.design
    posterior: dict[str, Any] = {"b": d.beta}
    coords: dict[str, Any] = {"coef": list(design.xnames)}
    dims: dict[str, list[str]] = {"b": ["coef"]}
    for t, sd, cor, b in zip(design.terms, d.sd, d.cor, d.b, strict=True):
        eff, lev = f"{t.label}_effect", f"{t.label}_level"
        coords[eff] = list(t.cnames)
        coords[lev] = list(t.grouping.levels)
        posterior[f"sd_{t.label}"] = sd
        dims[f"sd_{t.label}"] = [eff]
        if t.q > 1:
            posterior[f"cor_{t.label}"] = cor
            dims[f"cor_{t.label}"] = [eff, f"{eff}_"]
            coords[f"{eff}_"] = list(t.cnames)
        posterior[f"r_{t.label}"] = b
        dims[f"r_{t.label}"] = [lev, eff]
    if d.sigma is not None:
        posterior["sigma"] = d.sigma
    name = dispersion_name(result._family_name)
    if d.dispersion is not None and name is not None:
        posterior[name] = d.dispersion
    stats = result.sampler
    sample_stats = {
        "diverging": stats.diverging,
        "n_steps": stats.num_steps,
        "acceptance_rate": stats.accept_prob,
    }
    obs = {"y": np.asarray(result.response.y)}
    coords["obs"] = np.arange(result.nobs)
    dims["y"] = ["obs"]
    kwargs: dict[str, Any] = {}
    if posterior_predictive:
        chains, ndraws = d.shape
        yrep = result.posterior_predict()
        kwargs["posterior_predictive"] = {"y": yrep.reshape(chains, ndraws, -1)}
    return az.from_dict(
        posterior=posterior, sample_stats=sample_stats, observed_data=obs, coords=coords,
        dims=dims, **kwargs,
    )


__all__ = ["to_inference_data"]
