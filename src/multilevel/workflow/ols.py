"""Ordinary least squares with model-based, heteroskedasticity-robust and cluster-robust SEs.

The standard errors match R: ``"iid"`` is ``lm``'s, ``"HC1"`` is
``sandwich::vcovHC(type="HC1")``, ``"CR1"`` is ``sandwich::vcovCL(type="HC1")`` and Stata's
``regress, vce(cluster g)``, and ``"CR2"`` is ``clubSandwich::vcovCR(type="CR2")`` (the
Bell-McCaffrey bias-reduced estimator) with ``clubSandwich::coef_test``'s Satterthwaite df.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.errors import DataError, ModelError
from multilevel.workflow._coefs import CoefResult, named, named_matrix
from multilevel.workflow._data import LinearDesign, linear_design

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

SE_TYPES = ("iid", "HC1", "CR1", "CR2")


@dataclass(frozen=True, eq=False)
class OLSResult(CoefResult):
    """An OLS fit (see :func:`ols`).

    Attributes
    ----------
    se_type
        "iid", "HC1", "CR1" or "CR2".
    sigma
        Residual standard error, sqrt(RSS / (n - p)).
    r2
        R² (centred when the model has an intercept).
    df_resid
        n - p.
    ngroups
        Number of clusters (0 without clusters).
    fitted, residuals
        Fitted values and residuals, indexed by the caller's row labels.
    formula
        The formula.
    cluster
        The cluster column, or None.
    """

    se_type: str = "iid"
    sigma: float = float("nan")
    r2: float = float("nan")
    df_resid: int = 0
    ngroups: int = 0
    fitted: pd.Series | None = None
    residuals: pd.Series | None = None
    formula: str = ""
    cluster: str | None = None

    def _header(self) -> list[str]:
        kinds = {
            "iid": "model-based (iid) standard errors",
            "HC1": "heteroskedasticity-robust standard errors (HC1)",
            "CR1": f"cluster-robust standard errors (CR1, Stata's vce(cluster)) by "
            f"{self.cluster}, {self.ngroups} clusters, df = clusters - 1",
            "CR2": f"cluster-robust standard errors (CR2, Bell-McCaffrey) by {self.cluster}, "
            f"{self.ngroups} clusters, Satterthwaite df",
        }
        return [
            f"OLS: {self.formula}",
            kinds[self.se_type],
            f"Number of obs: {self.nobs}, residual SE {self.sigma:.4f} on {self.df_resid} df, "
            f"R² = {self.r2:.4f}",
        ]


def _solve(X: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """β and (X'X)⁻¹ by QR."""
    Q, R = np.linalg.qr(X)
    Rinv = np.linalg.inv(R)
    return Rinv @ (Q.T @ y), Rinv @ Rinv.T


def _inverse_sqrt(mat: FloatArray, tol: float = 1e-12) -> FloatArray:
    """Symmetric inverse square root (pseudo-inverse on a null space, as clubSandwich)."""
    vals, vecs = np.linalg.eigh(mat)
    keep = vals > tol * max(1.0, float(vals.max(initial=0.0)))
    inv = np.zeros_like(vals)
    inv[keep] = 1.0 / np.sqrt(vals[keep])
    return (vecs * inv) @ vecs.T


def _cluster_rows(codes: IntArray, ngroups: int) -> list[IntArray]:
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=ngroups))[:-1]
    return [np.asarray(part, dtype=np.intp) for part in np.split(order, bounds)]


def cluster_vcov(
    X: FloatArray,
    resid: FloatArray,
    bread: FloatArray,
    codes: IntArray,
    ngroups: int,
    kind: str,
) -> tuple[FloatArray, FloatArray]:
    """Cluster-robust covariance of OLS estimates and the df of each coefficient.

    Parameters
    ----------
    X, resid
        Model matrix and OLS residuals.
    bread
        (X'X)⁻¹.
    codes, ngroups
        Cluster of every row and the number of clusters.
    kind
        "CR1" (G/(G-1)·(n-1)/(n-p) times the sandwich, df G - 1) or "CR2" (Bell-McCaffrey
        adjustment matrices (I - H_gg)^(-1/2), Satterthwaite df under a working model of
        independent homoskedastic errors, as clubSandwich's).

    Returns
    -------
    vcov, df
    """
    n, p = X.shape
    G = ngroups
    if kind == "CR1":
        scores = np.zeros((G, p))
        for k in range(p):
            scores[:, k] = np.bincount(codes, weights=X[:, k] * resid, minlength=G)
        meat = scores.T @ scores
        adj = G / (G - 1) * (n - 1) / (n - p)
        return adj * bread @ meat @ bread, np.full(p, G - 1.0)
    rows = _cluster_rows(codes, G)
    scores = np.zeros((G, p))
    # U[g] = A_g X_g (X'X)^-1: column k is the n_g-vector u_g of coefficient k
    W = np.zeros((p, G, p))  # W[:, g, k] = X_g' u_gk
    uu = np.zeros((G, p))  # u_gk' u_gk
    for g, idx in enumerate(rows):
        Xg = X[idx]
        A = _inverse_sqrt(np.eye(idx.size) - Xg @ bread @ Xg.T)
        scores[g] = Xg.T @ (A @ resid[idx])
        U = A @ Xg @ bread
        W[:, g, :] = Xg.T @ U
        uu[g] = np.einsum("ik,ik->k", U, U)
    vcov = bread @ (scores.T @ scores) @ bread
    df = np.empty(p)
    for k in range(p):
        Wk = W[:, :, k]
        gram = -(Wk.T @ bread @ Wk)
        gram[np.diag_indices(G)] += uu[:, k]
        df[k] = np.trace(gram) ** 2 / np.sum(gram**2)
    return vcov, df


def ols_arrays(
    X: FloatArray,
    y: FloatArray,
    se: str = "iid",
    codes: IntArray | None = None,
    ngroups: int = 0,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """OLS on arrays: β, covariance, df per coefficient and residuals."""
    n, p = X.shape
    if n <= p:
        raise DataError(
            f"OLS needs more observations than coefficients; there are {n} rows for {p} "
            "coefficients"
        )
    beta, bread = _solve(X, y)
    resid = y - X @ beta
    if se == "iid":
        s2 = float(resid @ resid) / (n - p)
        return beta, s2 * bread, np.full(p, float(n - p)), resid
    if se == "HC1":
        meat = (X * resid[:, None] ** 2).T @ X
        return beta, n / (n - p) * bread @ meat @ bread, np.full(p, float(n - p)), resid
    if codes is None:
        raise ModelError(f"se={se!r} needs clusters: give cluster='column'")
    if ngroups < 2:
        raise DataError(f"cluster-robust SEs need at least two clusters, not {ngroups}")
    vcov, df = cluster_vcov(X, resid, bread, codes, ngroups, se)
    return beta, vcov, df, resid


def ols(
    formula: str,
    data: Any,
    cluster: str | None = None,
    se: str | None = None,
    *,
    contrasts: Mapping[str, str] | None = None,
) -> OLSResult:
    """Ordinary least squares with iid, HC1 or cluster-robust (CR1, CR2) standard errors.

    Parameters
    ----------
    formula
        An R formula without random-effects terms, e.g. ``"mAch ~ ses + sector + meanses"``.
    data
        pandas or polars DataFrame (not modified); rows with missing values in used columns
        (including the cluster column) are dropped.
    cluster
        Name of the cluster column (e.g. the school), for ``se="CR1"`` or ``"CR2"``.
    se
        ``"iid"`` (R's ``lm``), ``"HC1"`` (White's with n/(n - p)), ``"CR1"`` (Liang-Zeger with
        G/(G - 1)·(n - 1)/(n - p), as Stata's ``vce(cluster)`` and ``sandwich::vcovCL(type =
        "HC1")``; t tests on G - 1 df) or ``"CR2"`` (Bell-McCaffrey bias-reduced, as
        ``clubSandwich::vcovCR(type = "CR2")``; t tests on the Satterthwaite df of each
        coefficient, as ``clubSandwich::coef_test``). Default: ``"CR1"`` when a cluster is
        given, else ``"iid"``.
    contrasts
        Per-column contrasts ("treatment" default, "sum", "helmert", "poly").

    Returns
    -------
    OLSResult
        ``coef``, ``se``, ``vcov``, ``df`` (per coefficient), ``summary()``, ``conf_int()``.

    Examples
    --------
    >>> import multilevel as ml
    >>> hsb = ml.datasets.load("Hsb82")
    >>> r = ml.ols("mAch ~ ses + sector + meanses", hsb, cluster="school", se="CR2")
    >>> round(r.se["sectorCatholic"], 4)
    0.3022
    """
    if se is None:
        se = "iid" if cluster is None else "CR1"
    if se not in SE_TYPES:
        raise ModelError(f"se must be one of {', '.join(map(repr, SE_TYPES))}, not {se!r}")
    if se.startswith("CR") and cluster is None:
        raise ModelError(f"se={se!r} is cluster-robust: give the cluster column, cluster='...'")
    design = linear_design(formula, data, group=cluster, contrasts=contrasts, what="ols")
    return ols_design(design, se)


def ols_design(design: LinearDesign, se: str) -> OLSResult:
    """:func:`ols` on a built design."""
    codes = design.group.codes if design.group is not None else None
    beta, vcov, df, resid = ols_arrays(design.X, design.y, se, codes, design.ngroups)
    n, p = design.X.shape
    y = design.y
    centre = y.mean() if design.intercept else 0.0
    tss = float(np.sum((y - centre) ** 2))
    rss = float(resid @ resid)
    names, gone = design.names, design.dropped
    notes = tuple(f"{name} dropped: linearly dependent on earlier columns" for name in gone)
    label = {"iid": "OLS", "HC1": "OLS (HC1)", "CR1": "OLS (CR1)", "CR2": "OLS (CR2)"}[se]
    return OLSResult(
        coef=named(beta, names, "estimate"),
        se=named(np.sqrt(np.diag(vcov)), names, "se"),
        vcov=named_matrix(vcov, names),
        df=named(df, names, "df"),
        method=label,
        nobs=n,
        notes=notes,
        se_type=se,
        sigma=float(np.sqrt(rss / (n - p))),
        r2=1.0 - rss / tss if tss > 0 else float("nan"),
        df_resid=n - p,
        ngroups=design.ngroups,
        fitted=pd.Series(y - resid, index=design.rows, name="fitted"),
        residuals=pd.Series(resid, index=design.rows, name="residuals"),
        formula=design.formula,
        cluster=design.group.name if design.group is not None else None,
    )


__all__ = ["OLSResult", "ols"]
