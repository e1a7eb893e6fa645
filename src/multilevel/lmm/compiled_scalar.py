"""The profiled objective of a model whose random-effects terms are all scalar, in one pass.

Crossed and nested intercepts (``(1|a) + (1|b)``, ``(1|a/b)``) and uncorrelated terms
(``(1 + x || g)``) have one column per term. Their blocked factor is then (MixedModels.jl's
layout, as :func:`multilevel.lmm.factor.update_factor` computes it):

- L₁₁ diagonal, √(λ₁² (Z₁ᵀZ₁)_gg + 1) per level g of the first term;
- L_21 = Λ₂ A₂₁ Λ₁ L₁₁⁻ᵀ on the fixed pattern of level pairs that occur together;
- L₂₂ the Cholesky factor of Λ₂ A₂₂ Λ₂ + I - L₂₁L₂₁ᵀ over all later terms' levels (small);
- the [X y] rows and the Cholesky factor of their Schur complement.

For a few hundred random effects the arithmetic is microseconds but the NumPy version's
dozens of calls cost a fraction of a millisecond per evaluation; this kernel does the same
factorization in one numba function. The result equals
:func:`~multilevel.lmm.objective.objective` to rounding.
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
IntArray = NDArray[np.intp]

#: Largest number of levels of the later terms together (their block is factored densely here).
MAX_LATER = 100
#: Largest arithmetic per evaluation (first-term levels × (p + 1)², and the downdate's pairs).
MAX_WORK = 4_000_000


@lru_cache(maxsize=1)
def _kernel() -> Callable[..., Any] | None:
    try:
        import numba
    except ImportError:  # pragma: no cover
        return None

    @numba.njit(cache=True, nogil=True)
    def chol_lower(s, upto):
        """In-place lower Cholesky of s[:upto, :upto]; log-det, or NaN if not pos. def."""
        ld = 0.0
        for j in range(upto):
            d = s[j, j]
            for k in range(j):
                d -= s[j, k] * s[j, k]
            if not d > 0.0:
                return np.nan
            d = math.sqrt(d)
            s[j, j] = d
            ld += 2.0 * math.log(d)
            for i in range(j + 1, s.shape[0]):
                acc = s[i, j]
                for k in range(j):
                    acc -= s[i, k] * s[j, k]
                s[i, j] = acc / d
        return ld

    @numba.njit(cache=True, nogil=True)
    def scalar_terms(theta, a11, colptr, prow, pval, a22, later_term, xy1, xy2, xyxy, nobs,
                     reml, log_weights):
        n1 = a11.shape[0]
        m = a22.shape[0]
        r = xyxy.shape[0]
        p = r - 1
        lam1 = theta[0]
        ld = 0.0
        p1 = np.empty(n1)
        for g in range(n1):
            d = math.sqrt(lam1 * lam1 * a11[g] + 1.0)
            ld += 2.0 * math.log(d)
            p1[g] = lam1 / d
        lam2 = np.empty(m)
        for i in range(m):
            lam2[i] = theta[later_term[i]]
        # L21 on the pattern, and the later block's Schur complement (lower triangle).
        v = np.empty(prow.shape[0])
        s = np.zeros((m, m))
        for i in range(m):
            for j in range(i + 1):
                s[i, j] = lam2[i] * a22[i, j] * lam2[j]
            s[i, i] += 1.0
        for g in range(n1):
            for k in range(colptr[g], colptr[g + 1]):
                v[k] = lam2[prow[k]] * pval[k] * p1[g]
            for k1 in range(colptr[g], colptr[g + 1]):
                r1 = prow[k1]
                v1 = v[k1]
                for k2 in range(colptr[g], k1 + 1):
                    s[r1, prow[k2]] -= v1 * v[k2]
        ld2 = chol_lower(s, m)
        if np.isnan(ld2):
            return np.inf
        ld += ld2
        # Rows of [X y]: L_X1 = xy1 P₁, L_X2 = (xy2 Λ₂ - L_X1 L21ᵀ) L₂₂⁻ᵀ.
        lx1 = np.empty((r, n1))
        for a in range(r):
            for g in range(n1):
                lx1[a, g] = xy1[a, g] * p1[g]
        lx2 = np.empty((r, m))
        for a in range(r):
            for i in range(m):
                lx2[a, i] = xy2[a, i] * lam2[i]
        for g in range(n1):
            for k in range(colptr[g], colptr[g + 1]):
                i = prow[k]
                vk = v[k]
                for a in range(r):
                    lx2[a, i] -= lx1[a, g] * vk
        for a in range(r):
            for i in range(m):
                acc = lx2[a, i]
                for k in range(i):
                    acc -= lx2[a, k] * s[i, k]
                lx2[a, i] = acc / s[i, i]
        xx = xyxy.copy()
        for a in range(r):
            for b in range(a + 1):
                acc = 0.0
                for g in range(n1):
                    acc += lx1[a, g] * lx1[b, g]
                for i in range(m):
                    acc += lx2[a, i] * lx2[b, i]
                xx[a, b] -= acc
        # Cholesky of the [X y] block; the response's pivot is r (may be 0 for a perfect fit).
        ldx = chol_lower(xx, p)
        if np.isnan(ldx):
            return np.inf
        r2 = xx[p, p]
        for k in range(p):
            r2 -= xx[p, k] * xx[p, k]
        if not r2 > 0.0:
            return -np.inf
        ld -= log_weights
        if reml:
            nmp = nobs - p
            return ld + ldx + nmp * (1.0 + math.log(2.0 * math.pi * r2 / nmp))
        return ld + nobs * (1.0 + math.log(2.0 * math.pi * r2 / nobs))

    return scalar_terms


def scalar_terms_objective(
    system: PLSSystem, reml: bool
) -> Callable[[FloatArray], float] | None:
    """A compiled objective of θ for a small all-scalar-terms model (None when it does not apply).

    Applies to two or more terms of one column each, whose later terms have at most
    :data:`MAX_LATER` levels together.
    """
    terms = system.terms
    if len(terms) < 2 or any(t.q != 1 for t in terms):
        return None
    later = terms[1:]
    sizes = [t.nlevels for t in later]
    m = int(sum(sizes))
    r = system.xyxy.shape[0]
    n1 = terms[0].nlevels
    if m > MAX_LATER or n1 * r * r > MAX_WORK:
        return None
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
    # One pattern over the later levels, column by column (first-term level), rows ascending.
    rows, cols, vals = [], [], []
    for j, block in enumerate(system.zz_blocks):
        rows.append(block.pattern.rows + offsets[j])
        cols.append(block.pattern.cols)
        vals.append(block.values[:, 0, 0])
    prow_all, pcol_all = np.concatenate(rows), np.concatenate(cols)
    order = np.lexsort((prow_all, pcol_all))
    prow = np.ascontiguousarray(prow_all[order], dtype=np.intp)
    pcol = pcol_all[order]
    pval = np.ascontiguousarray(np.concatenate(vals)[order], dtype=float)
    counts = np.bincount(pcol, minlength=n1)
    if int(np.sum(counts * (counts + 1) // 2)) > MAX_WORK:
        return None
    kernel = _kernel()
    if kernel is None:  # pragma: no cover
        return None
    colptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
    a22 = np.zeros((m, m))
    for j in range(1, len(terms)):
        for i in range(1, j + 1):
            a22[offsets[j - 1] : offsets[j], offsets[i - 1] : offsets[i]] = system.zz_dense[(j, i)]
    later_term = np.repeat(np.arange(1, len(terms), dtype=np.intp), sizes)
    a11 = np.ascontiguousarray(system.a11[:, 0, 0])
    xy1 = np.ascontiguousarray(system.xyz[0])
    xy2 = np.ascontiguousarray(np.concatenate(system.xyz[1:], axis=1))
    xyxy = np.ascontiguousarray(system.xyxy)
    nobs = float(system.nobs)
    logw = float(system.log_weights)

    def fun(theta: FloatArray) -> float:
        th = np.asarray(theta, dtype=np.float64)
        return float(kernel(th, a11, colptr, prow, pval, a22, later_term, xy1, xy2, xyxy, nobs,
                            reml, logw))

    return fun


__all__ = ["MAX_LATER", "MAX_WORK", "scalar_terms_objective"]
