"""``fit_bayes``: formula → the likelihood fits' design → NumPyro model → NUTS → result."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from multilevel.bayes import diagnostics as diag
from multilevel.bayes.model import prior_context, standardize, to_original
from multilevel.bayes.posterior import parameter_draws
from multilevel.bayes.resolve import dispersion_name, resolve_priors
from multilevel.bayes.result import BayesOptions, BayesResult, Response
from multilevel.bayes.sample import require_numpyro, run_nuts
from multilevel.errors import (
    ConvergenceWarning,
    DataWarning,
    MultilevelWarning,
    NotSupportedError,
)
from multilevel.glmm.family import Family, get_family


def _family(family: Any, link: str | None) -> Family | None:
    """None for a Gaussian model, else the Family (as the likelihood fits read it)."""
    if family is None or (isinstance(family, str) and family.lower() == "gaussian"):
        if link not in (None, "identity"):
            raise NotSupportedError(
                f"link={link!r} with a Gaussian family: only the identity link is supported"
            )
        return None
    return get_family(family, link)


def _seed(seed: Any) -> int:
    if seed is None:  # fresh entropy, recorded in the result (no global random state)
        return int(np.random.default_rng().integers(2**31 - 1))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an integer, not {type(seed).__name__}")
    return int(seed)


def fit_bayes(
    formula: str,
    data: Any,
    *,
    family: Any = None,
    link: str | None = None,
    weights: Any = None,
    offset: Any = None,
    contrasts: Mapping[str, str] | None = None,
    na_action: str = "omit",
    draws: int = 1000,
    warmup: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    priors: Mapping[str, Any] | None = None,
    chain_method: str = "sequential",
    target_accept: float = 0.95,
    max_tree_depth: int = 10,
    progress: bool = True,
    enable_x64: bool = False,
) -> BayesResult:
    """Fit a multilevel model by NUTS (NumPyro), with weakly informative priors.

    Called as ``ml.fit(formula, data, method="bayes", ...)``. Every formula and family of the
    likelihood fits works: the same design (X, random-effects terms, weights, offset, binomial
    trials) feeds a non-centred NumPyro model (see :mod:`multilevel.bayes.model`).

    Parameters
    ----------
    formula, data, family, link, weights, offset, contrasts, na_action
        As for :func:`multilevel.fit`. Weights are precisions for Gaussian models, trials (or
        multipliers of them) for binomial, log-likelihood weights otherwise, as in glmer.
        The negative binomial's θ is estimated (it has a prior).
    draws
        Draws kept per chain.
    warmup
        Warmup (adaptation) iterations per chain, discarded.
    chains
        Number of chains.
    seed
        Seed of the sampler (default: fresh entropy; the seed used is in ``result.options``).
    priors
        Overrides per parameter class: ``{"b": normal(0, 10), "sd": student_t(3, 0, 5), ...}``
        with the constructors of :mod:`multilevel.bayes.priors`, which documents the classes
        and the defaults. ``result.prior_summary()`` lists the priors used.
    chain_method
        "sequential" (default), "vectorized" or "parallel" (one device per chain: see
        :mod:`multilevel.bayes.sample` for making several CPU devices).
    target_accept
        Target acceptance probability of the step-size adaptation (rstanarm's 0.95).
    max_tree_depth
        Maximum depth of the NUTS trees.
    progress
        Show a progress bar while sampling.
    enable_x64
        Switch JAX to float64 globally (``numpyro.enable_x64()``). By default the chains run
        in float64 inside JAX's scoped switch and JAX's global configuration is untouched.

    Returns
    -------
    BayesResult

    Raises
    ------
    NotSupportedError
        If NumPyro or JAX is missing (install ``multilevel[bayes]``), or for Dask data.

    Examples
    --------
    Sampling takes some seconds (the first fit of a model structure compiles the sampler), so
    the example is not run as a doctest; ``docs/bayes.md`` runs it in the test suite.

    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"),
    ...            method="bayes", seed=1)  # doctest: +SKIP
    >>> print(m.summary())  # doctest: +SKIP
    """
    require_numpyro()
    if type(data).__module__.startswith("dask"):
        raise NotSupportedError(
            "method='bayes' needs the data in memory: compute the Dask DataFrame first "
            "(data.compute())"
        )
    fam = _family(family, link)
    if not isinstance(formula, str):
        formula = formula.text
    if fam is None:
        from multilevel.fit import _design

        design = _design(formula, data, weights, offset, contrasts, na_action)
        y, trials, w, off = design.y, None, design.weights, design.offset
        std = standardize(design, "gaussian", "identity", y, None, w, off)
    else:
        from multilevel.glmm.fit import _problem

        problem, design = _problem(formula, data, fam, weights, offset, contrasts, na_action)
        y, off = problem.y, problem.offset
        trials = problem.prior_weights if fam.name == "binomial" else None
        w = None if fam.name == "binomial" else design.weights
        std = standardize(design, fam.name, fam.link.name, y, trials, w, off)
    resolved = resolve_priors(priors, prior_context(std, design))
    seed = _seed(seed)
    samples, stats = run_nuts(
        std, resolved, draws=draws, warmup=warmup, chains=chains,
        seed=seed, chain_method=chain_method, target_accept=target_accept,
        max_tree_depth=max_tree_depth, progress=progress, enable_x64=enable_x64,
    )
    posterior = to_original(samples, std, resolved, len(design.xnames))
    family_name = "gaussian" if fam is None else fam.name
    params = parameter_draws(design, posterior, dispersion_name(family_name))
    table = pd.DataFrame(
        {"r_hat": [diag.rhat(x) for x in params.values()],
         "ess_bulk": [diag.ess_bulk(x) for x in params.values()]},
        index=list(params),
    )
    messages: list[tuple[type[MultilevelWarning], str]] = [(DataWarning, n) for n in design.notes]
    messages += [
        (ConvergenceWarning, m)
        for m in diag.sampler_messages(
            stats.diverging, stats.num_steps, max_tree_depth,
            {str(k): float(v) for k, v in table["r_hat"].items()},
            {str(k): float(v) for k, v in table["ess_bulk"].items()},
        )
    ]
    for category, text in messages:
        warnings.warn(text, category, stacklevel=3)
    options = BayesOptions(
        formula=formula, family=fam, priors=priors, draws=draws, warmup=warmup, chains=chains,
        seed=seed, chain_method=chain_method, target_accept=target_accept,
        max_tree_depth=max_tree_depth, weights=weights, offset=offset, contrasts=contrasts,
        na_action=na_action,
    )
    return BayesResult(
        design=design, options=options, data=data,
        response=Response(y=np.asarray(y), trials=trials,
                          weights=design.weights if fam is None else None),
        priors=resolved, posterior=posterior, sampler=stats, diagnostics=table,
        warnings=tuple(text for _, text in messages),
    )


__all__ = ["fit_bayes"]
