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

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_triangular

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


def _index(problem: GLMMProblem) -> tuple[FloatArray, NDArray[np.intp]]:
    """The terms' Z columns (K × n) and every observation's random effect in every term,
    numbered over all terms (first term 0..n₁-1, later terms from n₁ on); computed once per
    problem and kept with it."""
    cached = problem.__dict__.get("_gradient_index")
    if cached is None:
        terms = problem.terms
        zs = np.ascontiguousarray(np.vstack([t.z[:, 0] for t in terms]))
        gl = np.empty(zs.shape, dtype=np.intp)
        offset = 0
        for j, t in enumerate(terms):
            gl[j] = offset + t.index
            offset += t.nlevels
        cached = (zs, gl)
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
        ∂D/∂θ then ∂D/∂β.
    """
    theta = np.asarray(theta, dtype=float)
    terms = problem.terms
    k = len(terms)
    mu = state.mu
    pw = problem.prior_weights
    if problem.family.name == "binomial":
        w = pw * mu * (1.0 - mu)
        dw = w * (1.0 - 2.0 * mu)
    else:
        w = pw * mu
        dw = w
    r = pw * (problem.y - mu)
    factor = state.factor
    d = factor.l11[:, 0, 0]
    n1 = terms[0].nlevels
    sizes = [t.nlevels for t in terms[1:]]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
    m = int(starts[-1])
    zs, gl = _index(problem)
    tzs = zs * theta[:, None]  # t_ij = θ_j z_ij
    # diagonal of M⁻¹ over the first term; S⁻¹ and S⁻¹L₂₁ for the later terms
    if m:
        l22 = factor.later_dense()
        inverse = factor.later_inverse(l22)
        if inverse is None:
            return np.full(k + problem.X.shape[1], np.nan)
        low = np.tril(inverse)
        sinv = low + np.tril(low, -1).T  # S⁻¹, both triangles (the kernels read either)
        c = np.zeros((m, n1))  # L₂₁, dense (m × n₁ is bounded by MAX_CROSS)
        for j, lower_block in enumerate(factor.l_blocks):
            pat = lower_block.pattern
            c[starts[j] + pat.rows, pat.cols] = lower_block.values[:, 0, 0]
        sc = sinv @ c  # S⁻¹L₂₁
        cs = np.einsum("kg,kg->g", c, sc)  # c_gᵀS⁻¹c_g
        first_diag = (1.0 + cs) / (d * d)
        later_diag = np.diagonal(sinv)
    else:
        l22 = sinv = sc = np.zeros((0, 0))
        c = np.zeros((0, n1))
        first_diag = 1.0 / (d * d)
        later_diag = np.zeros(0)
    # leverages h_i = Σ_jl t_ij t_il (M⁻¹)[g_j(i), g_l(i)], s = w' ∘ h and v = ΛZᵀs
    s, v = _kernels().leverage_pass(tzs, gl, first_diag, d, sc, sinv, dw, n1)
    # a = M⁻¹ ΛZᵀ s through L = [[D, 0], [L₂₁, L₂₂]]
    y1 = v[:n1] / d
    if m:
        y2 = solve_triangular(l22, v[n1:] - c @ y1, lower=True, check_finite=False)
        a2 = solve_triangular(l22, y2, lower=True, trans="T", check_finite=False)
        a1 = (y1 - c.T @ a2) / d
    else:
        a2 = np.zeros(0)
        a1 = y1 / d
    common, eu = _kernels().common_pass(tzs, zs, gl, np.concatenate([a1, a2]),
                                        np.asarray(state.u, dtype=float), r, w, s)
    grad_beta = problem.X.T @ common
    # θ: ∂η/∂θ_j = z_j ∘ û_j[g_j]; explicit Λ part of log|M|; the modes' Eⱼû/θⱼ
    grad_theta = np.zeros(k)
    u_parts = np.split(state.u, np.cumsum([t.nlevels for t in terms])[:-1])
    a_parts = [a1] + [a2[starts[j - 1] : starts[j]] for j in range(1, k)]
    traces = [float(first_diag.sum())] + [
        float(later_diag[starts[j - 1] : starts[j]].sum()) for j in range(1, k)
    ]
    for j, term in enumerate(terms):
        th = theta[j]
        if th <= 0.0:
            continue
        grad_theta[j] = (
            float(eu[j])
            + 2.0 / th * (term.nlevels - traces[j])
            + float(a_parts[j] @ u_parts[j]) / th
        )
    return np.concatenate([grad_theta, grad_beta])


__all__ = ["MAX_CROSS", "MAX_LATER", "has_gradient", "laplace_gradient"]
