"""The numba kernels of :mod:`multilevel.glmm.gradient` (per-observation passes), at module level.

Module level so that numba's disk cache finds them in a new process; the gradient module
imports this one on first use.
"""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def leverage_pass(tz, gl, first_diag, d, sc, sinv, dw, n1):
    """s = w' ∘ h with the leverages h_i = Σ_jl t_ij t_il (M⁻¹)[g_j(i), g_l(i)], and v = ΛZᵀs.

    ``gl[j, i]`` is observation i's random effect in term j, numbered over all terms (first
    term 0..n₁-1, later terms from n₁ on); (M⁻¹) between later effects is S⁻¹, between a later
    effect k and a first-term level g it is -(S⁻¹L₂₁)[k, g]/d_g.
    """
    k, n = tz.shape
    s = np.empty(n)
    v = np.zeros(first_diag.shape[0] + sinv.shape[0])
    for i in range(n):
        g = gl[0, i]
        t0 = tz[0, i]
        h = t0 * t0 * first_diag[g]
        for j in range(1, k):
            a = gl[j, i] - n1
            tj = tz[j, i]
            h -= 2.0 * t0 * tj * sc[a, g] / d[g]
            h += tj * tj * sinv[a, a]
            for l_ in range(1, j):
                h += 2.0 * tj * tz[l_, i] * sinv[a, gl[l_, i] - n1]
        si = dw[i] * h
        s[i] = si
        for j in range(k):
            v[gl[j, i]] += tz[j, i] * si
    return s, v


@numba.njit(cache=True, nogil=True)
def common_pass(tz, z, gl, a, u, r, w, s):
    """common_i = -2r_i + s_i - w_i (ZΛa)_i, and Σ_i z_ij u[g_j(i)] common_i per term j."""
    k, n = tz.shape
    common = np.empty(n)
    for i in range(n):
        za = 0.0
        for j in range(k):
            za += tz[j, i] * a[gl[j, i]]
        common[i] = -2.0 * r[i] + s[i] - w[i] * za
    eu = np.zeros(k)
    for i in range(n):
        for j in range(k):
            eu[j] += z[j, i] * u[gl[j, i]] * common[i]
    return common, eu


__all__ = ["common_pass", "leverage_pass"]
