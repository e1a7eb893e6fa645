"""The profiled objective of a one-term model in one compiled pass.

For a model with a single random-effects term the blocked factor is a stack of q × q blocks and
the [X y] rows: :func:`multilevel.lmm.objective.objective` computes it with a few dozen NumPy
calls, whose fixed cost (microseconds each) dominates when there are few levels. This kernel
does the same arithmetic (the same factorization, in the same order) in one numba function: per
level, the Cholesky factor of Λᵀ A_g Λ + I, the level's [X y] rows times Λ L_g⁻ᵀ and their
downdate of [X y]ᵀ[X y]; then the Cholesky factor of the [X y] block and the criterion. It is
used by :func:`multilevel.lmm.objective.make_objective` for small one-term models; the result
equals :func:`~multilevel.lmm.objective.objective` to rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.lmm.system import PLSSystem
from multilevel.lmm.theta import tril_indices_colmajor

FloatArray = NDArray[np.float64]

#: Above this many flops of the [X y] downdate (levels × q × (p + 1)²), BLAS wins.
MAX_WORK = 4_000_000


@lru_cache(maxsize=8)
def compiled_kernel(name: str) -> Callable[..., Any] | None:
    """A kernel of :mod:`multilevel.lmm.compiled_kernels` by name, imported on first use (None
    without numba), so that importing the package does not import numba."""
    try:
        from multilevel.lmm import compiled_kernels
    except ImportError:  # pragma: no cover
        return None
    kernel: Callable[..., Any] = getattr(compiled_kernels, name)
    return kernel


def single_term_data(system: PLSSystem) -> tuple[Any, ...] | None:
    """The kernel's arrays (a11, rows, cols, xyz0, xyxy, nobs) for a small one-term model (None
    when it does not apply)."""
    if len(system.terms) != 1:
        return None
    term = system.terms[0]
    m = system.xyxy.shape[0]
    if term.nlevels * term.q * m * m > MAX_WORK:
        return None
    # θ fills Λ's lower triangle column by column (lme4's order), as the layout places it
    rows, cols = tril_indices_colmajor(term.q)
    return (
        np.ascontiguousarray(system.a11),
        rows,
        cols,
        np.ascontiguousarray(system.xyz[0]),
        np.ascontiguousarray(system.xyxy),
        float(system.nobs),
    )


def single_term_objective(
    system: PLSSystem, reml: bool
) -> Callable[[FloatArray], float] | None:
    """A compiled objective of θ for a small one-term model (None when it does not apply)."""
    data = single_term_data(system)
    kernel = compiled_kernel("single_term")
    if data is None or kernel is None:
        return None
    a11, rows, cols, xyz0, xyxy, nobs = data
    logw = float(system.log_weights)

    def fun(theta: FloatArray) -> float:
        th = np.asarray(theta, dtype=np.float64)
        return float(kernel(a11, th, rows, cols, xyz0, xyxy, nobs, reml, logw))

    return fun


__all__ = ["MAX_WORK", "compiled_kernel", "single_term_data", "single_term_objective"]
