"""Starting values of θ from moments, for the gradient fit of models with scalar terms.

lme4 starts every fit at Λ = I. For the large crossed models fitted with the exact gradient
(:mod:`multilevel.lmm.gradient`), the optimizer then spends several expensive evaluations
getting near the optimum. A method-of-moments guess from the constant part of the PLS system
costs microseconds and starts it close. On InstEval the start (0.257, 0.425), against the
optimum (0.276, 0.432), leaves the quasi-Newton steps on log θ 4 gradient evaluations; a
guess that ignored the other term's share of each level's variance, (0.223, 0.373), left 6.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from multilevel.lmm.system import PLSSystem

FloatArray = NDArray[np.float64]

#: Bounds of the start on the optimizer's scale (θ ∘ d): away from 0, where the objective's
#: derivative in a scalar term's θ vanishes (a gradient method could not leave it), and not huge.
LOWEST = 0.05
HIGHEST = 10.0


def moment_start(system: PLSSystem, scale: FloatArray) -> FloatArray | None:
    """θ from moments for a model whose random-effects terms all have one column.

    With r the least-squares residual of y on X (prior weights included) and, for every level
    g of term j, b̂_g = Σ z r / Σ z² the coefficient of r on the term's column within the level,

        E[b̂_g²] ≈ σ_j² + Σ_{k≠j} σ_k² Σ_l (Z_jᵀZ_k)_gl² / (Σ z²)² + σ² / Σ z²,

    the middle sum being what the levels l of the other terms that share g's observations add
    (crossed or nested). Averaged over the levels of each term, these K equations and the one
    for the residual variance, E[r²] ≈ σ² + Σ_j σ_j² mean(z_j²), give the K + 1 variances by one
    small linear solve; θ_j = σ_j/σ, taken within [LOWEST, HIGHEST] on the optimizer's scale.
    Where that system cannot be solved (or gives σ² ≤ 0), each term is taken alone, with the
    residual variance for σ². Everything comes from the system's cross-products, not the data.

    Parameters
    ----------
    system
        The PLS system (every term scalar).
    scale
        The optimizer's scale of θ (:func:`~multilevel.optimize.theta_scale`).

    Returns
    -------
    numpy.ndarray or None
        The starting θ; None where the moments are not defined (no residual degrees of
        freedom, a rank-deficient X, a term with more than one column).
    """
    if any(t.q != 1 for t in system.terms):
        return None
    p = system.nfixed
    xyxy = system.xyxy
    dof = system.nobs - p
    if dof <= 0:
        return None
    try:
        beta = np.linalg.solve(xyxy[:p, :p], xyxy[:p, p]) if p else np.zeros(0)
    except np.linalg.LinAlgError:
        return None
    total = float(xyxy[p, p] - xyxy[p, :p] @ beta) / dof
    if not np.isfinite(total) or total <= 0.0:
        return None
    k = len(system.terms)
    szz = [system.a11[:, 0, 0]] + [np.diagonal(system.zz_dense[(j, j)]) for j in range(1, k)]
    mean_b2, mean_inv = np.empty(k), np.empty(k)
    for j, block in enumerate(system.xyz):
        szr = block[p, :] - block[:p, :].T @ beta
        used = szz[j] > 0
        if not np.any(used):
            return None
        b = szr[used] / szz[j][used]
        mean_b2[j], mean_inv[j] = float(np.mean(b * b)), float(np.mean(1.0 / szz[j][used]))
    variances = _crossed_variances(system, szz, mean_b2, mean_inv, total)
    if variances is None:  # each term alone, against the residual variance
        theta = np.sqrt(np.maximum(mean_b2 / total - mean_inv, 0.0))
    else:
        theta = np.sqrt(np.maximum(variances[:k], 0.0) / variances[k])
    d = np.asarray(scale, dtype=float)
    return np.clip(theta * d, LOWEST, HIGHEST) / d


def _crossed_variances(
    system: PLSSystem,
    szz: list[FloatArray],
    mean_b2: FloatArray,
    mean_inv: FloatArray,
    total: float,
) -> FloatArray | None:
    """(σ_1², ..., σ_K², σ²) from the moment equations, or None where they fail."""
    k = len(szz)
    a = np.zeros((k + 1, k + 1))
    for j in range(k):
        for m in range(k):
            a[j, m] = 1.0 if m == j else _overlap(system, szz, j, m)
        a[j, k] = mean_inv[j]
        a[k, j] = float(np.sum(szz[j])) / system.nobs
    a[k, k] = 1.0
    rhs = np.append(mean_b2, total)
    try:
        out = np.linalg.solve(a, rhs)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(out)) or out[k] <= 0.0:
        return None
    return np.asarray(out, dtype=np.float64)


def _overlap(system: PLSSystem, szz: list[FloatArray], j: int, m: int) -> float:
    """Mean over the levels g of term j of Σ_l (Z_jᵀZ_m)_gl² / (Z_jᵀZ_j)_gg²."""
    if j == 0 or m == 0:
        later = max(j, m)
        block = system.zz_blocks[later - 1]  # rows: levels of term `later`, cols: of term 0
        index = block.pattern.cols if j == 0 else block.pattern.rows
        sums = np.bincount(index, weights=block.values[:, 0, 0] ** 2, minlength=szz[j].size)
    else:
        dense = system.zz_dense[(j, m)] if j > m else system.zz_dense[(m, j)].T
        sums = np.sum(dense * dense, axis=1)
    used = szz[j] > 0
    return float(np.mean(sums[used] / szz[j][used] ** 2))
