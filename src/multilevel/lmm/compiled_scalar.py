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

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.lmm.compiled import compiled_kernel
from multilevel.lmm.system import PLSSystem

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Largest number of levels of the later terms together (their block is factored densely here).
MAX_LATER = 100
#: Largest arithmetic per evaluation (first-term levels × (p + 1)², and the downdate's pairs).
MAX_WORK = 4_000_000


def scalar_terms_objective(
    system: PLSSystem, reml: bool
) -> Callable[[FloatArray], float] | None:
    """A compiled objective of θ for a small all-scalar-terms model (None when it does not apply).

    Applies to two or more terms of one column each, whose later terms have at most
    :data:`MAX_LATER` levels together.
    """
    data = scalar_terms_data(system)
    kernel = compiled_kernel("scalar_terms")
    if data is None or kernel is None:
        return None
    logw = float(system.log_weights)

    def fun(theta: FloatArray) -> float:
        th = np.asarray(theta, dtype=np.float64)
        return float(kernel(th, *data, reml, logw))

    return fun


def scalar_terms_data(system: PLSSystem) -> tuple[Any, ...] | None:
    """The kernel's arguments after θ (a11, colptr, prow, pval, a22, later_term, xy1, xy2, xyxy,
    nobs), or None when the kernel does not apply."""
    structure = _structure(system)
    if structure is None:
        return None
    xy1 = np.ascontiguousarray(system.xyz[0])
    xy2 = np.ascontiguousarray(np.concatenate(system.xyz[1:], axis=1))
    xyxy = np.ascontiguousarray(system.xyxy)
    return (*structure, xy1, xy2, xyxy, float(system.nobs))


def _structure(system: PLSSystem) -> tuple[Any, ...] | None:
    """The response-free arrays (a11, colptr, prow, pval, a22, later_term), computed once per
    system and kept with it (``_scalar_structure``; a refit's system inherits it)."""
    memo = system.__dict__.get("_scalar_structure")
    if memo is None:
        memo = _build_structure(system) or ()
        system.__dict__["_scalar_structure"] = memo
    return memo or None


def _build_structure(system: PLSSystem) -> tuple[Any, ...] | None:
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
    colptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
    a22 = np.zeros((m, m))
    for j in range(1, len(terms)):
        for i in range(1, j + 1):
            a22[offsets[j - 1] : offsets[j], offsets[i - 1] : offsets[i]] = system.zz_dense[(j, i)]
    later_term = np.repeat(np.arange(1, len(terms), dtype=np.intp), sizes)
    a11 = np.ascontiguousarray(system.a11[:, 0, 0])
    return (a11, colptr, prow, pval, a22, later_term)


__all__ = ["MAX_LATER", "MAX_WORK", "scalar_terms_data", "scalar_terms_objective"]
