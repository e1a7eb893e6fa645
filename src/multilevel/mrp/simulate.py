"""Draws of the mean of new rows from a likelihood fit, for poststratification.

A likelihood fit has no posterior, so its uncertainty is simulated from the approximate
sampling distribution of the estimates: with the covariance parameters θ (and σ) fixed at their
estimates, the fixed effects β and the spherical random effects u are drawn jointly from the
Gaussian N((β̂, û), s² A⁻¹), where

    A = [[ΛᵀZᵀWZΛ + I, ΛᵀZᵀWX], [XᵀWZΛ, XᵀWX]]

is the matrix of the penalized least-squares problem at the optimum (W: prior weights for
linear mixed models, the GLM working weights at convergence for GLMMs; s = σ for linear mixed
models and the dispersion families, 1 otherwise). Its β block inverts to lme4's
σ² (R_Xᵀ R_X)⁻¹, and for a linear mixed model this is exactly the conditional posterior of
(β, u) given θ and σ under a flat prior on β: β and the random effects are drawn together,
with their correlation. The random effects are b = Λu; a level not seen in fitting gets
b ~ N(0, s² ΛΛᵀ) in each simulation. The uncertainty of θ itself is not propagated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numpy.typing import NDArray

from multilevel.bayes.posterior import Rows
from multilevel.bayes.predictive import inverse_link
from multilevel.errors import NotSupportedError
from multilevel.linalg.sparse import term_matrix

FloatArray = NDArray[np.float64]

#: Largest number of fixed plus random effects simulated jointly (a dense matrix).
MAX_EFFECTS = 10_000


def _parts(result: Any) -> tuple[str, str, FloatArray, FloatArray, FloatArray, float]:
    """Family, link, β̂, û (concatenated), the weights W, and the scale s²."""
    from multilevel.glmm.result import GLMMResult

    d = result.design
    if isinstance(result, GLMMResult):
        fam = result.family
        state = result.state
        mu_eta = fam.link.mu_eta(state.eta)
        w = result.problem.prior_weights * mu_eta**2 / fam.variance(state.mu)
        scale = result.sigma**2 if fam.has_dispersion else 1.0
        return fam.name, fam.link.name, result.beta, state.u, w, scale
    u = np.concatenate([np.asarray(uk).ravel() for uk in result.estimates.u])
    w = np.ones(d.nobs) if d.weights is None else np.asarray(d.weights)
    return "gaussian", "identity", result.estimates.beta, u, w, result.sigma**2


def likelihood_draws(result: Any, rows: Rows, nsim: int, rng: np.random.Generator) -> FloatArray:
    """Simulated means μ of ``rows`` under ``nsim`` draws of (β, u): an array (nsim, m).

    Parameters
    ----------
    result
        An LMMResult or GLMMResult.
    rows
        The rows (encoded with :func:`multilevel.bayes.posterior.new_rows`).
    nsim
        Number of simulations.
    rng
        Random generator.
    """
    d = result.design
    family, link, beta, u_hat, w, scale = _parts(result)
    lambdas = result.lambdas
    blocks = [
        sp.kron(sp.identity(t.nlevels, format="csr"), sp.csr_matrix(lam), format="csr")
        for t, lam in zip(d.terms, lambdas, strict=True)
    ]
    big_lambda = sp.block_diag(blocks, format="csr")
    z = sp.hstack([term_matrix(t.grouping.codes, t.z, t.nlevels) for t in d.terms], format="csr")
    zl = (z @ big_lambda).tocsr()
    p, nq = d.X.shape[1], zl.shape[1]
    if p + nq > MAX_EFFECTS:
        raise NotSupportedError(
            f"poststratifying a likelihood fit simulates its {p + nq} fixed and random effects "
            f"jointly, more than {MAX_EFFECTS}; fit the model with method='bayes' instead"
        )
    wzl = sp.diags(w) @ zl
    a11 = (zl.T @ wzl).toarray() + np.eye(nq)
    a21 = np.asarray(d.X.T @ wzl)
    a22 = d.X.T @ (w[:, None] * d.X)
    a = np.block([[a11, a21.T], [a21, a22]])
    chol = np.linalg.cholesky(a)
    noise = rng.standard_normal((p + nq, nsim))
    dev = sla.solve_triangular(chol.T, noise, lower=False) * np.sqrt(scale)
    u = u_hat[:, None] + dev[:nq]
    b_all = (big_lambda @ u).T  # (nsim, nq): b = Λu, level-major per term
    beta_sims = beta[None, :] + dev[nq:].T
    eta = beta_sims @ rows.X.T + rows.offset[None, :]
    start = 0
    starts = []
    for t in d.terms:
        starts.append(start)
        start += t.nlevels * t.q
    for k, zk, codes in zip(rows.terms, rows.z, rows.codes, strict=True):
        t = d.terms[k]
        bk = b_all[:, starts[k] : starts[k] + t.nlevels * t.q].reshape(nsim, t.nlevels, t.q)
        extra = int(codes.max()) + 1 - t.nlevels if codes.size else 0
        if extra > 0:
            cov = scale * lambdas[k] @ lambdas[k].T
            root = np.linalg.cholesky(cov + 1e-12 * np.eye(t.q))
            new = rng.standard_normal((nsim, extra, t.q)) @ root.T
            bk = np.concatenate([bk, new], axis=1)
        eta = eta + np.einsum("smq,mq->sm", bk[:, codes, :], zk)
    return inverse_link(family, link, np.asarray(eta))


__all__ = ["MAX_EFFECTS", "likelihood_draws"]
