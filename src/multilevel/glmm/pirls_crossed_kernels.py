"""The numba kernels of :mod:`multilevel.glmm.pirls_crossed` (compiled on first use).

Layout of the PLS system of one PIRLS step with scalar terms 1..K: u = (u₁, u_later), with u₁
one entry per level of the first term and u_later the levels of terms 2..K one after another
(``cols`` gives an observation's column in it). The system matrix, with Λ folded into Z, is

    [ D     A₂₁ᵀ ]        D   = I + diag(Z₁ᵀ W Z₁)          (first term, diagonal)
    [ A₂₁   B    ]        A₂₁ = [Z_laterᵀ; Xᵀ] W Z₁         (on the pair pattern; X dense)
                          B   = [Z_later X]ᵀ W [Z_later X] + blockdiag(I, 0)

and L = [L₁₁ 0; L₂₁ L₂₂] with L₁₁ = D^½, L₂₁ = A₂₁ L₁₁⁻¹ and L₂₂ L₂₂ᵀ = B - L₂₁ L₂₁ᵀ. X is
present only when β is updated with u (an (n, 0) array otherwise).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from multilevel.glmm.family_kernels import (
    EPS,
    LOG_EPS,
    linkinv,
    mu_eta,
    unit_deviance,
    variance,
)
from multilevel.glmm.vector_math import exp_into, log_into

#: Start of the SHA-256 of every file whose kernels are compiled into these: numba's cache of
#: this file does not notice edits there, so an edit there must change this file too (a test
#: compares them).
COMPILED_IN = {"family_kernels.py": "db4b9f1e415f0d26", "vector_math.py": "4db2972ff57d6538"}

# Module-level functions (not closures): numba's disk cache then finds them in a new process.
_njit = numba.njit(cache=True, nogil=True, error_model="numpy")
# The dense Cholesky factor's dot products may be reassociated (vectorized); NaN checks stay.
_njit_dot = numba.njit(cache=True, nogil=True, error_model="numpy",
                       fastmath={"reassoc", "contract"})  # fmt: skip


@_njit
def predictor(eta_fixed, X, b, g1, z, cols, lam, u, n1, eta):
    """η = η_fixed + X b + Z Λ u (a separate pass: faster than fused with the deviance)."""
    for i in range(eta.shape[0]):
        e = eta_fixed[i]
        for a in range(X.shape[1]):
            e += X[i, a] * b[a]
        e += z[i, 0] * lam[0] * u[g1[i]]
        for k in range(cols.shape[1]):
            e += z[i, k + 1] * lam[k + 1] * u[n1 + cols[i, k]]
        eta[i] = e


@_njit
def deviance(eta, y, wt, code, mu, ent):
    """Σ unit deviances at η (fills μ); NaN when μ leaves the family's range.

    ``ent`` is Σ 2w [y log y + (1 - y) log(1 - y)] (binomial) or Σ 2w [y log y - y] (Poisson),
    the part of the deviance that does not depend on μ. For the logit and log links the rest
    needs one exponential and at most one logarithm per observation, over the whole array
    (:mod:`~multilevel.glmm.vector_math`): with e = exp(-|η|), -log μ = max(-η, 0) + log(1 + e)
    and -log(1 - μ) = max(η, 0) + log(1 + e).
    """
    n = eta.shape[0]
    if code == 0:
        t = np.empty(n)
        e = np.empty(n)
        scratch = np.empty(n)
        for i in range(n):
            t[i] = -abs(eta[i])
        exp_into(t, e, scratch)
        bad = 0
        for i in range(n):
            x = eta[i]
            m = (1.0 if x >= 0.0 else e[i]) / (1.0 + e[i])
            mu[i] = m
            bad += (m <= 0.0) | (m >= 1.0)
            t[i] = 1.0 + e[i]
        log_into(t, e, scratch)  # log(1 + e^-|η|)
        dev = 0.0
        for i in range(n):
            x = eta[i]
            yi = y[i]
            dev += wt[i] * (e[i] + yi * max(-x, 0.0) + (1.0 - yi) * max(x, 0.0))
        return ent + 2.0 * dev if bad == 0 else np.nan
    if code == 1:
        exp_into(eta, mu, np.empty(n))
        dev = 0.0
        for i in range(n):
            small = mu[i] < EPS
            m = EPS if small else mu[i]
            mu[i] = m
            dev += wt[i] * (m - y[i] * (LOG_EPS if small else eta[i]))
        return ent + 2.0 * dev
    dev = 0.0
    valid = True
    for i in range(n):
        m = linkinv(eta[i], code)
        mu[i] = m
        valid = valid and m > 0 and m < 1
        dev += unit_deviance(y[i], m, wt[i], code)
    return dev if valid else np.nan


@_njit
def working(eta, mu, y, wt, eta_fixed, code, w, work):
    """Working weights w and working response (minus η_fixed) at (η, μ), one loop per link."""
    n = eta.shape[0]
    if code == 0:  # logit: dμ/dη = var(μ) = μ(1 - μ)
        for i in range(n):
            m = mu[i]
            me = max(m * (1.0 - m), EPS)
            w[i] = wt[i] * me
            work[i] = eta[i] - eta_fixed[i] + (y[i] - m) / me
    elif code == 1:  # log: dμ/dη = var(μ) = μ
        for i in range(n):
            m = mu[i]
            me = max(m, EPS)
            w[i] = wt[i] * me
            work[i] = eta[i] - eta_fixed[i] + (y[i] - m) / me
    else:
        for i in range(n):
            me = mu_eta(eta[i], mu[i], code)
            w[i] = wt[i] * me * me / variance(mu[i], code)
            work[i] = eta[i] - eta_fixed[i] + (y[i] - mu[i]) / me


@_njit
def accumulate(wts, works, X, g1, z, cols, pair, lam, d, r1, a21, ax1, bb, r2):
    """The blocks D, A₂₁ (later pattern and X), B and the right-hand sides at the working
    weights and working response (:func:`working`).

    A later term's right-hand side and diagonal are summed over runs of equal columns before
    they are stored: data sorted by a later factor would otherwise chain every addition
    through one memory location. The first later term's run sums are scalars (registers).
    """
    p = X.shape[1]
    nq = bb.shape[0] - p
    nk = cols.shape[1]
    d[:] = 1.0
    r1[:] = 0.0
    a21[:] = 0.0
    ax1[:, :] = 0.0
    bb[:, :] = 0.0
    r2[:] = 0.0
    run = np.full(nk, -1)
    run_r = np.zeros(nk)
    run_b = np.zeros(nk)
    run0 = -1
    run0_r = 0.0
    run0_b = 0.0
    l0 = lam[0]
    l1 = lam[1] if nk > 0 else 0.0
    for i in range(wts.shape[0]):
        w = wts[i]
        work = works[i]
        g = g1[i]
        z0 = z[i, 0] * l0
        wz1 = w * z0
        d[g] += wz1 * z0
        r1[g] += wz1 * work
        for a in range(p):
            ax1[a, g] += wz1 * X[i, a]
        if nk > 0:
            ck = cols[i, 0]
            zk = z[i, 1] * l1
            wzk = w * zk
            a21[pair[i, 0]] += wz1 * zk
            if ck != run0:
                if run0 >= 0:
                    r2[run0] += run0_r
                    bb[run0, run0] += run0_b
                run0 = ck
                run0_r = 0.0
                run0_b = 0.0
            run0_r += wzk * work
            run0_b += wzk * zk
            for a in range(p):
                bb[nq + a, ck] += wzk * X[i, a]
        for k in range(1, nk):
            ck = cols[i, k]
            zk = z[i, k + 1] * lam[k + 1]
            wzk = w * zk
            a21[pair[i, k]] += wz1 * zk
            if ck != run[k]:
                if run[k] >= 0:
                    r2[run[k]] += run_r[k]
                    bb[run[k], run[k]] += run_b[k]
                run[k] = ck
                run_r[k] = 0.0
                run_b[k] = 0.0
            run_r[k] += wzk * work
            run_b[k] += wzk * zk
            for m in range(k):  # later terms' columns increase with k: lower triangle
                bb[ck, cols[i, m]] += wzk * (z[i, m + 1] * lam[m + 1])
            for a in range(p):
                bb[nq + a, ck] += wzk * X[i, a]
        for a in range(p):
            wxa = w * X[i, a]
            r2[nq + a] += wxa * work
            for c in range(a + 1):
                bb[nq + a, nq + c] += wxa * X[i, c]
    if run0 >= 0:
        r2[run0] += run0_r
        bb[run0, run0] += run0_b
    for k in range(1, nk):
        if run[k] >= 0:
            r2[run[k]] += run_r[k]
            bb[run[k], run[k]] += run_b[k]
    for c in range(nq):
        bb[c, c] += 1.0


@_njit_dot
def cholesky(a):
    """Lower Cholesky factor of a (lower triangle read), in place; False if not PD."""
    m = a.shape[0]
    for j in range(m):
        s = a[j, j]
        for k in range(j):
            s -= a[j, k] * a[j, k]
        if not s > 0.0:
            return False
        dj = math.sqrt(s)
        a[j, j] = dj
        for i in range(j + 1, m):
            t = a[i, j]
            for k in range(j):
                t -= a[i, k] * a[j, k]
            a[i, j] = t / dj
    for i in range(m):
        for j in range(i + 1, m):
            a[i, j] = 0.0
    return True


#: First-term levels per BLAS product in the dense downdate (bounds its scratch rows).
_CHUNK = 256


@_njit
def factorize(d, a21, ax1, bb, colptr, prow, l11, dense):
    """L₁₁ (into l11), L₂₁ (over a21 and ax1) and L₂₂ (over bb); False if not PD.

    With ``dense`` (the pattern nearly full), the columns of L₂₁ of up to :data:`_CHUNK`
    first-term levels are scattered into the rows of a dense scratch W and B -= WᵀW is one
    BLAS product per chunk (VerbAgg: 6 µs where the scattered updates took 110).
    """
    p = ax1.shape[0]
    m = bb.shape[0]
    nq = m - p
    n1 = d.shape[0]
    if dense:
        w = np.zeros((min(_CHUNK, n1), m))
        for lo_g in range(0, n1, _CHUNK):
            hi_g = min(lo_g + _CHUNK, n1)
            for g in range(lo_g, hi_g):
                s = math.sqrt(d[g])
                l11[g] = s
                row = g - lo_g
                for e in range(colptr[g], colptr[g + 1]):
                    a21[e] /= s
                    w[row, prow[e]] = a21[e]
                for a in range(p):
                    ax1[a, g] /= s
                    w[row, nq + a] = ax1[a, g]
            wk = w[: hi_g - lo_g]
            bb -= np.dot(wk.T, wk)
            for row in range(hi_g - lo_g):
                g = lo_g + row
                for e in range(colptr[g], colptr[g + 1]):
                    w[row, prow[e]] = 0.0
                for a in range(p):
                    w[row, nq + a] = 0.0
        return cholesky(bb)
    for g in range(n1):
        s = math.sqrt(d[g])
        l11[g] = s
        lo, hi = colptr[g], colptr[g + 1]
        for e in range(lo, hi):
            a21[e] /= s
        for a in range(p):
            ax1[a, g] /= s
        for e in range(lo, hi):
            ve = a21[e]
            re = prow[e]
            for f in range(lo, e + 1):  # prow ascends within a column: lower triangle
                bb[re, prow[f]] -= ve * a21[f]
        for a in range(p):
            va = ax1[a, g]
            for e in range(lo, hi):
                bb[nq + a, prow[e]] -= va * a21[e]
            for c in range(a + 1):
                bb[nq + a, nq + c] -= va * ax1[c, g]
    return cholesky(bb)


@_njit
def solve(l11, l21, lx1, l22, colptr, prow, r1, r2, u_new, b_new):
    """The solution of L Lᵀ (u, b) = (r₁, r₂) into u_new and b_new."""
    n1 = l11.shape[0]
    p = lx1.shape[0]
    m = l22.shape[0]
    nq = m - p
    c1 = r1 / l11
    rhs = r2.copy()
    for g in range(n1):
        for e in range(colptr[g], colptr[g + 1]):
            rhs[prow[e]] -= l21[e] * c1[g]
        for a in range(p):
            rhs[nq + a] -= lx1[a, g] * c1[g]
    for i in range(m):  # L₂₂ x = rhs
        t = rhs[i]
        for k in range(i):
            t -= l22[i, k] * rhs[k]
        rhs[i] = t / l22[i, i]
    for i in range(m - 1, -1, -1):  # L₂₂ᵀ x = rhs, by rows of L₂₂
        rhs[i] /= l22[i, i]
        for k in range(i):
            rhs[k] -= l22[i, k] * rhs[i]
    for g in range(n1):
        t = c1[g]
        for e in range(colptr[g], colptr[g + 1]):
            t -= l21[e] * rhs[prow[e]]
        for a in range(p):
            t -= lx1[a, g] * rhs[nq + a]
        u_new[g] = t / l11[g]
    for c in range(nq):
        u_new[n1 + c] = rhs[c]
    for a in range(p):
        b_new[a] = rhs[nq + a]


@_njit
def pirls(y, wt, eta_fixed, X, b0, g1, z, cols, pair, colptr, prow, lam, u0, eta0, fresh,
          code, tol, utol, maxiter, nq, dense, ent, step_tol):
    n = y.shape[0]
    n1 = colptr.shape[0] - 1
    p = X.shape[1]
    nnz = prow.shape[0]
    u = u0.copy()
    b = b0.copy()
    eta = np.empty(n)
    mu = np.empty(n)
    if fresh:
        # GLM-style start: the first step is always taken.
        for i in range(n):
            eta[i] = eta0[i]
            mu[i] = linkinv(eta0[i], code)
        dev = np.nan
        pdev = np.inf
    else:
        predictor(eta_fixed, X, b, g1, z, cols, lam, u, n1, eta)
        dev = deviance(eta, y, wt, code, mu, ent)
        pdev = dev + np.dot(u, u)
    d = np.empty(n1)
    r1 = np.empty(n1)
    l11 = np.empty(n1)
    a21 = np.empty(nnz)
    ax1 = np.empty((p, n1))
    bb = np.empty((nq + p, nq + p))
    r2 = np.empty(nq + p)
    u_new = np.empty(u.shape[0])
    b_new = np.empty(p)
    u_try = np.empty(u.shape[0])
    b_try = np.empty(p)
    eta_try = np.empty(n)
    mu_try = np.empty(n)
    wts = np.empty(n)
    works = np.empty(n)
    converged = False
    iteration = 0
    for iteration in range(1, maxiter + 1):  # returned
        working(eta, mu, y, wt, eta_fixed, code, wts, works)
        accumulate(wts, works, X, g1, z, cols, pair, lam, d, r1, a21, ax1, bb, r2)
        if not factorize(d, a21, ax1, bb, colptr, prow, l11, dense):
            return u, b, eta, mu, iteration, False, -1, l11, a21, bb, dev
        solve(l11, a21, ax1, bb, colptr, prow, r1, r2, u_new, b_new)
        if p == 0 and not (fresh and iteration == 1):
            # Newton step below step_tol: the modes are converged and this factor, at their
            # weights, is L(θ) (the step and a refactorization would change nothing that counts)
            newton = 0.0
            for c in range(u.shape[0]):
                newton = max(newton, abs(u_new[c] - u[c]))
            if newton <= step_tol:
                return u, b, eta, mu, iteration, True, 0, l11, a21, bb, dev
        step = 1.0
        accepted = False
        pdev_try = np.inf
        dev_try = np.nan
        for _ in range(30):
            for c in range(u.shape[0]):
                u_try[c] = u[c] + step * (u_new[c] - u[c])
            for a in range(p):
                b_try[a] = b[a] + step * (b_new[a] - b[a])
            predictor(eta_fixed, X, b_try, g1, z, cols, lam, u_try, n1, eta_try)
            dev_try = deviance(eta_try, y, wt, code, mu_try, ent)
            pdev_try = dev_try + np.dot(u_try, u_try)
            if np.isfinite(pdev_try) and (
                pdev_try <= pdev + 1e-10 * abs(pdev) or not np.isfinite(pdev)
            ):
                accepted = True
                break
            step *= 0.5
        if not accepted:
            break
        change = abs(pdev - pdev_try) if np.isfinite(pdev) else np.inf
        moved = 0.0
        for c in range(u.shape[0]):
            moved = max(moved, abs(u_try[c] - u[c]))
            u[c] = u_try[c]
        for a in range(p):
            moved = max(moved, abs(b_try[a] - b[a]))
            b[a] = b_try[a]
        eta[:] = eta_try
        mu[:] = mu_try
        pdev = pdev_try
        dev = dev_try
        if change < tol * (0.1 + abs(pdev)) and moved < utol:
            converged = True
            break
    # L(θ) of the random effects alone at the converged weights.
    x0 = np.empty((n, 0))
    ax0 = np.empty((0, n1))
    bu = np.empty((nq, nq))
    ru = np.empty(nq)
    working(eta, mu, y, wt, eta_fixed, code, wts, works)
    accumulate(wts, works, x0, g1, z, cols, pair, lam, d, r1, a21, ax0, bu, ru)
    status = 0 if factorize(d, a21, ax0, bu, colptr, prow, l11, dense) else -1
    return u, b, eta, mu, iteration, converged, status, l11, a21, bu, dev


@_njit
def loglik(y, wt, mu, code, const, kk, mk):
    """Σ unit deviances and -2 log p(y | μ) (as Family.dev_resids and loglik_terms)."""
    dev = 0.0
    m2ll = 0.0
    for i in range(y.shape[0]):
        m = mu[i]
        dev += unit_deviance(y[i], m, wt[i], code)
        if code == 1:
            ll = (y[i] * np.log(m) if y[i] != 0.0 else 0.0) - m - const[i]
            m2ll -= 2.0 * wt[i] * ll
        else:
            ll = const[i]
            if kk[i] != 0.0:
                ll += kk[i] * np.log(m)
            if mk[i] != 0.0:
                ll += mk[i] * np.log1p(-m)
            m2ll -= 2.0 * ll
    return dev, m2ll
