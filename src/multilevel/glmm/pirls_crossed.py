"""PIRLS compiled for models whose random-effects terms are all scalar (crossed or nested).

With every term ``(1 | g)`` or ``(0 + x | g)`` the penalized least-squares system of one PIRLS
step has the engine's blocked form: a diagonal block for the first term (most levels), the
products of the later terms with it on a fixed sparse pattern (the distinct pairs of levels that
occur together), and a small dense block for the later terms (and for X when β is updated with
u, lme4's ``nAGQ = 0``). One compiled function runs the whole iteration: working weights, the
accumulation of the blocks on the pattern (index maps found once per problem, :func:`build_plan`),
the Schur complement of the diagonal block, the dense Cholesky factor of the later block, the
solves, step-halving on the penalized deviance and the convergence test, with the same rules and
tolerances as the NumPy path of :func:`multilevel.glmm.pirls.pirls`; at the end it factors L(θ)
at the converged weights. The result equals the NumPy path's to rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from multilevel.glmm.family import Family
from multilevel.glmm.pirls_compiled import family_code
from multilevel.linalg.blocksparse import BlockPattern, BlockSparse
from multilevel.lmm.factor import BlockedFactor, NotPositiveDefinite
from multilevel.lmm.system import TermBlock

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Largest later block (levels of the later terms) handled here: beyond ~1500 the general
#: path (LAPACK's dense Cholesky factor) is faster.
MAX_LATER = 1200

#: With β held fixed, a Newton step on u no larger than this ends PIRLS without being taken:
#: the modes are then within about this distance of the optimum, and the factor just computed
#: at their weights is L(θ). (The step would change the Laplace objective by about as much.)
STEP_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class CrossedPlan:
    """Index maps of the compiled multi-term PIRLS, computed once per problem.

    Attributes
    ----------
    g1
        Level of the first term of every observation.
    z
        Model-matrix column of every term, (n, K).
    cols
        Column in the later block of every observation and later term, (n, K - 1).
    pair
        Position of every observation's (later level, first level) pair in the pattern.
    colptr
        Pairs of first-term level g are ``colptr[g]:colptr[g + 1]`` (by first level, then by
        later column).
    prow
        Later column of every pair.
    sizes
        Levels of every later term.
    patterns, select
        For every later term, the block pattern of Z_jᵀZ₁ and the positions of its pairs.
    code
        Family/link code of :func:`multilevel.glmm.pirls_compiled.family_code`.
    const, kk, mk
        Constants of the conditional log-likelihood (see :func:`_loglik_constants`).
    saturated
        -2 log p(y | μ) minus the deviance (which does not depend on μ), or None where it is
        not a constant (binomial with non-integer trials: the likelihood rounds them).
    ent
        The part of the deviance that does not depend on μ (see :func:`_entropy`).
    """

    g1: IntArray
    z: FloatArray
    cols: IntArray
    pair: IntArray
    colptr: IntArray
    prow: IntArray
    sizes: tuple[int, ...]
    patterns: tuple[BlockPattern, ...]
    select: tuple[IntArray, ...]
    dense: bool
    code: int
    const: FloatArray
    kk: FloatArray
    mk: FloatArray
    saturated: float | None
    ent: float

    @property
    def nlater(self) -> int:
        """Columns of the later block (levels of all later terms)."""
        return sum(self.sizes)


def _saturated(family: Family, y: FloatArray, wt: FloatArray) -> float | None:
    """-2 log p(y | μ) - deviance, constant in μ (None for non-integer binomial trials).

    Binomial (k = m y successes of m): -2 Σ [log C(m, k) + k log(k/m) + (m - k) log(1 - k/m)];
    Poisson: 2 Σ w [log Γ(y + 1) - y log y + y].
    """
    if family.name == "binomial":
        k, m = wt * y, wt
        whole_trials = np.array_equal(np.round(m), m)
        if not (whole_trials and np.allclose(np.round(k), k, rtol=0, atol=1e-12)):
            return None
        const, kk, mk = _loglik_constants(family, y, wt)
        keep = np.round(m) > 0
        frac = np.where(keep, kk / np.where(keep, np.round(m), 1.0), 0.0)
        sat = special.xlogy(kk, frac) + special.xlogy(mk, 1.0 - frac)
        return float(-2.0 * np.sum(const + sat))
    return float(2.0 * np.sum(wt * (special.gammaln(y + 1) - special.xlogy(y, y) + y)))


def _entropy(family: Family, y: FloatArray, wt: FloatArray) -> float:
    """The μ-free part of the deviance: Σ 2w [y log y + (1 - y) log(1 - y)] (binomial) or
    Σ 2w [y log y - y] (Poisson), the kernels' ``ent``."""
    if family.name == "binomial":
        return float(2.0 * np.sum(wt * (special.xlogy(y, y) + special.xlogy(1.0 - y, 1.0 - y))))
    return float(2.0 * np.sum(wt * (special.xlogy(y, y) - y)))


def _loglik_constants(
    family: Family, y: FloatArray, wt: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-observation constants of -2 log p(y | μ) (as :meth:`Family.loglik_terms`).

    Binomial: log C(m, k), k and m - k (all 0 where m = 0); Poisson: log Γ(y + 1).
    """
    if family.name == "binomial":
        k = np.round(wt * y)
        m = np.round(wt)
        with np.errstate(invalid="ignore"):
            const = special.gammaln(m + 1) - special.gammaln(k + 1) - special.gammaln(m - k + 1)
        keep = m > 0
        return (np.where(keep, const, 0.0), np.where(keep, k, 0.0), np.where(keep, m - k, 0.0))
    zeros = np.zeros_like(y)
    return np.asarray(special.gammaln(y + 1), dtype=float), zeros, zeros


def build_plan(
    terms: tuple[TermBlock, ...], family: Family, y: FloatArray, wt: FloatArray
) -> CrossedPlan | None:
    """The index maps for the compiled path, or None when it does not apply.

    Parameters
    ----------
    terms
        Random-effects terms in engine order.
    family
        Family and link (one of those :func:`family_code` knows).
    y, wt
        Response and prior weights (for the log-likelihood constants).

    Returns
    -------
    CrossedPlan or None
        None with fewer than two terms, a term with q > 1, another family or link, or a later
        block larger than :data:`MAX_LATER`.
    """
    code = family_code(family)
    if code is None or len(terms) < 2 or any(t.q != 1 for t in terms):
        return None
    sizes = tuple(t.nlevels for t in terms[1:])
    if sum(sizes) > MAX_LATER or _kernel() is None:
        return None
    first = terms[0]
    n1 = first.nlevels
    starts = np.cumsum((0, *sizes))[:-1]
    cols = np.column_stack([t.index + s for t, s in zip(terms[1:], starts, strict=True)])
    key = first.index.astype(np.int64)[:, None] * sum(sizes) + cols
    uniq, inverse = np.unique(key.ravel(), return_inverse=True)  # by first level, then column
    g_of = (uniq // sum(sizes)).astype(np.intp)
    prow = (uniq % sum(sizes)).astype(np.intp)
    colptr = np.searchsorted(g_of, np.arange(n1 + 1)).astype(np.intp)
    patterns, select = [], []
    for j, s in enumerate(starts):
        sel = np.flatnonzero((prow >= s) & (prow < s + sizes[j])).astype(np.intp)
        patterns.append(BlockPattern.from_pairs(prow[sel] - s, g_of[sel], sizes[j], n1))
        select.append(sel)
    const, kk, mk = _loglik_constants(family, y, wt)
    per_level = np.diff(colptr).astype(float)
    # dense downdate: ~nnz × Q contiguous updates against Σ nnz_g² scattered ones
    dense = bool(sum(sizes) * prow.shape[0] <= 3.0 * float(per_level @ per_level))
    return CrossedPlan(
        g1=np.ascontiguousarray(first.index, dtype=np.intp),
        z=np.ascontiguousarray(np.column_stack([t.z[:, 0] for t in terms]), dtype=float),
        cols=np.ascontiguousarray(cols, dtype=np.intp),
        pair=np.ascontiguousarray(inverse.reshape(cols.shape), dtype=np.intp),
        colptr=colptr,
        prow=prow,
        sizes=sizes,
        patterns=tuple(patterns),
        select=tuple(select),
        dense=dense,
        code=code,
        const=np.ascontiguousarray(const, dtype=float),
        kk=np.ascontiguousarray(kk, dtype=float),
        mk=np.ascontiguousarray(mk, dtype=float),
        saturated=_saturated(family, y, wt),
        ent=_entropy(family, y, wt),
    )


@dataclass(frozen=True)
class CrossedResult:
    """What the compiled PIRLS returns (the fields of a PIRLS state)."""

    u: FloatArray
    beta: FloatArray
    eta: FloatArray
    mu: FloatArray
    factor: BlockedFactor
    deviance: float
    minus2loglik: float
    iterations: int
    converged: bool


def pirls_crossed(
    plan: CrossedPlan,
    y: FloatArray,
    wt: FloatArray,
    eta_fixed: FloatArray,
    X: FloatArray,
    theta: FloatArray,
    beta0: FloatArray,
    u0: FloatArray,
    eta0: FloatArray | None,
    tol: float,
    utol: float,
    maxiter: int,
) -> CrossedResult:
    """Run the compiled PIRLS.

    Parameters
    ----------
    plan
        Index maps of the problem (:func:`build_plan`).
    y, wt
        Response and prior weights.
    eta_fixed
        Offset (β updated) or offset + Xβ (β fixed).
    X
        Fixed-effects columns updated with u: X, or an (n, 0) array when β is fixed.
    theta
        Covariance parameters (one per term).
    beta0, u0
        Starting values (``beta0`` of length ``X.shape[1]``).
    eta0
        GLM-style starting linear predictor (then the first step is always taken), or None to
        start from ``eta_fixed + X beta0 + Z Λ u0``.
    tol, utol, maxiter
        As :func:`multilevel.glmm.pirls.pirls`.

    Returns
    -------
    CrossedResult
        With L(θ) at the converged weights as a :class:`BlockedFactor`.
    """
    kernels = _kernel()
    assert kernels is not None
    solve, loglik = kernels
    lam = np.ascontiguousarray(theta[: len(plan.sizes) + 1], dtype=float)
    fresh = eta0 is not None
    start = eta0 if eta0 is not None else eta_fixed
    out = solve(
        y, wt, eta_fixed, np.ascontiguousarray(X, dtype=float), np.asarray(beta0, dtype=float),
        plan.g1, plan.z, plan.cols, plan.pair, plan.colptr, plan.prow, lam,
        np.asarray(u0, dtype=float), start, fresh, plan.code, tol, utol, maxiter, plan.nlater,
        plan.dense, plan.ent, STEP_TOL,
    )  # fmt: skip
    u, beta, eta, mu, iteration, converged, status, l11, l21, l22, dev = out
    if status != 0:
        raise NotPositiveDefinite("the later block of the PIRLS system is not positive definite")
    if plan.saturated is not None and np.isfinite(dev):
        m2ll = dev + plan.saturated  # the deviance at μ plus its constant offset
    else:
        dev, m2ll = loglik(y, wt, mu, plan.code, plan.const, plan.kk, plan.mk)
    return CrossedResult(
        u=u, beta=beta, eta=eta, mu=mu, factor=_factor(plan, theta, lam, l11, l21, l22),
        deviance=float(dev), minus2loglik=float(m2ll), iterations=int(iteration),
        converged=bool(converged),
    )  # fmt: skip


def _factor(
    plan: CrossedPlan, theta: FloatArray, lam: FloatArray, l11: FloatArray, l21: FloatArray,
    l22: FloatArray,
) -> BlockedFactor:
    """The compiled factor as the general path's :class:`BlockedFactor` (its blocks, in place)."""
    n1 = l11.shape[0]
    starts = np.cumsum((0, *plan.sizes))
    nk = len(plan.sizes)
    l_dense = {
        (j + 1, i + 1): np.ascontiguousarray(
            l22[starts[j] : starts[j + 1], starts[i] : starts[i + 1]]
        )
        for j in range(nk)
        for i in range(j + 1)
    }
    sizes = (n1, *plan.sizes)
    return BlockedFactor(
        theta=np.array(theta, dtype=float),
        lambdas=tuple(np.array([[v]]) for v in lam),
        l11=l11.reshape(n1, 1, 1),
        p1=(lam[0] / l11).reshape(n1, 1, 1),
        l_blocks=tuple(
            BlockSparse(pat, l21[sel].reshape(-1, 1, 1))
            for pat, sel in zip(plan.patterns, plan.select, strict=True)
        ),
        l_dense=l_dense,
        l_x=tuple(np.zeros((1, s)) for s in sizes),
        l_xx=np.zeros((1, 1)),
    )


@lru_cache(maxsize=1)
def _kernel() -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """The compiled PIRLS and log-likelihood (None without numba; imported on first use)."""
    try:
        from multilevel.glmm import pirls_crossed_kernels as kernels
    except ImportError:  # pragma: no cover
        return None
    return kernels.pirls, kernels.loglik


__all__ = ["MAX_LATER", "STEP_TOL", "CrossedPlan", "CrossedResult", "build_plan", "pirls_crossed"]
