"""The numba kernel of :mod:`multilevel.glmm.gradient`, at module level.

Module level so that numba's disk cache finds it in a new process; the gradient module
imports this one on first use.
"""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def laplace_gradient(tz, z, gl, y, pw, mu, u, x, binomial, d, crow, ccol, cval, lower_inv, l22,
                     starts, theta):  # fmt: skip
    """The whole gradient of :func:`multilevel.glmm.gradient.laplace_gradient` in one pass set.

    ``d`` is L₁₁'s diagonal, (crow, ccol, cval) L₂₁'s entries (later row, first-term column),
    ``lower_inv`` S⁻¹ in its lower triangle and ``l22`` L₂₂ (dense, lower); ``starts`` are the
    later terms' first columns (and the end). Returns ∂D/∂θ then ∂D/∂β.
    """
    k, n = tz.shape
    n1 = d.shape[0]
    m = l22.shape[0]
    p = x.shape[1]
    sinv = np.empty((m, m))
    for a in range(m):
        for b in range(a + 1):
            sinv[a, b] = lower_inv[a, b]
            sinv[b, a] = lower_inv[a, b]
    # (S⁻¹L₂₁)ᵀ as n₁ × m rows, and the first-term diagonal of M⁻¹: (1 + c_gᵀS⁻¹c_g)/d_g²
    sct = np.zeros((n1, m))
    for e in range(crow.shape[0]):
        a = crow[e]
        g = ccol[e]
        v = cval[e]
        for b in range(m):
            sct[g, b] += sinv[a, b] * v
    cs = np.zeros(n1)
    for e in range(crow.shape[0]):
        cs[ccol[e]] += cval[e] * sct[ccol[e], crow[e]]
    first_diag = np.empty(n1)
    for g in range(n1):
        first_diag[g] = (1.0 + cs[g]) / (d[g] * d[g])
    # leverages, s = w' ∘ h and v = ΛZᵀs; the GLM weights and scores at μ
    w = np.empty(n)
    r = np.empty(n)
    s = np.empty(n)
    v = np.zeros(n1 + m)
    for i in range(n):
        mi = mu[i]
        if binomial:
            wi = pw[i] * mi * (1.0 - mi)
            dwi = wi * (1.0 - 2.0 * mi)
        else:
            wi = pw[i] * mi
            dwi = wi
        w[i] = wi
        r[i] = pw[i] * (y[i] - mi)
        g = gl[0, i]
        t0 = tz[0, i]
        h = t0 * t0 * first_diag[g]
        for j in range(1, k):
            a = gl[j, i] - n1
            tj = tz[j, i]
            h -= 2.0 * t0 * tj * sct[g, a] / d[g]
            h += tj * tj * sinv[a, a]
            for l_ in range(1, j):
                h += 2.0 * tj * tz[l_, i] * sinv[a, gl[l_, i] - n1]
        si = dwi * h
        s[i] = si
        for j in range(k):
            v[gl[j, i]] += tz[j, i] * si
    # a = M⁻¹ΛZᵀs through L = [[D, 0], [L₂₁, L₂₂]]
    av = np.empty(n1 + m)
    for g in range(n1):
        av[g] = v[g] / d[g]
    rhs = v[n1:].copy()
    for e in range(crow.shape[0]):
        rhs[crow[e]] -= cval[e] * av[ccol[e]]
    for i in range(m):
        t = rhs[i]
        for c in range(i):
            t -= l22[i, c] * rhs[c]
        rhs[i] = t / l22[i, i]
    for i in range(m - 1, -1, -1):
        rhs[i] /= l22[i, i]
        for c in range(i):
            rhs[c] -= l22[i, c] * rhs[i]
    for e in range(crow.shape[0]):
        av[ccol[e]] -= cval[e] * rhs[crow[e]]
    for g in range(n1):
        av[g] /= d[g]
    for c in range(m):
        av[n1 + c] = rhs[c]
    # common_i = -2r_i + s_i - w_i (ZΛa)_i; ∂D/∂β = Xᵀcommon, and Σ_i z_ij û[g_j(i)] common_i
    grad = np.zeros(k + p)
    eu = np.zeros(k)
    for i in range(n):
        za = 0.0
        for j in range(k):
            za += tz[j, i] * av[gl[j, i]]
        ci = -2.0 * r[i] + s[i] - w[i] * za
        for j in range(k):
            eu[j] += z[j, i] * u[gl[j, i]] * ci
        for c in range(p):
            grad[k + c] += x[i, c] * ci
    # θ: explicit Λ part of log|M| (2/θⱼ)(levels - tr_j M⁻¹) and the modes' Eⱼû/θⱼ
    for j in range(k):
        th = theta[j]
        if th <= 0.0:
            continue
        lo = 0 if j == 0 else n1 + starts[j - 1]
        hi = n1 if j == 0 else n1 + starts[j]
        trace = 0.0
        au = 0.0
        for c in range(lo, hi):
            trace += first_diag[c] if j == 0 else sinv[c - n1, c - n1]
            au += av[c] * u[c]
        grad[j] = eu[j] + 2.0 / th * ((hi - lo) - trace) + au / th
    return grad


__all__ = ["laplace_gradient"]
