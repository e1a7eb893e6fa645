"""Responses drawn from a fitted linear mixed model (lme4's ``simulate``).

y* = Xβ̂ + offset + Σ_terms Z b + ε with ε ~ N(0, σ̂²/w). Random-effects terms kept by
``re_form`` use their conditional modes b̂; the others get new draws b ~ N(0, σ̂² Λ Λᵀ). The
default ``re_form="~0"`` draws every random effect anew (lme4's ``re.form = NA``);
``re_form=None`` conditions on all of them (lme4's ``re.form = NULL``). GLMMs draw from their
family given the simulated means (:mod:`~multilevel.inference.glmm_simulate`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.errors import ModelError
from multilevel.inference._common import result_kind
from multilevel.inference.newdata import keep_terms

FloatArray = NDArray[np.float64]


def simulate_responses(result: Any, nsim: int, rng: np.random.Generator,
                       re_form: Any = "~0") -> FloatArray:
    """An (nsim, n) array of responses simulated from the fit (on the fit's scale: proportions
    of successes for a binomial GLMM)."""
    if result_kind(result) == "glmm":
        from multilevel.inference.glmm_simulate import simulate_glmm_responses

        return simulate_glmm_responses(result, nsim, rng, re_form)
    if nsim < 1:
        raise ModelError(f"nsim must be at least 1, got {nsim}")
    d = result.design
    n = d.nobs
    mean = d.X @ result.estimates.beta
    if d.offset is not None:
        mean = mean + d.offset
    kept = set(keep_terms(result, re_form))
    sims = np.broadcast_to(mean, (nsim, n)).copy()
    sigma = float(result.sigma)
    for k, (t, lam, b) in enumerate(
        zip(d.terms, result.lambdas, result.estimates.b, strict=True)
    ):
        if k in kept:
            sims += np.einsum("ij,ij->i", t.z, b[t.grouping.codes])[None, :]
            continue
        u = rng.standard_normal((nsim, t.nlevels, t.q))
        bs = sigma * np.einsum("sni,ji->snj", u, lam)
        sims += np.einsum("ij,sij->si", t.z, bs[:, t.grouping.codes, :])
    noise = rng.standard_normal((nsim, n)) * sigma
    if d.weights is not None:
        noise = noise / np.sqrt(d.weights)[None, :]
    return np.asarray(sims + noise)


def simulate(result: Any, nsim: int = 1, seed: Any = None, re_form: Any = "~0"
             ) -> pd.DataFrame:
    """Simulate responses from a fitted model.

    Parameters
    ----------
    result
        A fitted linear or generalized linear mixed model.
    nsim
        Number of simulated response vectors.
    seed
        Seed (or :class:`numpy.random.Generator`) for ``numpy.random.default_rng``.
    re_form
        Random-effects terms to condition on: "~0" (default) draws all random effects anew,
        None conditions on all of them, a formula such as ``"~(1|g)"`` on those terms.

    Returns
    -------
    DataFrame
        One column per simulation (``sim_1``, ...), one row per observation used in the fit.
        A binomial GLMM's responses are proportions of successes (multiply by the trials,
        ``result.problem.prior_weights``, for counts); other GLMMs draw counts (Poisson,
        negative binomial) or positive values (Gamma, inverse Gaussian, with dispersion σ̂²).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> m.simulate(2, seed=1).shape
    (180, 2)
    """
    result_kind(result)
    rng = np.random.default_rng(seed)
    sims = simulate_responses(result, nsim, rng, re_form)
    return pd.DataFrame(
        sims.T, index=result.design.frame.rows, columns=[f"sim_{i + 1}" for i in range(nsim)]
    )
