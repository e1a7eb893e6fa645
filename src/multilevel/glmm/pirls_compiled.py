"""PIRLS compiled for the most common GLMM: one scalar random-effects term, β held fixed.

With β given (the Laplace and AGQ objectives) and one term ``(1 | g)`` (or ``(0 + x | g)``), the
penalized least-squares system is diagonal: every level's conditional mode is updated from two
per-level sums. The whole iteration (working weights, the update, step-halving on the penalized
deviance, the convergence test) then runs in one compiled loop over the observations, with the
same rules as :func:`multilevel.glmm.pirls.pirls`, for binomial (logit, probit, cloglog) and
Poisson (log) models. Other families and links use the general path. The kernels are in
:mod:`multilevel.glmm.scalar_kernels`, imported at first use.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.glmm.family import Family

FloatArray = NDArray[np.float64]

#: (family, link) → code understood by the kernel.
CODES = {("binomial", "logit"): 0, ("poisson", "log"): 1, ("binomial", "probit"): 2,
         ("binomial", "cloglog"): 3}


def family_code(family: Family) -> int | None:
    """The kernel's code of a family and link, or None when only the general path has it."""
    if family.nb_theta is not None:
        return None
    return CODES.get((family.name, family.link.name))


@lru_cache(maxsize=1)
def _kernel() -> tuple[Callable[..., Any], ...] | None:
    """The compiled functions: PIRLS, μ and deviance, working weights (None without numba)."""
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover
        return None
    from multilevel.glmm import scalar_kernels as k

    return k.pirls_scalar, k.mu_deviance, k.working


def pirls_scalar(
    y: FloatArray,
    wt: FloatArray,
    eta_fixed: FloatArray,
    zl: FloatArray,
    index: NDArray[np.intp],
    nlev: int,
    u0: FloatArray,
    code: int,
    tol: float,
    utol: float,
    maxiter: int,
) -> tuple[FloatArray, FloatArray, FloatArray, int, bool, FloatArray] | None:
    """Run the compiled PIRLS (None when numba is unavailable).

    Returns
    -------
    tuple or None
        u, η, μ, iterations, converged, and the diagonal of L(θ) per level.
    """
    kernels = _kernel()
    if kernels is None:  # pragma: no cover
        return None
    u, eta, mu, it, conv, ldiag = kernels[0](y, wt, eta_fixed, zl, index, nlev, u0, code, tol,
                                             utol, maxiter)
    return u, eta, mu, int(it), bool(conv), ldiag


def mu_deviance(
    eta: FloatArray, y: FloatArray, wt: FloatArray, code: int
) -> tuple[FloatArray, float] | None:
    """μ and the summed unit deviances at η (NaN deviance when μ is out of range)."""
    kernels = _kernel()
    if kernels is None:  # pragma: no cover
        return None
    mu, dev = kernels[1](eta, y, wt, code)
    return mu, float(dev)


def working(
    eta: FloatArray, mu: FloatArray, y: FloatArray, wt: FloatArray, code: int
) -> tuple[FloatArray, FloatArray] | None:
    """Working weights and (y - μ)/(dμ/dη) at η and μ."""
    kernels = _kernel()
    if kernels is None:  # pragma: no cover
        return None
    w, r = kernels[2](eta, mu, y, wt, code)
    return w, r


__all__ = ["CODES", "family_code", "mu_deviance", "pirls_scalar", "working"]
