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

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.lmm.system import PLSSystem

FloatArray = NDArray[np.float64]

#: Above this many flops of the [X y] downdate (levels × q × (p + 1)²), BLAS wins.
MAX_WORK = 4_000_000


@lru_cache(maxsize=1)
def _kernel() -> Callable[..., Any] | None:
    try:
        import numba
    except ImportError:  # pragma: no cover
        return None

    @numba.njit(cache=True, nogil=True)
    def single_term(a11, theta, rows, cols, xyz0, xyxy, nobs, reml, log_weights):
        n1, q = a11.shape[0], a11.shape[1]
        lam = np.zeros((q, q))
        for k in range(theta.shape[0]):
            lam[rows[k], cols[k]] = theta[k]
        m = xyxy.shape[0]
        p = m - 1
        xx = xyxy.copy()
        mm = np.empty((q, q))
        low = np.zeros((q, q))
        b = np.empty((m, q))
        lx = np.empty((m, q))
        ld = 0.0
        for g in range(n1):
            for i in range(q):
                for j in range(q):
                    acc = 0.0
                    for k in range(q):
                        lk = lam[k, i]
                        if lk != 0.0:
                            for l in range(q):
                                acc += lk * a11[g, k, l] * lam[l, j]
                    mm[i, j] = acc + (1.0 if i == j else 0.0)
            for j in range(q):
                s = mm[j, j]
                for k in range(j):
                    s -= low[j, k] * low[j, k]
                if not s > 0.0:
                    return np.inf
                d = math.sqrt(s)
                low[j, j] = d
                ld += 2.0 * math.log(d)
                for i in range(j + 1, q):
                    s = mm[i, j]
                    for k in range(j):
                        s -= low[i, k] * low[j, k]
                    low[i, j] = s / d
            # rows of [X y] for this level: (xyz0_g Λ) L_g⁻ᵀ
            for r in range(m):
                for j in range(q):
                    acc = 0.0
                    for k in range(q):
                        acc += xyz0[r, g * q + k] * lam[k, j]
                    b[r, j] = acc
                for j in range(q):
                    s = b[r, j]
                    for k in range(j):
                        s -= lx[r, k] * low[j, k]
                    lx[r, j] = s / low[j, j]
            for r in range(m):
                for c in range(r + 1):
                    acc = 0.0
                    for j in range(q):
                        acc += lx[r, j] * lx[c, j]
                    xx[r, c] -= acc
        # Cholesky of the [X y] block (lower triangle).
        lxx = np.zeros((m, m))
        ldx = 0.0
        r2 = 0.0
        for j in range(m):
            s = xx[j, j]
            for k in range(j):
                s -= lxx[j, k] * lxx[j, k]
            if j == p:
                r2 = max(s, 0.0)
                break
            if not s > 0.0:
                return np.inf
            d = math.sqrt(s)
            lxx[j, j] = d
            ldx += 2.0 * math.log(d)
            for i in range(j + 1, m):
                s = xx[i, j]
                for k in range(j):
                    s -= lxx[i, k] * lxx[j, k]
                lxx[i, j] = s / d
        if r2 <= 0.0:
            return -np.inf
        ld -= log_weights
        if reml:
            nmp = nobs - p
            return ld + ldx + nmp * (1.0 + math.log(2.0 * math.pi * r2 / nmp))
        return ld + nobs * (1.0 + math.log(2.0 * math.pi * r2 / nobs))

    return single_term


def single_term_objective(
    system: PLSSystem, reml: bool
) -> Callable[[FloatArray], float] | None:
    """A compiled objective of θ for a small one-term model (None when it does not apply)."""
    if len(system.terms) != 1:
        return None
    term = system.terms[0]
    m = system.xyxy.shape[0]
    if term.nlevels * term.q * m * m > MAX_WORK:
        return None
    kernel = _kernel()
    if kernel is None:  # pragma: no cover
        return None
    layout = system.layout
    a11 = np.ascontiguousarray(system.a11)
    xyz0 = np.ascontiguousarray(system.xyz[0])
    xyxy = np.ascontiguousarray(system.xyxy)
    nobs = float(system.nobs)
    logw = float(system.log_weights)
    q = term.q
    cols, rows = np.triu_indices(q)  # lower triangle, column by column

    rows = np.ascontiguousarray(rows, dtype=np.intp)
    cols = np.ascontiguousarray(cols, dtype=np.intp)

    def fun(theta: FloatArray) -> float:
        th = np.asarray(theta, dtype=np.float64)
        return float(kernel(a11, th, rows, cols, xyz0, xyxy, nobs, reml, logw))

    # θ fills Λ's lower triangle column by column (lme4's order): check the layout agrees.
    probe = np.arange(1.0, layout.length + 1.0)
    want = layout.factors(probe)[0]
    got = np.zeros((q, q))
    got[rows, cols] = probe
    if not np.array_equal(want, got):
        return None
    return fun


__all__ = ["MAX_WORK", "single_term_objective"]
