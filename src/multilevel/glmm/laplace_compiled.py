"""The whole Laplace / AGQ objective compiled, for one scalar random-effects term.

With β given and one term ``(1 | g)`` (or ``(0 + x | g)``) of a family and link that
:mod:`multilevel.glmm.pirls_compiled` covers (binomial logit/probit/cloglog, Poisson log), one
compiled call runs PIRLS from the previous conditional modes and returns the objective at the
modes: the Laplace approximation (full conditional -2 log-likelihood + ‖u‖² + log|L|²) or the
adaptive Gauss-Hermite value of :func:`multilevel.glmm.objective.agq_deviance`. The values are
those of :func:`~multilevel.glmm.pirls.pirls` and ``agq_deviance`` (same rules, same μ); only the
Python around them is gone. The data-only part of the log-likelihood (the binomial coefficients,
log y! for Poisson) is computed once per problem. For ``nAGQ = 0`` (θ alone, β inside PIRLS)
:meth:`ScalarObjective.joint` runs PIRLS over u and β together. The kernels are in
:mod:`multilevel.glmm.scalar_kernels`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from multilevel.glmm.pirls import GLMMProblem
from multilevel.glmm.pirls_compiled import family_code

FloatArray = NDArray[np.float64]


@lru_cache(maxsize=1)
def _kernel() -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """The compiled objectives with β fixed and with β in PIRLS (None without numba)."""
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover
        return None
    from multilevel.glmm import scalar_kernels as k

    return k.objective, k.objective_joint


@dataclass(frozen=True)
class ScalarObjective:
    """The compiled Laplace / AGQ objective of one problem, with its fixed inputs.

    Attributes
    ----------
    problem
        The GLMM (one scalar term, a compiled family).
    code
        The kernel's family code.
    z
        The term's single column of Z.
    trials, succ
        Rounded binomial trials and successes (zeros for Poisson).
    const
        The data-only part of -2 log p(yᵢ | μᵢ) per observation.
    eta_start
        The GLM-style start of the joint PIRLS, g(μ₀) with μ₀ the family's initial values.
    unit_z
        True when the term is an intercept (z ≡ 1): AGQ then shares exponentials per level.
    """

    problem: GLMMProblem
    code: int
    z: FloatArray
    trials: FloatArray
    succ: FloatArray
    const: FloatArray
    eta_start: FloatArray
    unit_z: bool

    @classmethod
    def build(cls, problem: GLMMProblem) -> ScalarObjective | None:
        """The inputs of a problem, or None when the compiled objective does not cover it."""
        if len(problem.terms) != 1 or problem.terms[0].q != 1:
            return None
        code = family_code(problem.family)
        if code is None or _kernel() is None:
            return None
        y, wt = problem.y, problem.prior_weights
        n = y.shape[0]
        if problem.family.name == "binomial":
            trials = np.round(wt)
            succ = np.round(wt * y)
            with np.errstate(divide="ignore", invalid="ignore"):
                lc = (special.gammaln(trials + 1) - special.gammaln(succ + 1)
                      - special.gammaln(trials - succ + 1))
            const = np.where(trials > 0, -2.0 * lc, 0.0)
        else:
            trials = succ = np.zeros(n)
            const = 2.0 * wt * special.gammaln(y + 1)
        z = np.ascontiguousarray(problem.terms[0].z[:, 0], dtype=float)
        fam = problem.family
        with np.errstate(all="ignore"):
            eta_start = np.asarray(fam.link.linkfun(fam.initial_mu(y, wt)), dtype=float)
        return cls(problem, code, z, trials, succ, np.asarray(const, dtype=float), eta_start,
                   bool(np.all(z == 1.0)))

    def __call__(
        self, theta: float, beta: FloatArray, u0: FloatArray | None, nagq: int,
        tol: float = 1e-12, utol: float = 1e-8, maxiter: int = 100,
    ) -> tuple[float, FloatArray, bool]:
        """The Laplace (``nagq = 1``) or AGQ (``nagq > 1``) objective at (θ, β).

        Parameters
        ----------
        theta
            The term's relative standard deviation.
        beta
            Fixed effects.
        u0
            Starting conditional modes (zeros when None).
        nagq
            1 for Laplace, more for adaptive Gauss-Hermite quadrature.
        tol, utol, maxiter
            PIRLS settings (those of :func:`~multilevel.glmm.pirls.pirls`).

        Returns
        -------
        value, u, usable
            The objective, the conditional modes, and whether PIRLS converged to finite modes
            (a start for the next evaluation).
        """
        kernels = _kernel()
        assert kernels is not None
        p = self.problem
        term = p.terms[0]
        if u0 is None:
            u0 = np.zeros(term.nlevels)
        nodes, weights = hermite_rule(nagq) if nagq > 1 else _LAPLACE
        value, u, conv = kernels[0](
            p.X, beta, p.offset, self.z, theta, term.index, term.nlevels, u0, p.y,
            p.prior_weights, self.trials, self.succ, self.const, self.code, tol, utol, maxiter,
            nodes, weights, self.unit_z,
        )
        return float(value), u, bool(conv)

    def joint(
        self, theta: float, u0: FloatArray | None, beta0: FloatArray | None,
        tol: float = 1e-12, utol: float = 1e-8, maxiter: int = 100,
    ) -> tuple[float, FloatArray, FloatArray, bool] | None:
        """The ``nagq = 0`` objective at θ: PIRLS over u and β together, then the Laplace value.

        Parameters
        ----------
        theta
            The term's relative standard deviation.
        u0, beta0
            Starting values; with both None, PIRLS starts from the family's initial μ (the
            general path's GLM-style start), else from zeros for the one not given.
        tol, utol, maxiter
            PIRLS settings (those of :func:`~multilevel.glmm.pirls.pirls`).

        Returns
        -------
        tuple or None
            The objective, u, β and whether PIRLS converged to finite modes (a start for the
            next evaluation); None when the fixed effects' system was not positive definite
            (the general path then decides).
        """
        kernels = _kernel()
        assert kernels is not None
        p = self.problem
        term = p.terms[0]
        glm_start = u0 is None and beta0 is None
        u0 = np.zeros(term.nlevels) if u0 is None else u0
        beta0 = np.zeros(p.X.shape[1]) if beta0 is None else beta0
        value, u, beta, conv, solved = kernels[1](
            p.X, p.offset, self.z, theta, term.index, term.nlevels, u0, beta0, self.eta_start,
            glm_start, p.y, p.prior_weights, self.trials, self.succ, self.const, self.code, tol,
            utol, maxiter,
        )
        if not solved:
            return None
        return float(value), u, beta, bool(conv)


def _empty() -> FloatArray:
    out = np.zeros(0)
    out.flags.writeable = False
    return out


_LAPLACE = (_empty(), _empty())  # read-only as hermite_rule's: one compiled signature


@lru_cache(maxsize=32)
def hermite_rule(nagq: int) -> tuple[FloatArray, FloatArray]:
    """Standard-normal Gauss-Hermite nodes and weights (probabilists' rule, weights sum to 1).

    Parameters
    ----------
    nagq
        Number of nodes.

    Returns
    -------
    nodes, weights
        Read-only arrays.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(nagq)
    weights = weights / np.sqrt(2.0 * np.pi)
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


__all__ = ["ScalarObjective", "hermite_rule"]
