"""The exact gradient of the Laplace objective over (θ, β), for scalar terms and canonical links.

The Laplace objective is D(θ, β) = -2 log p(y | η̂) + ‖û‖² + log|M|, with M = ΛZᵀWZΛ + I = LLᵀ,
η̂ = offset + Xβ + ZΛû and W the GLM weights at η̂. For a canonical link (binomial logit,
Poisson log) the score of η is r = w₀(y - μ) (prior weights w₀) and W = diag(w) with
w = w₀ dμ/dη, whose derivative w' = dw/dη is w₀μ(1-μ)(1-2μ) or w₀μ. With the leverages
hᵢ = (ZΛM⁻¹ΛZᵀ)ᵢᵢ and s = w' ∘ h:

- the penalized deviance is stationary in u at û, so only its partial derivatives count:
  -2 Xᵀr for β and -2 Σᵢ rᵢ ∂ηᵢ/∂θⱼ for θ;
- log|M| moves with η (through W) by sᵀ dη, and directly with Λ by (2/θⱼ)(size_j - tr_j M⁻¹);
- û moves with the parameters as M dû = -ΛZᵀW ∂η/∂φ (+ Eⱼû/θⱼ for θⱼ), which enters through
  a = M⁻¹ΛZᵀs (one solve with L, the adjoint of the log-determinant's dependence on u).

Everything comes from the converged PIRLS state and its blocked factor (L₁₁ diagonal, the later
terms' small dense block): a gradient costs about one PIRLS iteration, against 2n objective
evaluations by finite differences. The objective is even in the θ of every scalar term, so its
derivative at θⱼ = 0 is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.glmm.pirls import GLMMProblem, PirlsState

FloatArray = NDArray[np.float64]

#: Largest later-terms block (levels), and size of L₂₁ held dense, for which the gradient is
#: formed (S⁻¹L₂₁ costs m² n₁ flops).
MAX_LATER = 300
MAX_CROSS = 4_000_000


def _kernels() -> Any:
    from multilevel.glmm import gradient_kernels

    return gradient_kernels


def has_gradient(problem: GLMMProblem) -> bool:
    """True when :func:`laplace_gradient` applies: scalar terms, binomial logit or Poisson
    log (canonical links), no negative-binomial θ, and a later-terms block of moderate size."""
    fam = problem.family
    if fam.nb_theta is not None:
        return False
    if (fam.name, fam.link.name) not in (("binomial", "logit"), ("poisson", "log")):
        return False
    terms = problem.terms
    if len(terms) < 2 or any(t.q != 1 for t in terms):
        # one scalar term has a compiled objective of microseconds (glmm/laplace_compiled.py):
        # BOBYQA's evaluations cost less there than the gradient's bookkeeping
        return False
    later = sum(t.nlevels for t in terms[1:])
    return later <= MAX_LATER and later * terms[0].nlevels <= MAX_CROSS


@dataclass(frozen=True)
class _Index:
    """Per-problem arrays of the gradient kernel, computed once and kept with the problem."""

    z: FloatArray  # the terms' Z columns, K × n
    effect: NDArray[np.intp]  # every observation's random effect in every term, K × n
    x: FloatArray  # X, C-ordered
    starts: NDArray[np.intp]  # first column of every later term in the later block (and end)


def _index(problem: GLMMProblem) -> _Index:
    """The kernel's per-problem arrays; random effects are numbered over all terms (first term
    0..n₁-1, later terms from n₁ on)."""
    cached = problem.__dict__.get("_gradient_index")
    if cached is None:
        terms = problem.terms
        zs = np.ascontiguousarray(np.vstack([t.z[:, 0] for t in terms]))
        gl = np.empty(zs.shape, dtype=np.intp)
        offset = 0
        for j, t in enumerate(terms):
            gl[j] = offset + t.index
            offset += t.nlevels
        starts = np.concatenate([[0], np.cumsum([t.nlevels for t in terms[1:]])]).astype(np.intp)
        cached = _Index(zs, gl, np.ascontiguousarray(problem.X, dtype=float), starts)
        problem.__dict__["_gradient_index"] = cached
    return cached


def laplace_gradient(
    problem: GLMMProblem, state: PirlsState, theta: FloatArray
) -> FloatArray:
    """Gradient of the Laplace objective over (θ, β) at a converged PIRLS state.

    Parameters
    ----------
    problem
        The GLMM (see :func:`has_gradient`).
    state
        PIRLS state at (θ, β) with β held fixed (the Laplace stage), converged.
    theta
        The θ of the state.

    Returns
    -------
    numpy.ndarray
        ∂D/∂θ then ∂D/∂β (NaN where the later block of L is singular).
    """
    theta = np.asarray(theta, dtype=float)
    index = _index(problem)
    factor = state.factor
    # S⁻¹ = (L₂₂L₂₂ᵀ)⁻¹ for the later terms (LAPACK); the rest runs compiled
    l22 = factor.later_dense()
    inverse = factor.later_inverse(l22) if l22.shape[0] else np.zeros((0, 0))
    if inverse is None:
        return np.full(len(problem.terms) + problem.X.shape[1], np.nan)
    blocks = factor.l_blocks
    crow = np.concatenate(
        [np.zeros(0, np.intp)] + [b.pattern.rows + index.starts[j] for j, b in enumerate(blocks)]
    )
    ccol = np.concatenate([np.zeros(0, np.intp)] + [b.pattern.cols for b in blocks])
    cval = np.concatenate([np.zeros(0)] + [b.values[:, 0, 0] for b in blocks])
    return np.asarray(
        _kernels().laplace_gradient(
            index.z * theta[:, None], index.z, index.effect, problem.y, problem.prior_weights,
            state.mu, np.asarray(state.u, dtype=float), index.x,
            problem.family.name == "binomial", np.ascontiguousarray(factor.l11[:, 0, 0]),
            crow.astype(np.intp), ccol.astype(np.intp), cval,
            np.ascontiguousarray(inverse), l22, index.starts, theta,
        ),
        dtype=float,
    )  # fmt: skip


__all__ = ["MAX_CROSS", "MAX_LATER", "has_gradient", "laplace_gradient"]
