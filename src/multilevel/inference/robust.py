"""Cluster-robust covariance of the fixed effects of a linear mixed model.

With V = σ̂² (W⁻¹ + ZΛΛᵀZᵀ) the fitted marginal covariance (block diagonal over clusters that
contain whole groups), M = (XᵀV⁻¹X)⁻¹ and marginal residuals e = y - Xβ̂,

    cov_CR(β̂) = c · M {Σ_j X_jᵀ V_j⁻¹ A_j e_j e_jᵀ A_jᵀ V_j⁻¹ X_j} M,

- CR0: A_j = I, c = 1; CR1: A_j = I, c = J/(J - 1) (Stata's ``mixed, vce(cluster)`` and
  clubSandwich's CR1);
- CR2 (Bell and McCaffrey; Pustejovsky and Tipton 2018, clubSandwich's ``vcovCR`` for lmer):
  A_j = D_jᵀ B_j^{-1/2} D_j with D_jᵀD_j = V_j (upper Cholesky) and
  B_j = D_j (V_j - X_j M X_jᵀ) D_jᵀ, c = 1.

Prior weights are handled by working with rows scaled by √w (where V = σ̂²(I + ZΛΛᵀZᵀ)).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp
from numpy.typing import NDArray

from multilevel.design.frame import as_pandas
from multilevel.errors import DataError, ModelError, NotSupportedError
from multilevel.inference._common import require_lmm, response_vector, result_kind

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def _nested_in(inner: IntArray, outer: IntArray) -> bool:
    """True when every level of ``inner`` lies within one level of ``outer``."""
    pairs = np.unique(np.column_stack([inner, outer]), axis=0)
    return bool(np.unique(pairs[:, 0]).size == pairs.shape[0])


def _cluster_codes(result: Any, cluster: Any) -> tuple[IntArray, str]:
    d = result.design
    if cluster is None:
        groupings = {t.group: t.grouping.codes for t in d.terms}
        ok = [g for g, c in groupings.items()
              if all(_nested_in(other, c) for other in groupings.values())]
        if not ok:
            raise ModelError(
                "the random effects are crossed, so no grouping factor contains all others; "
                "give cluster= (a column or array whose clusters contain whole groups)"
            )
        name = min(ok, key=lambda g: np.unique(groupings[g]).size)
        return np.asarray(groupings[name], dtype=np.intp), name
    if isinstance(cluster, str):
        frame = d.frame.data
        if cluster in frame.columns:
            values = frame[cluster]
        else:
            data = as_pandas(result.data)
            if cluster not in data.columns:
                raise DataError(f"cluster column {cluster!r} is not in the data")
            values = data[cluster].iloc[d.frame.positions].reset_index(drop=True)
        label = cluster
    else:
        arr = pd.Series(np.asarray(cluster))
        if len(arr) == d.frame.n_dropped + d.nobs and len(arr) != d.nobs:
            arr = arr.iloc[d.frame.positions].reset_index(drop=True)
        if len(arr) != d.nobs:
            raise DataError(f"cluster has {len(arr)} values for {d.nobs} observations")
        values, label = arr, "cluster"
    if values.isna().any():
        raise DataError("the cluster variable has missing values in used rows")
    codes = pd.factorize(values, sort=True)[0].astype(np.intp)
    for t in d.terms:
        if not _nested_in(t.grouping.codes, codes):
            raise ModelError(
                f"levels of the grouping factor {t.group!r} span several clusters of "
                f"{label!r}: clusters must contain whole groups (use a coarser cluster)"
            )
    return codes, label


def _inv_sqrt(a: FloatArray) -> FloatArray:
    vals, vecs = np.linalg.eigh(0.5 * (a + a.T))
    inv = np.where(vals > 1e-12 * max(vals.max(), 1e-300), vals ** -0.5, 0.0)
    return np.asarray((vecs * inv) @ vecs.T)


def vcov_robust(result: Any, cluster: Any = None, type: str = "CR1") -> pd.DataFrame:
    """Cluster-robust (sandwich) covariance matrix of the fixed effects.

    Parameters
    ----------
    result
        A fitted linear mixed model (GLMMs raise NotSupportedError, saying what to use
        instead).
    cluster
        Column name or array defining clusters that contain whole groups; default: the
        grouping factor that all other grouping factors are nested in (the top level).
    type
        "CR1" (default; J/(J-1) small-sample factor, as Stata's ``vce(cluster)``), "CR0" or
        "CR2" (bias-reduced, as clubSandwich's default).

    Returns
    -------
    DataFrame
        p × p covariance matrix, rows and columns named by the fixed effects; usable as
        ``result.coef_table(vcov=...)``.
    """
    if result_kind(result) == "glmm":
        raise NotSupportedError(
            "vcov_robust is not available for generalized linear mixed models: their sandwich "
            "(Stata's meglm, vce(robust)) needs each cluster's score of the integrated "
            "(Laplace or AGQ) log-likelihood over all parameters, fixed effects and variance "
            "parameters together, which is not implemented; the linear-model formula used "
            "for LMMs would be wrong here. Use the model-based result.vcov_matrix "
            "(coef_table()), result.confint(method='profile') or ml.bootstrap(result, ...) "
            "instead"
        )
    result = require_lmm(result, "vcov_robust")
    kind = type.upper()
    if kind not in ("CR0", "CR1", "CR2"):
        raise ModelError(f"type must be 'CR0', 'CR1' or 'CR2', not {type!r}")
    d = result.design
    codes, _ = _cluster_codes(result, cluster)
    sw = np.ones(d.nobs) if d.weights is None else np.sqrt(d.weights)
    x = d.X * sw[:, None]
    e = (response_vector(result) - d.X @ result.estimates.beta) * sw
    zl = sp.hstack(
        [sp.csr_matrix(t.matrix() @ sp.kron(sp.identity(t.nlevels), sp.csr_matrix(lam)))
         for t, lam in zip(result.system.terms, result.lambdas, strict=True)],
        format="csr",
    )
    s2 = result.sigma**2
    m = s2 * np.asarray(result.estimates.vcov_unscaled)
    nclus = int(codes.max()) + 1
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(nclus + 1))
    p = x.shape[1]
    meat = np.zeros((p, p))
    for j in range(nclus):
        rows = order[bounds[j] : bounds[j + 1]]
        tj = zl[rows]
        cols = np.unique(tj.indices)
        tj = tj[:, cols].toarray()
        vj = s2 * (np.eye(rows.size) + tj @ tj.T)
        xj, ej = x[rows], e[rows]
        if kind == "CR2":
            r = sla.cholesky(vj, lower=False)
            g = r @ (vj - xj @ m @ xj.T) @ r.T
            ej = r.T @ _inv_sqrt(g) @ (r @ ej)
        uj = xj.T @ sla.cho_solve(sla.cho_factor(vj), ej)
        meat += np.outer(uj, uj)
    factor = nclus / (nclus - 1.0) if kind == "CR1" else 1.0
    cov = factor * m @ meat @ m
    names = list(d.xnames)
    return pd.DataFrame(0.5 * (cov + cov.T), index=names, columns=names)
