"""Penalized iteratively reweighted least squares (PIRLS) on the LMM's PLS engine.

Each iteration forms the GLM working weights and working response at the current conditional
modes and solves the same penalized least-squares system as a linear mixed model
(:func:`multilevel.lmm.build_system` / :func:`~multilevel.lmm.update_factor`), with step-halving
on the penalized deviance. With ``beta`` given, only the spherical random effects u are updated
(Laplace and AGQ objectives); without, u and β are updated together (lme4's ``nAGQ = 0``).
With β given and a single random-effects term, the system is block diagonal (one q × q block per
level) and is solved directly from per-level sums, without forming the general system. With
several terms, all scalar, and a family and link the compiled kernels know, the whole iteration
(β fixed or updated) runs compiled in :mod:`multilevel.glmm.pirls_crossed`, same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from multilevel.glmm.family import Family
from multilevel.glmm.pirls_compiled import family_code, mu_deviance, pirls_scalar, working
from multilevel.glmm.pirls_crossed import STEP_TOL, CrossedPlan, build_plan, pirls_crossed
from multilevel.linalg.blockdiag import batched_cholesky
from multilevel.lmm import TermBlock, estimates, update_factor
from multilevel.lmm.factor import BlockedFactor
from multilevel.lmm.structure import SystemStructure
from multilevel.lmm.theta import ThetaLayout

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class GLMMProblem:
    """The data of a GLMM as the objective sees them.

    Attributes
    ----------
    X
        Fixed-effects model matrix (n, p).
    y
        Response (proportions for binomial).
    prior_weights
        Prior weights times binomial trials.
    offset
        Offset on the linear predictor (zeros when none).
    terms
        Random-effects terms in engine order.
    family
        Family and link.
    layout
        θ layout of the terms.
    """

    X: FloatArray
    y: FloatArray
    prior_weights: FloatArray
    offset: FloatArray
    terms: tuple[TermBlock, ...]
    family: Family
    layout: ThetaLayout

    @cached_property
    def structure_u(self) -> SystemStructure:
        """Index maps of the system that updates u alone (no X)."""
        return SystemStructure.build(np.zeros((self.y.shape[0], 0)), self.terms)

    @cached_property
    def structure_ub(self) -> SystemStructure:
        """Index maps of the system that updates u and β together."""
        return SystemStructure.build(self.X, self.terms)

    @cached_property
    def crossed_plan(self) -> CrossedPlan | None:
        """Index maps of the compiled multi-term PIRLS (None where it does not apply)."""
        return build_plan(self.terms, self.family, self.y, self.prior_weights)

    def with_family(self, family: Family) -> GLMMProblem:
        """The same problem with another family (negative-binomial θ updates)."""
        out = GLMMProblem(
            self.X, self.y, self.prior_weights, self.offset, self.terms, family, self.layout
        )
        for name in ("structure_u", "structure_ub"):  # the index maps do not depend on it
            if name in self.__dict__:
                out.__dict__[name] = self.__dict__[name]
        return out


@dataclass(frozen=True)
class PirlsState:
    """The converged state of PIRLS at one θ (and β).

    Attributes
    ----------
    u
        Spherical random effects, concatenated over terms.
    beta
        Fixed effects (given, or estimated when PIRLS updated them).
    eta, mu
        Linear predictor and mean.
    factor
        L(θ) at the converged working weights.
    sum_u2
        ‖u‖².
    deviance
        Σ of the family's unit deviances.
    minus2loglik
        -2 log p(y | u, β), the full conditional log-likelihood.
    iterations
        PIRLS iterations used.
    converged
        False when the iteration limit was reached.
    """

    u: FloatArray
    beta: FloatArray
    eta: FloatArray
    mu: FloatArray
    factor: BlockedFactor
    sum_u2: float
    deviance: float
    minus2loglik: float
    iterations: int
    converged: bool

    @property
    def laplace(self) -> float:
        """The Laplace approximation of -2 log-likelihood."""
        return self.minus2loglik + self.sum_u2 + self.factor.logdet_l()


def random_part(problem: GLMMProblem, theta: FloatArray, u: FloatArray) -> FloatArray:
    """Z Λθ u for concatenated spherical u."""
    out = np.zeros(problem.y.shape[0])
    pos = 0
    for term, lam in zip(problem.terms, problem.layout.factors(theta), strict=True):
        size = term.size
        b = u[pos : pos + size].reshape(term.nlevels, term.q) @ lam.T
        out += np.einsum("ij,ij->i", term.z, b[term.index])
        pos += size
    return out


def _single_term(
    term: TermBlock, theta: FloatArray, lam: FloatArray, work: FloatArray, wts: FloatArray
) -> tuple[FloatArray, BlockedFactor]:
    """Conditional modes and L(θ) of a one-term model with β fixed: per level, u = M⁻¹ r with
    M = Λᵀ Zᵀ W Z Λ + I and r = Λᵀ Zᵀ W work (the general system's answer, blockwise)."""
    q, nlev, index = term.q, term.nlevels, term.index
    if q == 1:
        zl = term.z[:, 0] * lam[0, 0]
        wz = wts * zl
        m = np.bincount(index, weights=wz * zl, minlength=nlev) + 1.0
        r = np.bincount(index, weights=wz * work, minlength=nlev)
        l11 = np.sqrt(m)
        u = r / m
        l11_3 = l11.reshape(nlev, 1, 1)
        p1 = (lam[0, 0] / l11).reshape(nlev, 1, 1)
    else:
        zl = term.z @ lam
        wz = zl * wts[:, None]
        blocks = np.empty((nlev, q, q))
        rhs = np.empty((nlev, q))
        for a in range(q):
            rhs[:, a] = np.bincount(index, weights=wz[:, a] * work, minlength=nlev)
            for c in range(a, q):
                blocks[:, a, c] = np.bincount(index, weights=wz[:, a] * zl[:, c], minlength=nlev)
                blocks[:, c, a] = blocks[:, a, c]
        blocks[:, np.arange(q), np.arange(q)] += 1.0
        l11_3 = batched_cholesky(blocks)
        u = np.linalg.solve(blocks, rhs[:, :, None])[:, :, 0].ravel()
        p1 = np.matmul(lam, np.linalg.inv(np.transpose(l11_3, (0, 2, 1))))
    factor = BlockedFactor(
        theta=theta,
        lambdas=(lam,),
        l11=l11_3,
        p1=p1,
        l_blocks=(),
        l_dense={},
        l_x=(np.zeros((1, term.size)),),
        l_xx=np.zeros((1, 1)),
    )
    return np.asarray(u, dtype=float), factor


def _pdev(problem: GLMMProblem, eta: FloatArray, u: FloatArray) -> tuple[float, FloatArray]:
    code = family_code(problem.family)
    if code is not None:
        out = mu_deviance(eta, problem.y, problem.prior_weights, code)
        if out is not None:
            return out[1] + float(u @ u), out[0]
    mu = problem.family.link.linkinv(eta)
    dev = float(np.sum(problem.family.dev_resids(problem.y, mu, problem.prior_weights)))
    return dev + float(u @ u), mu


def _working(problem: GLMMProblem, eta: FloatArray, mu: FloatArray
             ) -> tuple[FloatArray, FloatArray]:
    """Working weights and (y - μ)/(dμ/dη)."""
    fam = problem.family
    code = family_code(fam)
    if code is not None:
        out = working(eta, mu, problem.y, problem.prior_weights, code)
        if out is not None:
            return out
    mu_eta = fam.link.mu_eta(eta)
    return problem.prior_weights * mu_eta**2 / fam.variance(mu), (problem.y - mu) / mu_eta


def pirls(
    problem: GLMMProblem,
    theta: FloatArray,
    beta: FloatArray | None,
    u0: FloatArray | None = None,
    beta0: FloatArray | None = None,
    tol: float = 1e-12,
    maxiter: int = 100,
    utol: float = 1e-8,
) -> PirlsState:
    """Find the conditional modes at θ by PIRLS.

    Parameters
    ----------
    problem
        The GLMM's data.
    theta
        Covariance parameters.
    beta
        Fixed effects held fixed; None to update them together with u (``nAGQ = 0``).
    u0, beta0
        Starting values (zeros / a GLM-style start when None).
    tol
        Convergence tolerance on the relative change of the penalized deviance.
    utol
        Convergence tolerance on the largest change of u (and β).
    maxiter
        Iteration limit.

    Returns
    -------
    PirlsState
    """
    fam = problem.family
    n = problem.X.shape[0]
    p = problem.X.shape[1]
    nu = sum(t.size for t in problem.terms)
    update_beta = beta is None
    u = np.zeros(nu) if u0 is None else np.asarray(u0, dtype=float).copy()
    if update_beta:
        b_fixed = np.zeros(p) if beta0 is None else np.asarray(beta0, dtype=float).copy()
    else:
        assert beta is not None
        b_fixed = np.asarray(beta, dtype=float)
    if not update_beta and len(problem.terms) == 1 and problem.terms[0].q == 1:
        code = family_code(fam)
        if code is not None:
            term = problem.terms[0]
            lam = float(theta[0])
            out = pirls_scalar(
                problem.y, problem.prior_weights, problem.offset + problem.X @ b_fixed,
                term.z[:, 0] * lam, term.index, term.nlevels, u, code, tol, utol, maxiter,
            )
            if out is not None:
                u, eta, mu, iteration, converged, ldiag = out
                factor = BlockedFactor(
                    theta=np.asarray(theta, dtype=float),
                    lambdas=(np.array([[lam]]),),
                    l11=ldiag.reshape(-1, 1, 1),
                    p1=(lam / ldiag).reshape(-1, 1, 1),
                    l_blocks=(),
                    l_dense={},
                    l_x=(np.zeros((1, term.size)),),
                    l_xx=np.zeros((1, 1)),
                )
                return _finish(problem, u, b_fixed, eta, mu, factor, iteration, converged)
    fresh = update_beta and beta0 is None and u0 is None
    plan = problem.crossed_plan if len(problem.terms) > 1 else None
    if plan is not None:
        return _crossed(problem, plan, theta, u, b_fixed, update_beta, fresh, tol, utol, maxiter)
    structure = problem.structure_ub if update_beta else problem.structure_u
    if fresh:
        # GLM-style start from the data; the first step is then always taken.
        eta = fam.link.linkfun(fam.initial_mu(problem.y, problem.prior_weights))
        _, mu = _pdev(problem, eta, u)
        pdev = np.inf
    else:
        eta = problem.offset + problem.X @ b_fixed + random_part(problem, theta, u)
        pdev, mu = _pdev(problem, eta, u)
    converged = False
    iteration = 0
    single = not update_beta and len(problem.terms) == 1
    lam1 = problem.layout.factors(theta)[0]
    for iteration in range(1, maxiter + 1):  # (the iteration count is reported)
        wts, resid = _working(problem, eta, mu)
        fixed_part = problem.offset if update_beta else problem.offset + problem.X @ b_fixed
        work = eta - fixed_part + resid
        if single:
            u_new, factor = _single_term(problem.terms[0], theta, lam1, work, wts)
            b_new = b_fixed
        else:
            system = structure.assemble(work, wts)
            factor = update_factor(system, theta)
            est = estimates(system, factor, reml=False)
            u_new = np.concatenate([ui.ravel() for ui in est.u])
            b_new = est.beta if update_beta else b_fixed
        only_u = not update_beta or p == 0  # the system's factor is L(θ)
        if (
            only_u
            and not (fresh and iteration == 1)
            and float(np.max(np.abs(u_new - u), initial=0.0)) <= STEP_TOL
        ):
            # converged without the step, as the compiled kernel (which keeps this factor)
            converged = True
            break
        step = 1.0
        accepted = False
        for _ in range(30):
            u_try = u + step * (u_new - u)
            b_try = b_fixed + step * (b_new - b_fixed)
            eta_try = problem.offset + problem.X @ b_try + random_part(problem, theta, u_try)
            pdev_try, mu_try = _pdev(problem, eta_try, u_try)
            ok = np.isfinite(pdev_try) and fam.valid_mu(mu_try)
            if ok and (pdev_try <= pdev + 1e-10 * abs(pdev) or not np.isfinite(pdev)):
                accepted = True
                break
            step *= 0.5
        if not accepted:
            break
        change = abs(pdev - pdev_try) if np.isfinite(pdev) else np.inf
        moved = float(np.max(np.abs(u_try - u), initial=0.0))
        if update_beta:
            moved = max(moved, float(np.max(np.abs(b_try - b_fixed), initial=0.0)))
        u, b_fixed, eta, mu, pdev = u_try, b_try, eta_try, mu_try, pdev_try
        # Converged when the penalized deviance is stable and the modes no longer move: log|L|²
        # depends on u to first order, so a loose u would make the objective noisy.
        if change < tol * (0.1 + abs(pdev)) and moved < utol:
            converged = True
            break
    # L(θ) at the converged weights, so that log|L|² matches the conditional modes.
    wts = _working(problem, eta, mu)[0]
    if single:
        factor = _single_term(problem.terms[0], theta, lam1, np.zeros(n), wts)[1]
    else:
        system = problem.structure_u.assemble(np.zeros(n), wts)
        factor = update_factor(system, theta)
    return _finish(problem, u, b_fixed, eta, mu, factor, iteration, converged)


def _crossed(
    problem: GLMMProblem,
    plan: CrossedPlan,
    theta: FloatArray,
    u: FloatArray,
    b_fixed: FloatArray,
    update_beta: bool,
    fresh: bool,
    tol: float,
    utol: float,
    maxiter: int,
) -> PirlsState:
    """:func:`pirls` by the compiled multi-term kernel (all terms scalar)."""
    fam = problem.family
    eta0 = fam.link.linkfun(fam.initial_mu(problem.y, problem.prior_weights)) if fresh else None
    if update_beta:
        eta_fixed, X = problem.offset, problem.X
    else:
        eta_fixed, X = problem.offset + problem.X @ b_fixed, np.empty((problem.y.shape[0], 0))
    out = pirls_crossed(
        plan, problem.y, problem.prior_weights, eta_fixed, X, np.asarray(theta, dtype=float),
        b_fixed if update_beta else np.zeros(0), u, eta0, tol, utol, maxiter,
    )  # fmt: skip
    return PirlsState(
        u=out.u,
        beta=out.beta if update_beta else b_fixed,
        eta=out.eta,
        mu=out.mu,
        factor=out.factor,
        sum_u2=float(out.u @ out.u),
        deviance=out.deviance,
        minus2loglik=out.minus2loglik,
        iterations=out.iterations,
        converged=out.converged,
    )


def _finish(
    problem: GLMMProblem,
    u: FloatArray,
    b_fixed: FloatArray,
    eta: FloatArray,
    mu: FloatArray,
    factor: BlockedFactor,
    iteration: int,
    converged: bool,
) -> PirlsState:
    """The PIRLS state with the deviance and full conditional log-likelihood at μ."""
    fam = problem.family
    dev = float(np.sum(fam.dev_resids(problem.y, mu, problem.prior_weights)))
    m2ll = float(np.sum(fam.loglik_terms(problem.y, mu, problem.prior_weights, dev)))
    if fam.has_dispersion:
        # R's family$aic counts the dispersion as a parameter (+2); lme4's objective keeps it
        m2ll += 2.0
    return PirlsState(
        u=u,
        beta=b_fixed,
        eta=eta,
        mu=mu,
        factor=factor,
        sum_u2=float(u @ u),
        deviance=dev,
        minus2loglik=m2ll,
        iterations=iteration,
        converged=converged,
    )
