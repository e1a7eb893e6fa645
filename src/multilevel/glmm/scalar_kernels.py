"""Compiled kernels of the one-scalar-term GLMM: PIRLS with β fixed or updated, and the
Laplace / adaptive Gauss-Hermite objectives at its modes.

Binomial (logit, probit, cloglog) and Poisson (log) by a family code (see
:data:`multilevel.glmm.pirls_compiled.CODES`). The functions are module-level so that numba's
on-disk cache finds them again in a new process (closures over other compiled functions get a
new cache key in every process, and so were compiled again at every first use); this module is
imported only when a kernel is first needed (:func:`multilevel.glmm.pirls_compiled._kernel`), so
that importing the package does not import numba. numba's cache notices an edit of the file a
function is in, not of the files of the functions it calls: the family functions compiled in
from :mod:`~multilevel.glmm.family_kernels` are named by hash in :data:`COMPILED_IN`.
"""

from __future__ import annotations

import numba
import numpy as np

from multilevel.glmm.family_kernels import (
    EPS,
    LOG_EPS,
    in_range,
    linkinv,
    mu_eta,
    unit_deviance,
    variance,
)

#: Start of the SHA-256 of every file whose kernels are compiled into these: numba's cache of
#: this file does not notice edits there, so an edit there must change this file too (a test
#: compares them).
COMPILED_IN = {"family_kernels.py": "db4b9f1e415f0d26"}


@numba.njit(cache=True, nogil=True, error_model="numpy")
def deviance(y, wt, eta_fixed, zl, index, u, code, eta, mu):
    """Σ unit deviances at u (fills eta, mu); NaN when μ leaves the family's range."""
    dev = 0.0
    valid = True
    for i in range(y.shape[0]):
        e = eta_fixed[i] + zl[i] * u[index[i]]
        m = linkinv(e, code)
        eta[i] = e
        mu[i] = m
        if not in_range(m, code):
            valid = False
        dev += unit_deviance(y[i], m, wt[i], code)
    if not valid:
        return np.nan
    return dev


@numba.njit(cache=True, nogil=True, error_model="numpy")
def factor_diagonal(eta, mu, wt, zl, index, nlev, code):
    """L(θ) of one scalar term at the weights of η and μ: sqrt(1 + Σ w (zλ)²) per level."""
    m = np.ones(nlev)
    for i in range(eta.shape[0]):
        me = mu_eta(eta[i], mu[i], code)
        w = wt[i] * me * me / variance(mu[i], code)
        m[index[i]] += w * zl[i] * zl[i]
    return np.sqrt(m)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def pirls_scalar(y, wt, eta_fixed, zl, index, nlev, u0, code, tol, utol, maxiter):
    """PIRLS over u with β fixed (η = eta_fixed + zλ u): :func:`pirls_joint` without
    fixed-effects columns. u, η, μ, iterations, converged and the diagonal of L(θ) per level."""
    n = y.shape[0]
    u, _, eta, mu, iteration, converged, _, ldiag = pirls_joint(
        np.empty((n, 0)), eta_fixed, zl, 1.0, index, nlev, u0, np.empty(0), eta_fixed, False,
        y, wt, code, tol, utol, maxiter,
    )
    return u, eta, mu, iteration, converged, ldiag


@numba.njit(cache=True, nogil=True, error_model="numpy")
def mu_deviance(eta, y, wt, code):
    """μ = g⁻¹(η) and Σ unit deviances (NaN when μ leaves the family's range)."""
    n = eta.shape[0]
    mu = np.empty(n)
    dev = 0.0
    valid = True
    for i in range(n):
        m = linkinv(eta[i], code)
        mu[i] = m
        if not in_range(m, code):
            valid = False
        dev += unit_deviance(y[i], m, wt[i], code)
    return mu, (dev if valid else np.nan)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def working(eta, mu, y, wt, code):
    """Working weights and (y - μ)/(dμ/dη) of one PIRLS step."""
    n = eta.shape[0]
    w = np.empty(n)
    r = np.empty(n)
    for i in range(n):
        me = mu_eta(eta[i], mu[i], code)
        w[i] = wt[i] * me * me / variance(mu[i], code)
        r[i] = (y[i] - mu[i]) / me
    return w, r


@numba.njit(cache=True, nogil=True, error_model="numpy")
def m2ll(y, wt, trials, succ, const, mu, code):
    """-2 log p(yᵢ | μ) of one observation (family.loglik_terms), ``const`` its data part."""
    if code == 1:
        t = -mu
        if y != 0.0 or np.isnan(mu):
            t += y * np.log(mu)
        return const - 2.0 * wt * t
    if not trials > 0:
        return 0.0
    t = 0.0
    if succ != 0.0 or np.isnan(mu):
        t += succ * np.log(mu)
    if trials - succ != 0.0 or np.isnan(mu):
        t += (trials - succ) * np.log1p(-mu)
    return const - 2.0 * t


@numba.njit(cache=True, nogil=True, error_model="numpy")
def m2ll_eta(y, wt, trials, succ, const, eta, code):
    """m2ll at μ = g⁻¹(η); log μ and log(1 - μ) straight from η for the logit and log links
    (two transcendental functions instead of four)."""
    if code == 0:
        if not trials > 0:
            return 0.0
        if eta >= 0:
            soft = np.log1p(np.exp(-eta))
            log_mu, log_1m = -soft, -eta - soft
        else:
            soft = np.log1p(np.exp(eta))
            log_mu, log_1m = eta - soft, -soft
        t = 0.0
        if succ != 0.0 or np.isnan(eta):
            t += succ * log_mu
        if trials - succ != 0.0 or np.isnan(eta):
            t += (trials - succ) * log_1m
        return const - 2.0 * t
    if code == 1:
        mu = np.exp(eta)
        log_mu = eta
        if mu < EPS:  # the inverse link's floor
            mu, log_mu = EPS, LOG_EPS
        t = -mu
        if y != 0.0 or np.isnan(eta):
            t += y * log_mu
        return const - 2.0 * wt * t
    return m2ll(y, wt, trials, succ, const, linkinv(eta, code), code)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def quadrature_unit_z(eta, zl, index, ldiag, nodes, y, wt, trials, succ, const, code, gk):
    """Add -2 log p(yᵢ | η at every node) to gk[level, node] for z ≡ 1, logit or log link.

    The node moves η by t_k λ / L_gg, the same for the whole level, so exp(η ± t_k λ / L_gg)
    is exp(±η) (one per observation) times exp(±t_k λ / L_gg) (one per level and node): no
    exponential per observation and node. Where a product over- or underflows, the direct
    formula (:func:`m2ll_eta`) answers.
    """
    nlev, nq = gk.shape
    up = np.empty((nlev, nq))
    down = np.empty((nlev, nq))
    for g in range(nlev):
        for k in range(nq):
            up[g, k] = np.exp(nodes[k] * (zl[0] / ldiag[g]))
            down[g, k] = 1.0 / up[g, k]
    for i in range(eta.shape[0]):
        g = index[i]
        s = zl[i] / ldiag[g]
        e_up = np.exp(eta[i])
        e_down = 1.0 / e_up
        for k in range(nq):
            x = eta[i] + nodes[k] * s
            if code == 0:
                if not trials[i] > 0:
                    continue
                # exp(-|x|), and log μ, log(1 - μ) from log1p of it
                e = e_down * down[g, k] if x >= 0 else e_up * up[g, k]
                if not (e > 0.0 and e <= 1.0):
                    gk[g, k] += m2ll_eta(y[i], wt[i], trials[i], succ[i], const[i], x, code)
                    continue
                soft = np.log1p(e)
                if x >= 0:
                    log_mu, log_1m = -soft, -x - soft
                else:
                    log_mu, log_1m = x - soft, -soft
                t = 0.0
                if succ[i] != 0.0:
                    t += succ[i] * log_mu
                if trials[i] - succ[i] != 0.0:
                    t += (trials[i] - succ[i]) * log_1m
                gk[g, k] += const[i] - 2.0 * t
            else:
                mu = e_up * up[g, k]
                if not (mu > 0.0 and mu < np.inf) or mu < EPS:
                    gk[g, k] += m2ll_eta(y[i], wt[i], trials[i], succ[i], const[i], x, code)
                    continue
                t = -mu
                if y[i] != 0.0:
                    t += y[i] * x
                gk[g, k] += const[i] - 2.0 * wt[i] * t


@numba.njit(cache=True, nogil=True, error_model="numpy")
def objective(X, beta, offset, z, lam, index, nlev, u0, y, wt, trials, succ, const, code,
              tol, utol, maxiter, nodes, weights, unit_z):
    """The Laplace (no nodes) or AGQ objective at (λ, β), PIRLS started from u0: the value,
    the modes and whether they are a start for the next call (converged and finite)."""
    n = y.shape[0]
    eta_fixed = offset.copy()
    for i in range(n):
        for j in range(X.shape[1]):
            eta_fixed[i] += X[i, j] * beta[j]
    zl = z * lam
    u, eta, mu, _, conv, ldiag = pirls_scalar(
        y, wt, eta_fixed, zl, index, nlev, u0, code, tol, utol, maxiter
    )
    nq = nodes.shape[0]
    total = 0.0
    if nq == 0:  # Laplace
        for i in range(n):
            total += m2ll(y[i], wt[i], trials[i], succ[i], const[i], mu[i], code)
        for g in range(nlev):
            total += u[g] * u[g] + 2.0 * np.log(ldiag[g])
        return total, u, conv and np.all(np.isfinite(u))
    # adaptive Gauss-Hermite: node k moves level g's mode by t_k / L_gg
    gk = np.zeros((nlev, nq))
    if unit_z and code <= 1:
        quadrature_unit_z(eta, zl, index, ldiag, nodes, y, wt, trials, succ, const, code, gk)
    else:
        for i in range(n):
            g = index[i]
            s = zl[i] / ldiag[g]
            for k in range(nq):
                gk[g, k] += m2ll_eta(y[i], wt[i], trials[i], succ[i], const[i],
                                     eta[i] + nodes[k] * s, code)
    a = np.empty(nq)
    for g in range(nlev):
        amax = -np.inf
        for k in range(nq):
            uk = u[g] + nodes[k] / ldiag[g]
            a[k] = -0.5 * (gk[g, k] + uk * uk - nodes[k] * nodes[k])
            amax = max(amax, a[k])
        if np.isfinite(amax):
            s = 0.0
            for k in range(nq):
                s += weights[k] * np.exp(a[k] - amax)
            lse = amax + np.log(s)
        else:
            lse = amax
        total += 2.0 * np.log(ldiag[g]) - 2.0 * lse
    return total, u, conv and np.all(np.isfinite(u))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def fixed_part(X, offset, b, out):
    """out = offset + X b (exactly offset without columns)."""
    if X.shape[1] == 0:
        out[:] = offset
        return
    for i in range(X.shape[0]):
        out[i] = offset[i] + np.dot(X[i], b)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def pirls_joint(X, offset, z, lam, index, nlev, u0, b0, eta_start, glm_start, y, wt, code,
                tol, utol, maxiter):
    """PIRLS updating u and β together (nAGQ = 0; with no columns in X, u alone), the rules of
    the general path; the q = 1 system is solved through the p × p Schur complement of its
    diagonal u-block. u, β, η, μ, iterations, converged, whether the system could be solved,
    and the diagonal of L(θ) per level."""
    n, p = X.shape
    zl = z * lam
    u = u0.copy()
    b = b0.copy()
    eta = np.empty(n)
    mu = np.empty(n)
    eta_try = np.empty(n)
    mu_try = np.empty(n)
    ef = np.empty(n)
    if glm_start:
        for i in range(n):
            eta[i] = eta_start[i]
            mu[i] = linkinv(eta[i], code)
        pdev = np.inf
    else:
        fixed_part(X, offset, b, ef)
        pdev = deviance(y, wt, ef, zl, index, u, code, eta, mu) + np.sum(u * u)
    m = np.empty(nlev)
    r = np.empty(nlev)
    cg = np.empty((nlev, p))
    a = np.empty((p, p))
    rhs = np.empty(p)
    u_new = np.empty(nlev)
    b_new = np.empty(p)
    u_try = np.empty(nlev)
    b_try = np.empty(p)
    converged = False
    solved = True
    iteration = 0
    for iteration in range(1, maxiter + 1):  # noqa: B007  (returned)
        m[:] = 1.0
        r[:] = 0.0
        cg[:, :] = 0.0
        a[:, :] = 0.0
        rhs[:] = 0.0
        for i in range(n):
            me = mu_eta(eta[i], mu[i], code)
            w = wt[i] * me * me / variance(mu[i], code)
            work = eta[i] - offset[i] + (y[i] - mu[i]) / me
            g = index[i]
            wz = w * zl[i]
            m[g] += wz * zl[i]
            r[g] += wz * work
            for j in range(p):
                wx = w * X[i, j]
                cg[g, j] += wz * X[i, j]
                rhs[j] += wx * work
                for k in range(j + 1):
                    a[j, k] += wx * X[i, k]
        for g in range(nlev):  # Schur complement of the u-block
            for j in range(p):
                cj = cg[g, j] / m[g]
                rhs[j] -= cj * r[g]
                for k in range(j + 1):
                    a[j, k] -= cj * cg[g, k]
        for j in range(p):  # Cholesky (lower) in place, then the two triangular solves
            for k in range(j):
                a[j, j] -= a[j, k] * a[j, k]
            if not a[j, j] > 0.0:
                solved = False
                break
            a[j, j] = np.sqrt(a[j, j])
            for i2 in range(j + 1, p):
                for k in range(j):
                    a[i2, j] -= a[i2, k] * a[j, k]
                a[i2, j] /= a[j, j]
        if not solved:
            break
        for j in range(p):
            t = rhs[j]
            for k in range(j):
                t -= a[j, k] * b_new[k]
            b_new[j] = t / a[j, j]
        for j in range(p - 1, -1, -1):
            t = b_new[j]
            for k in range(j + 1, p):
                t -= a[k, j] * b_new[k]
            b_new[j] = t / a[j, j]
        for g in range(nlev):
            t = r[g]
            for j in range(p):
                t -= cg[g, j] * b_new[j]
            u_new[g] = t / m[g]
        step = 1.0
        accepted = False
        pdev_try = np.inf
        for _half in range(30):
            for g in range(nlev):
                u_try[g] = u[g] + step * (u_new[g] - u[g])
            for j in range(p):
                b_try[j] = b[j] + step * (b_new[j] - b[j])
            fixed_part(X, offset, b_try, ef)
            pdev_try = deviance(y, wt, ef, zl, index, u_try, code, eta_try, mu_try)
            pdev_try += np.sum(u_try * u_try)
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
        for g in range(nlev):
            moved = max(moved, abs(u_try[g] - u[g]))
            u[g] = u_try[g]
        for j in range(p):
            moved = max(moved, abs(b_try[j] - b[j]))
            b[j] = b_try[j]
        eta[:] = eta_try
        mu[:] = mu_try
        pdev = pdev_try
        if change < tol * (0.1 + abs(pdev)) and moved < utol:
            converged = True
            break
    ldiag = factor_diagonal(eta, mu, wt, zl, index, nlev, code)
    return u, b, eta, mu, iteration, converged, solved, ldiag


@numba.njit(cache=True, nogil=True, error_model="numpy")
def objective_joint(X, offset, z, lam, index, nlev, u0, b0, eta_start, glm_start, y, wt,
                    trials, succ, const, code, tol, utol, maxiter):
    """The nAGQ = 0 objective at λ (PIRLS over u and β): the value, u, β, whether they are a
    start for the next call, and False when the fixed effects' system was not positive
    definite."""
    u, b, _, mu, _, conv, solved, ldiag = pirls_joint(
        X, offset, z, lam, index, nlev, u0, b0, eta_start, glm_start, y, wt, code, tol,
        utol, maxiter,
    )
    total = 0.0
    for i in range(y.shape[0]):
        total += m2ll(y[i], wt[i], trials[i], succ[i], const[i], mu[i], code)
    for g in range(nlev):
        total += u[g] * u[g] + 2.0 * np.log(ldiag[g])
    return total, u, b, conv and np.all(np.isfinite(u)), solved
