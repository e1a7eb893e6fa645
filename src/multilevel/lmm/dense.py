"""The profiled objective of a small multi-term model as one dense Cholesky factorization.

When all random-effects terms together have few columns (crossed or nested designs such as
Penicillin, Pastes or two uncorrelated terms of one factor), the fixed cost of the blocked
update's many small operations exceeds the arithmetic. Here the whole PLS matrix

    [ΛᵀZᵀZΛ + I   ΛᵀZᵀ[X y]]
    [[X y]ᵀZΛ     [X y]ᵀ[X y]]

is formed from the system's constant blocks (once) and Λ(θ) (per evaluation, by index maps),
and factored by one LAPACK call. Its lower Cholesky factor holds log|L_θ|², log|R_X|² and r on
its diagonal, exactly as the blocked factor does, so the criterion is the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.lapack import dpotrf

from multilevel.linalg.blockdiag import blockdiag_sparse
from multilevel.lmm.system import PLSSystem

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Largest number of random effects for which the dense path is used.
MAX_RANDOM = 250


def full_matrix(system: PLSSystem) -> FloatArray:
    """[Z X y]ᵀ[Z X y] (weights applied) as one dense symmetric matrix."""
    terms = system.terms
    sizes = [t.size for t in terms]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    s = int(starts[-1])
    m = system.xyxy.shape[0]
    full = np.zeros((s + m, s + m))
    full[: sizes[0], : sizes[0]] = blockdiag_sparse(system.a11).toarray()
    for j in range(1, len(terms)):
        rj = slice(starts[j], starts[j + 1])
        block = system.zz_csr[j - 1].toarray()
        full[rj, : sizes[0]] = block
        full[: sizes[0], rj] = block.T
        for i in range(1, j + 1):
            ri = slice(starts[i], starts[i + 1])
            full[rj, ri] = system.zz_dense[(j, i)]
            full[ri, rj] = system.zz_dense[(j, i)].T
    for k in range(len(terms)):
        rk = slice(starts[k], starts[k + 1])
        full[s:, rk] = system.xyz[k]
        full[rk, s:] = system.xyz[k].T
    full[s:, s:] = system.xyxy
    return full


def _lambda_map(system: PLSSystem) -> tuple[IntArray, IntArray, IntArray]:
    """Rows, columns and θ positions of the nonzeros of blockdiag(Λ_j ⊗ I) over all terms."""
    rows, cols, which = [], [], []
    probe = np.arange(1.0, system.layout.length + 1.0)
    start = 0
    for t, lam in zip(system.terms, system.layout.factors(probe), strict=True):
        r, c = np.nonzero(lam)
        base = start + np.arange(t.nlevels)[:, None] * t.q
        rows.append((base + r[None, :]).ravel())
        cols.append((base + c[None, :]).ravel())
        which.append(np.tile(lam[r, c].astype(np.intp) - 1, t.nlevels))
        start += t.size
    return (np.concatenate(rows).astype(np.intp), np.concatenate(cols).astype(np.intp),
            np.concatenate(which).astype(np.intp))


def dense_objective(system: PLSSystem, reml: bool) -> Callable[[FloatArray], float] | None:
    """The objective of θ by one dense factorization (None for models too large for it)."""
    s = sum(t.size for t in system.terms)
    if s > MAX_RANDOM or len(system.terms) < 2:
        return None
    full = full_matrix(system)
    m = system.xyxy.shape[0]
    p = m - 1
    n = float(system.nobs)
    logw = float(system.log_weights)
    rows, cols, which = _lambda_map(system)
    scalar = bool(np.all(rows == cols))
    eye = np.arange(s)

    def fun(theta: FloatArray) -> float:
        theta = np.asarray(theta, dtype=float)
        if scalar:
            d = np.ones(s + m)
            d[rows] = theta[which]
            a = full * np.outer(d, d)
        else:
            lam = np.eye(s + m)
            lam[rows, cols] = theta[which]
            a = lam.T @ full @ lam
        a[eye, eye] += 1.0
        # a is symmetric: its transpose is the Fortran-ordered same matrix, factored in place.
        c, info = dpotrf(a.T, lower=0, clean=0, overwrite_a=1)
        diag = np.diagonal(c)
        if info != 0:
            if info != s + m:  # only the response's pivot may vanish (a perfect fit)
                return math.inf
            return -math.inf
        r2 = float(diag[-1]) ** 2
        if r2 <= 0.0:
            return -math.inf
        ld = 2.0 * float(np.log(diag[:s]).sum()) - logw
        if reml:
            nmp = n - p
            ldx = 2.0 * float(np.log(diag[s : s + p]).sum())
            return ld + ldx + nmp * (1.0 + math.log(2.0 * math.pi * r2 / nmp))
        return ld + n * (1.0 + math.log(2.0 * math.pi * r2 / n))

    return fun


__all__ = ["MAX_RANDOM", "dense_objective", "full_matrix"]
