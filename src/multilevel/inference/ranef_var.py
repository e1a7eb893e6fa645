"""Conditional variances of the random effects (lme4's ``ranef(condVar = TRUE)``).

Given θ and β, the spherical random effects have conditional covariance σ² (L Lᵀ)⁻¹ with L the
random-effects part of the blocked Cholesky factor (L Lᵀ = ΛᵀZᵀWZΛ + I), so
cov(b | y) = σ² Λ (L Lᵀ)⁻¹ Λᵀ. Only the diagonal blocks (one q × q block per level of each term)
are formed: directly from the first term's block-diagonal factor when the model has one term,
otherwise by sparse triangular solves, a chunk of columns at a time.

For a GLMM, as lme4's ``condVar`` of a ``glmer`` fit, L is the factor at the converged PIRLS
weights (ΛᵀZᵀWZΛ + I with the GLM working weights W at the conditional modes) and σ is
``sigma(fit)``: 1 for binomial, Poisson and negative binomial fits; for Gamma and inverse
Gaussian fits lme4 scales by σ² although the random effects themselves carry no σ (we match it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import spsolve_triangular

from multilevel.inference._common import cached, result_kind
from multilevel.linalg.blockdiag import blockdiag_sparse
from multilevel.lmm import update_factor

FloatArray = NDArray[np.float64]

_CHUNK = 256


def _full_l(factor: Any, sizes: list[int]) -> sp.csr_matrix:
    """The random-effects part of L(θ) as one sparse lower-triangular matrix."""
    k = len(sizes)
    blocks: list[list[Any]] = [[None] * k for _ in range(k)]
    blocks[0][0] = blockdiag_sparse(factor.l11)
    for j in range(1, k):
        blocks[j][0] = factor.l_sparse[j - 1]
        for i in range(1, j + 1):
            blocks[j][i] = sp.csr_matrix(factor.l_dense[(j, i)])
    return sp.csr_matrix(sp.bmat(blocks, format="csr"))


def _factor_and_terms(result: Any) -> tuple[Any, Any]:
    """L(θ̂) and the engine's terms: of the PLS system (LMM) or at the PIRLS weights (GLMM)."""
    if result_kind(result) == "glmm":
        return result.state.factor, result.problem.terms
    system = result.system
    return update_factor(system, result.theta), system.terms


def _spherical_blocks(result: Any) -> list[FloatArray]:
    """Diagonal blocks of (L Lᵀ)⁻¹ per term: arrays of shape (nlevels, q, q)."""
    factor, terms = _factor_and_terms(result)
    if len(terms) == 1:
        linv = np.linalg.inv(factor.l11)
        return [np.einsum("nki,nkj->nij", linv, linv)]
    sizes = [t.size for t in terms]
    L = _full_l(factor, sizes)
    total = sum(sizes)
    out = [np.empty((t.nlevels, t.q, t.q)) for t in terms]
    starts = np.cumsum([0, *sizes])
    for k, t in enumerate(terms):
        q = t.q
        per = max(1, _CHUNK // q)
        for first in range(0, t.nlevels, per):
            levels = np.arange(first, min(first + per, t.nlevels))
            cols = (starts[k] + levels[:, None] * q + np.arange(q)[None, :]).ravel()
            rhs = np.zeros((total, cols.size))
            rhs[cols, np.arange(cols.size)] = 1.0
            lo = int(cols.min())
            y = spsolve_triangular(L[lo:, lo:].tocsr(), rhs[lo:], lower=True)
            y = np.asarray(y).reshape(total - lo, levels.size, q)
            out[k][levels] = np.einsum("rni,rnj->nij", y, y)
    return out


def ranef_covariances(result: Any) -> list[FloatArray]:
    """cov(b | y) of each term, engine order: arrays of shape (nlevels, q, q) (cached)."""

    def compute() -> list[FloatArray]:
        s2 = result.sigma**2
        return [
            s2 * np.einsum("ij,njk,lk->nil", lam, block, lam)
            for lam, block in zip(result.lambdas, _spherical_blocks(result), strict=True)
        ]

    return cached(result, "ranef_cov", compute)


def conditional_modes(result: Any) -> list[FloatArray]:
    """b̂ of each term in engine order, arrays of shape (nlevels, q)."""
    if result_kind(result) == "lmm":
        return list(result.estimates.b)
    out = []
    pos = 0
    for t, lam in zip(result.problem.terms, result.lambdas, strict=True):
        out.append(result.state.u[pos : pos + t.size].reshape(t.nlevels, t.q) @ lam.T)
        pos += t.size
    return out


def ranef_table(result: Any) -> pd.DataFrame:
    """Conditional modes and conditional standard deviations of the random effects.

    Parameters
    ----------
    result
        A fitted linear or generalized linear mixed model.

    Returns
    -------
    DataFrame
        Columns grpvar, term, grp, condval, condsd (as R's
        ``as.data.frame(ranef(fit, condVar = TRUE))``): one row per level of each effect.
    """
    frames = []
    covs = ranef_covariances(result)
    for t, b, cov in zip(result.design.terms, conditional_modes(result), covs, strict=True):
        for j, name in enumerate(t.cnames):
            frames.append(
                pd.DataFrame(
                    {
                        "grpvar": t.group,
                        "term": name,
                        "grp": list(t.grouping.levels),
                        "condval": b[:, j],
                        "condsd": np.sqrt(np.maximum(cov[:, j, j], 0.0)),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)
