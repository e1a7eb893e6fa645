"""Kenward-Roger adjusted covariance of β̂ and denominator df, as pbkrtest computes them.

The marginal covariance is written linearly, Σ = Σ_r γ_r G_r: for each random-effects term one
G_r = Z (I ⊗ E_ij) Zᵀ per element (i ≥ j) of its covariance matrix, and the identity for the
residual variance (Kenward and Roger 1997, with the expected REML information; no second
derivatives of Σ). With W = Σ⁻¹ and Φ = (XᵀWX)⁻¹:

- P_r = -XᵀW G_r W X,  Q_rs = XᵀW G_r W G_s W X,
- expected information I_rs = ½ [tr(W G_r W G_s) - 2 tr(Φ Q_rs) + tr(Φ P_r Φ P_s)],
- Φ_A = Φ + 2 Φ {Σ_rs (I⁻¹)_rs (Q_rs - P_r Φ P_s)} Φ.

Nothing of size n × n is formed: with U = [Z X] (rows scaled by √w) and Λ the relative
covariance factor, W U = U H for the (q+p)-square H = σ⁻² (I - R M⁻¹ Rᵀ UᵀU), R = [Λ; 0],
M = ΛᵀZᵀZΛ + I, so every product above is a block of UᵀWᵏU = UᵀU Hᵏ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from multilevel.errors import NotSupportedError
from multilevel.inference._common import cached
from multilevel.inference.refit import refit

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

MAX_RANDOM_EFFECTS = 3000


@dataclass(frozen=True)
class KRAdjusted:
    """The adjusted covariance and what the df need.

    Attributes
    ----------
    vcov
        Φ, the unadjusted covariance of β̂ (REML fit).
    vcov_adjusted
        Φ_A.
    p_mats
        P_r, shape (k, p, p).
    w
        Asymptotic covariance of the covariance parameters γ, 2 × (information)⁻¹ as pbkrtest
        defines it.
    beta
        β̂ of the REML fit.
    """

    vcov: FloatArray
    vcov_adjusted: FloatArray
    p_mats: FloatArray
    w: FloatArray
    beta: FloatArray


def _param_pairs(result: Any) -> list[tuple[IntArray, IntArray]]:
    """For each covariance parameter, the column indices (i-columns, j-columns) in Z."""
    pairs = []
    offset = 0
    for t in result.design.terms:
        q, nlev = t.q, t.nlevels
        base = offset + np.arange(nlev) * q
        for j in range(q):
            for i in range(j, q):
                pairs.append((base + i, base + j))
        offset += q * nlev
    return pairs


def _e_left(pair: tuple[IntArray, IntArray], a: FloatArray) -> FloatArray:
    """E_r @ a for E_r = Σ_levels (e_i e_jᵀ + e_j e_iᵀ) (or e_i e_iᵀ when i = j)."""
    ii, jj = pair
    out = np.zeros_like(a)
    if np.array_equal(ii, jj):
        out[ii] = a[ii]
    else:
        out[ii] = a[jj]
        out[jj] = a[ii]
    return out


def _compute(result: Any) -> KRAdjusted:
    if not result.reml:
        result = refit(result, reml=True)
    d = result.design
    sw = np.ones(d.nobs) if d.weights is None else np.sqrt(d.weights)
    zs = [t.matrix() for t in result.system.terms]  # weights already applied
    z = sp.hstack(zs, format="csc")
    q = z.shape[1]
    if q > MAX_RANDOM_EFFECTS:
        raise NotSupportedError(
            f"Kenward-Roger needs dense matrices of the {q} random effects (more than "
            f"{MAX_RANDOM_EFFECTS}); use ddf='satterthwaite' for a model this large"
        )
    x = d.X * sw[:, None]
    p = x.shape[1]
    zx = np.asarray(z.T @ x)
    gram = np.zeros((q + p, q + p))
    gram[:q, :q] = (z.T @ z).toarray()
    gram[:q, q:] = zx
    gram[q:, :q] = zx.T
    gram[q:, q:] = x.T @ x
    lam = sp.block_diag(
        [sp.kron(sp.identity(t.nlevels), sp.csr_matrix(f)) for t, f in
         zip(result.system.terms, result.lambdas, strict=True)],
        format="csr",
    ).toarray()
    r = np.zeros((q + p, q))
    r[:q] = lam
    m = r.T @ gram @ r + np.eye(q)
    sigma2 = result.sigma**2
    h = (np.eye(q + p) - r @ np.linalg.solve(m, r.T @ gram)) / sigma2
    a1 = gram @ h
    a2 = a1 @ h
    a3 = a2 @ h
    n = d.nobs
    mm = np.linalg.solve(m, m - np.eye(q))
    tr_w2 = (n - 2.0 * np.trace(mm) + float(np.sum(mm * mm.T))) / sigma2**2

    zz1, zx1, xx1 = a1[:q, :q], a1[:q, q:], a1[q:, q:]
    zz2, zx2, xx2 = a2[:q, :q], a2[:q, q:], a2[q:, q:]
    xx3 = a3[q:, q:]
    phi = np.linalg.inv(xx1)
    phi = 0.5 * (phi + phi.T)

    pairs = _param_pairs(result)
    k = len(pairs) + 1
    e_zz1 = [_e_left(pr, zz1) for pr in pairs]
    e_zx1 = [_e_left(pr, zx1) for pr in pairs]
    e_zx2 = [_e_left(pr, zx2) for pr in pairs]
    p_mats = np.empty((k, p, p))
    for a, ezx in enumerate(e_zx1):
        p_mats[a] = -zx1.T @ ezx
    p_mats[-1] = -xx2
    ktrace = np.empty((k, k))
    qmats: dict[tuple[int, int], FloatArray] = {}
    for a in range(k - 1):
        for b in range(a, k - 1):
            ktrace[a, b] = ktrace[b, a] = float(np.sum(e_zz1[a] * e_zz1[b].T))
            qmats[(a, b)] = _q_random(zx1, zz1, pairs[a], pairs[b])
        ktrace[a, k - 1] = ktrace[k - 1, a] = float(np.trace(_e_left(pairs[a], zz2)))
        qmats[(a, k - 1)] = zx1.T @ e_zx2[a]
    ktrace[k - 1, k - 1] = tr_w2
    qmats[(k - 1, k - 1)] = xx3

    info2 = np.empty((k, k))
    for a in range(k):
        phi_pa = phi @ p_mats[a]
        for b in range(a, k):
            val = ktrace[a, b] - 2.0 * float(np.sum(phi * qmats[(a, b)]))
            val += float(np.sum(phi_pa * (p_mats[b] @ phi)))
            info2[a, b] = info2[b, a] = val
    evals = np.linalg.eigvalsh(info2)
    if np.min(np.abs(evals)) > 1e-10:
        w = 2.0 * np.linalg.inv(info2)
    else:
        w = 2.0 * np.linalg.pinv(info2)
    w = 0.5 * (w + w.T)
    uu = np.zeros((p, p))
    for a in range(k):
        for b in range(a, k):
            qab = qmats[(a, b)]
            term = qab - p_mats[a] @ phi @ p_mats[b]
            if a == b:
                uu += w[a, a] * term
            else:
                uu += w[a, b] * (term + term.T)
    phi_a = phi + 2.0 * phi @ uu @ phi
    return KRAdjusted(
        vcov=phi,
        vcov_adjusted=0.5 * (phi_a + phi_a.T),
        p_mats=p_mats,
        w=w,
        beta=np.asarray(result.estimates.beta, dtype=float),
    )


def _q_random(
    zx1: FloatArray, zz1: FloatArray, pa: tuple[IntArray, IntArray], pb: tuple[IntArray, IntArray]
) -> FloatArray:
    """Q_ab = (XᵀWZ) E_a (ZᵀWZ) E_b (ZᵀWX) for two random-effects parameters."""
    left = _e_left(pa, zx1)  # E_a ZᵀWX, (q, p)
    right = _e_left(pb, zx1)  # E_b ZᵀWX
    return np.asarray(left.T @ zz1 @ right)


def kr_adjusted(result: Any) -> KRAdjusted:
    """Kenward-Roger quantities of a fit (REML; ML fits are refitted with REML), cached."""
    return cached(result, "kenward_roger", lambda: _compute(result))


@dataclass(frozen=True)
class KRTest:
    """A Kenward-Roger F test of L β = 0.

    Attributes
    ----------
    fvalue
        Scaled F statistic (F.scaling × Wald/q with Φ_A).
    numdf, dendf
        Degrees of freedom.
    scaling
        pbkrtest's F.scaling.
    """

    fvalue: float
    numdf: int
    dendf: float
    scaling: float


def _a1_a2(kr: KRAdjusted, L: FloatArray) -> tuple[float, float]:
    phi = kr.vcov
    theta = L.T @ np.linalg.solve(L @ phi @ L.T, L)
    theta_phi = theta @ phi
    us = [theta_phi @ pm @ phi for pm in kr.p_mats]
    a1 = a2 = 0.0
    k = len(us)
    for i in range(k):
        for j in range(i, k):
            e = 1.0 if i == j else 2.0
            a1 += e * kr.w[i, j] * float(np.trace(us[i])) * float(np.trace(us[j]))
            a2 += e * kr.w[i, j] * float(np.sum(us[i] * us[j].T))
    return a1, a2


def _div_zero(x: float, y: float, tol: float = 1e-14) -> float:
    return 1.0 if abs(x) < tol and abs(y) < tol else x / y


def kr_test(kr: KRAdjusted, L: Any, rhs: Any = 0.0) -> KRTest:
    """Kenward-Roger F test (pbkrtest's ``.KR_adjust``) of L β = rhs; also the df of a single
    contrast (one row of L)."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    q = int(np.linalg.matrix_rank(L))
    a1, a2 = _a1_a2(kr, L)
    b = (a1 + 6.0 * a2) / (2.0 * q)
    g = ((q + 1) * a1 - (q + 4) * a2) / ((q + 2) * a2)
    denom = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2 - g) / denom
    v0 = 1.0 + c1 * b
    v1 = 1.0 - c2 * b
    v2 = 1.0 - c3 * b
    v0 = 0.0 if abs(v0) < 1e-10 else v0
    rho = (_div_zero(1.0 - a2 / q, v1)) ** 2 * v0 / v2 / q
    df2 = 4.0 + (q + 2.0) / (q * rho - 1.0)
    scaling = 1.0 if abs(df2 - 2.0) < 1e-2 else df2 * (1.0 - a2 / q) / (df2 - 2.0)
    diff = L @ kr.beta - np.broadcast_to(np.asarray(rhs, dtype=float), (L.shape[0],))
    wald = float(diff @ np.linalg.solve(L @ kr.vcov_adjusted @ L.T, diff))
    return KRTest(scaling * wald / q, q, df2, scaling)
