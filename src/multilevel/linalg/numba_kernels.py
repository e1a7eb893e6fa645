"""The numba kernels of :mod:`multilevel.linalg.kernels`, at module level.

numba's on-disk cache (``cache=True``) only finds functions defined at module level again in a
new process, and it only notices edits to the file a function is defined in: so the kernels that
call each other live here together, and :mod:`multilevel.linalg.kernels` imports this module on
first use (keeping ``import multilevel`` free of numba).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def column_pairs(a0, a1, rows_a, va, b0, b1, rows_b, vb, out, diagonal):
    # out[rows_a[a], rows_b[b]] -= va[a] vb[b]ᵀ for a in a0:a1, b in b0:b1 (one level);
    # ``diagonal``: A is B and b0:b1 is a0:a1 (rows ascending), so b runs up to a.
    qa = va.shape[1]
    qb = vb.shape[1]
    qc = va.shape[2]
    for a in range(a0, a1):
        r = rows_a[a]
        end = a + 1 if diagonal else b1
        if qa == 1 and qb == 1:
            row = out[r]
            if qc == 1:
                v0 = va[a, 0, 0]
                for b in range(b0, end):
                    row[rows_b[b]] -= v0 * vb[b, 0, 0]
            elif qc == 2:
                v0 = va[a, 0, 0]
                v1 = va[a, 0, 1]
                for b in range(b0, end):
                    row[rows_b[b]] -= v0 * vb[b, 0, 0] + v1 * vb[b, 0, 1]
            else:
                for b in range(b0, end):
                    acc = 0.0
                    for t in range(qc):
                        acc += va[a, 0, t] * vb[b, 0, t]
                    row[rows_b[b]] -= acc
            continue
        for b in range(b0, end):
            s = rows_b[b]
            for x in range(qa):
                for y in range(qb):
                    acc = 0.0
                    for t in range(qc):
                        acc += va[a, x, t] * vb[b, y, t]
                    out[r * qa + x, s * qb + y] -= acc

@numba.njit(cache=True, nogil=True)
def downdate(colptrs_a, rows_a, va, colptrs_b, rows_b, vb, out, lower):
    # Tile by tile (a single tile is the plain loop over levels); within a pair of tiles,
    # level by level, so every element sums its terms in level order either way.
    ncols = colptrs_a.shape[1] - 1
    for ta in range(colptrs_a.shape[0]):
        ca = colptrs_a[ta]
        for tb in range(colptrs_b.shape[0]):
            if lower and tb > ta:
                break
            cb = colptrs_b[tb]
            diagonal = lower and tb == ta
            for k in range(ncols):
                a0 = ca[k]
                a1 = ca[k + 1]
                b0 = cb[k]
                b1 = cb[k + 1]
                if a0 < a1 and b0 < b1:
                    column_pairs(a0, a1, rows_a, va, b0, b1, rows_b, vb, out, diagonal)

@numba.njit(cache=True, nogil=True)
def times_transpose(colptr, rows, vals, dense_t, out_t):
    # out_t[r*qr + x, :] += vals[a, x, t] * dense_t[k*qc + t, :]
    qr = vals.shape[1]
    qc = vals.shape[2]
    m = dense_t.shape[1]
    for k in range(colptr.shape[0] - 1):
        for a in range(colptr[k], colptr[k + 1]):
            r = rows[a]
            for x in range(qr):
                for t in range(qc):
                    v = vals[a, x, t]
                    src = k * qc + t
                    dst = r * qr + x
                    for i in range(m):
                        out_t[dst, i] += v * dense_t[src, i]

@numba.njit(cache=True, nogil=True)
def lower_blocks(vals, cols, p1, lam):
    # out[n, x, u] = Σ_y Σ_t lam[y, x] vals[n, y, t] p1[cols[n], t, u]
    nnz, qj, q1 = vals.shape
    out = np.empty((nnz, qj, q1))
    if qj == 1:
        lam00 = lam[0, 0]
        for n in range(nnz):
            c = cols[n]
            for u in range(q1):
                acc = 0.0
                for t in range(q1):
                    acc += vals[n, 0, t] * p1[c, t, u]
                out[n, 0, u] = 0.0 + lam00 * acc
        return out
    tmp = np.empty((qj, q1))
    for n in range(nnz):
        c = cols[n]
        for y in range(qj):
            for u in range(q1):
                acc = 0.0
                for t in range(q1):
                    acc += vals[n, y, t] * p1[c, t, u]
                tmp[y, u] = acc
        for x in range(qj):
            for u in range(q1):
                acc = 0.0
                for y in range(x, qj):
                    acc += lam[y, x] * tmp[y, u]
                out[n, x, u] = acc
    return out

@numba.njit(cache=True, nogil=True)
def first_block(a11, lam):
    # per level: L = chol(Λᵀ A Λ + I) (lower), P = Λ L⁻ᵀ
    n, q, _ = a11.shape
    l11 = np.zeros((n, q, q))
    p1 = np.empty((n, q, q))
    tmp = np.empty((q, q))
    m = np.empty((q, q))
    inv = np.zeros((q, q))
    for k in range(n):
        for i in range(q):
            for j in range(q):
                acc = 0.0
                for t in range(q):
                    acc += a11[k, i, t] * lam[t, j]
                tmp[i, j] = acc
        for i in range(q):
            for j in range(i + 1):
                acc = 1.0 if i == j else 0.0
                for t in range(q):
                    acc += lam[t, i] * tmp[t, j]
                m[i, j] = acc
        for j in range(q):
            d = m[j, j]
            for t in range(j):
                d -= l11[k, j, t] * l11[k, j, t]
            d = np.sqrt(d)
            l11[k, j, j] = d
            for i in range(j + 1, q):
                acc = m[i, j]
                for t in range(j):
                    acc -= l11[k, i, t] * l11[k, j, t]
                l11[k, i, j] = acc / d
        for j in range(q):
            inv[j, j] = 1.0 / l11[k, j, j]
            for i in range(j + 1, q):
                acc = 0.0
                for t in range(j, i):
                    acc -= l11[k, i, t] * inv[t, j]
                inv[i, j] = acc / l11[k, i, i]
        for i in range(q):
            for u in range(q):
                acc = 0.0
                for t in range(u + 1):
                    acc += lam[i, t] * inv[u, t]
                p1[k, i, u] = acc
    return l11, p1


__all__ = ["column_pairs", "downdate", "first_block", "lower_blocks", "times_transpose"]
