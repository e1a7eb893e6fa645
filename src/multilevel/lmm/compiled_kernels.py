"""The numba kernels of the compiled LMM objectives, at module level.

:mod:`multilevel.lmm.compiled` (one term) and :mod:`multilevel.lmm.compiled_scalar` (scalar
terms) import this module on first use. numba's on-disk cache (``cache=True``) only finds
module-level functions again in a new process (a kernel defined inside a function, or calling
one, was compiled anew in every process), and it only notices edits to the file a function is
defined in, so kernels that call each other stay in this one file.
"""

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def single_term(a11, theta, rows, cols, xyz0, xyxy, nobs, reml, log_weights):
    n1, q = a11.shape[0], a11.shape[1]
    lam = np.zeros((q, q))
    for k in range(theta.shape[0]):
        lam[rows[k], cols[k]] = theta[k]
    m = xyxy.shape[0]
    p = m - 1
    xx = xyxy.copy()
    low = np.empty((q, q))
    b = np.empty((m, q))
    lx = np.empty((m, q))
    ld = 0.0
    for g in range(n1):
        for i in range(q):
            for j in range(q):
                acc = 0.0
                for k in range(q):
                    lk = lam[k, i]
                    if lk != 0.0:
                        for l in range(q):
                            acc += lk * a11[g, k, l] * lam[l, j]
                low[i, j] = acc + (1.0 if i == j else 0.0)
        ldg = chol_lower(low, q)  # the level's factor, in place (lower triangle)
        if np.isnan(ldg):
            return np.inf
        ld += ldg
        # rows of [X y] for this level: (xyz0_g Λ) L_g⁻ᵀ
        for r in range(m):
            for j in range(q):
                acc = 0.0
                for k in range(q):
                    acc += xyz0[r, g * q + k] * lam[k, j]
                b[r, j] = acc
            for j in range(q):
                s = b[r, j]
                for k in range(j):
                    s -= lx[r, k] * low[j, k]
                lx[r, j] = s / low[j, j]
        for r in range(m):
            for c in range(r + 1):
                acc = 0.0
                for j in range(q):
                    acc += lx[r, j] * lx[c, j]
                xx[r, c] -= acc
    return xy_criterion(xx, p, ld, log_weights, nobs, reml)


@numba.njit(cache=True, nogil=True)
def xy_criterion(xx, p, ld, log_weights, nobs, reml):
    """The criterion from the [X y] block's Schur complement ``xx`` (factored in place) and
    log|L_θ|² ``ld``; the response's pivot is r, which may be 0 for a perfect fit (-inf)."""
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
    return xy_criterion(xx, p, ld, log_weights, nobs, reml)


@numba.njit(cache=True, nogil=True)
def objective_rows(kind, points, st, sc, xyxy, nobs, reml, log_weights):
    """The objective at every row of ``points``: :func:`single_term` (kind 0, its arrays in
    ``st``) or :func:`scalar_terms` (kind 1, ``sc``); the other tuple holds empty arrays."""
    out = np.empty(points.shape[0])
    for i in range(points.shape[0]):
        th = points[i]
        if kind == 0:
            out[i] = single_term(st[0], th, st[1], st[2], st[3], xyxy, nobs, reml, log_weights)
        else:
            out[i] = scalar_terms(th, sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], sc[6], sc[7],
                                  xyxy, nobs, reml, log_weights)
    return out


@numba.njit(cache=True, nogil=True)
def stencil_newton(values, n, step):
    """Gradient and Newton direction from the objective on a finite-difference stencil.

    ``values``: f at the centre z, at z + h e_i (i < n), at z - h e_i, and at z + h (e_i + e_j)
    for i < j in row order. Central differences give the gradient and the Hessian's diagonal,
    forward ones the other elements. Returns (g, p, ok) with p = -H⁻¹g; ok is False when a
    Cholesky pivot of H falls below 1e-8 of its largest diagonal element.
    """
    f = values[0]
    g = np.empty(n)
    h = np.empty((n, n))
    h2 = step * step
    for i in range(n):
        g[i] = (values[1 + i] - values[1 + n + i]) / (2.0 * step)
        h[i, i] = (values[1 + i] - 2.0 * f + values[1 + n + i]) / h2
    k = 1 + 2 * n
    for i in range(n):
        for j in range(i + 1, n):
            h[i, j] = h[j, i] = (values[k] - values[1 + i] - values[1 + j] + f) / h2
            k += 1
    top = 0.0
    for i in range(n):
        top = max(top, abs(h[i, i]))
    p = np.zeros(n)
    if np.isnan(chol_lower(h, n)) or not _pivots_above(h, n, 1e-8 * top):
        return g, p, False
    for i in range(n):  # p = -L⁻ᵀ L⁻¹ g
        acc = -g[i]
        for m in range(i):
            acc -= h[i, m] * p[m]
        p[i] = acc / h[i, i]
    for i in range(n - 1, -1, -1):
        acc = p[i]
        for m in range(i + 1, n):
            acc -= h[m, i] * p[m]
        p[i] = acc / h[i, i]
    return g, p, True


@numba.njit(cache=True, nogil=True)
def _pivots_above(low, n, floor):
    for i in range(n):
        if not low[i, i] * low[i, i] > floor:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def local_newton(kind, st, sc, xyxy, nobs, reml, log_weights, z0, lo, d, step, lengths,
                 model_tol, noise_tol, max_iter):
    """Newton steps on finite-difference derivatives from z0 (θ ∘ d), for refits started near
    their optimum (:mod:`multilevel.lmm.local_newton` describes the codes).

    Returns (z, f, code, evaluations); codes 0 and 5 are convergence.
    """
    n = z0.shape[0]
    k = 1 + 2 * n + n * (n - 1) // 2
    offsets = np.zeros((k, n))
    r = 1 + 2 * n
    for i in range(n):
        offsets[1 + i, i] = step
        offsets[1 + n + i, i] = -step
        for j in range(i + 1, n):
            offsets[r, i] = step
            offsets[r, j] = step
            r += 1
    z = z0.copy()
    f = np.inf
    count = 0
    points = np.empty((k, n))
    trial = np.empty((1, n))
    values = np.empty(k)
    f_next = np.inf
    for it in range(max_iter):
        for i in range(n):
            if z[i] - step < lo[i]:
                return z, f, 1, count
        # the centre's value is known after the first step (the accepted trial)
        first = 0 if it == 0 else 1
        for a in range(first, k):
            for i in range(n):
                points[a, i] = (z[i] + offsets[a, i]) / d[i]
        values[first:] = objective_rows(kind, points[first:], st, sc, xyxy, nobs, reml,
                                        log_weights)
        count += k - first
        if it > 0:
            values[0] = f
        for a in range(k):
            if not np.isfinite(values[a]):
                return z, f, 2, count
        f = values[0]
        g, p, ok = stencil_newton(values, n, step)
        if not ok:
            return z, f, 3, count
        slope = 0.0
        for i in range(n):
            slope += g[i] * p[i]
        if -0.5 * slope <= model_tol * max(abs(f), 1.0):
            return z, f, 0, count
        for i in range(n):
            if z[i] + p[i] < lo[i]:
                return z, f, 4, count
        chosen = -1
        for a in range(lengths.shape[0]):  # the full step first, shorter ones if it fails
            for i in range(n):
                trial[0, i] = (z[i] + lengths[a] * p[i]) / d[i]
            tried = objective_rows(kind, trial, st, sc, xyxy, nobs, reml, log_weights)[0]
            count += 1
            if tried <= f + 1e-4 * lengths[a] * slope:
                chosen = a
                f_next = tried
                break
        if chosen < 0:
            if -0.5 * slope <= noise_tol * max(abs(f), 1.0):
                return z, f, 5, count
            return z, f, 6, count
        for i in range(n):
            z[i] = z[i] + lengths[chosen] * p[i]
        f = f_next
    return z, f, 7, count


@numba.njit(cache=True, nogil=True)
def first_inverse_diag(colptr, rows, vals, sinv):
    """l_gᵀ S⁻¹ l_g for every column l_g of L₂₁ (the gradient's diagonal of M⁻¹).

    ``sinv`` holds S⁻¹ = (L₂₂L₂₂ᵀ)⁻¹ in its lower triangle; rows ascend within a column.
    """
    n1 = colptr.shape[0] - 1
    out = np.empty(n1)
    for g in range(n1):
        acc = 0.0
        for a in range(colptr[g], colptr[g + 1]):
            ra = rows[a]
            va = vals[a]
            cross = 0.0
            for b in range(colptr[g], a):
                cross += vals[b] * sinv[ra, rows[b]]
            acc += va * (va * sinv[ra, ra] + 2.0 * cross)
        out[g] = acc
    return out

__all__ = [
    "chol_lower",
    "first_inverse_diag",
    "local_newton",
    "objective_rows",
    "scalar_terms",
    "single_term",
    "stencil_newton",
    "xy_criterion",
]
