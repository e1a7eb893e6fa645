"""GLMM objectives: the Laplace approximation and adaptive Gauss-Hermite quadrature.

Both are -2 log-likelihood approximations as functions of (θ, β), evaluated at the conditional
modes found by PIRLS; ``nAGQ = 0`` optimizes θ alone with β inside PIRLS. The AGQ value is the
full -2 log-likelihood (lme4's nAGQ > 1 value leaves out the saturated log-likelihood).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from multilevel.glmm.gradient import laplace_gradient
from multilevel.glmm.laplace_compiled import ScalarObjective, hermite_rule
from multilevel.glmm.pirls import GLMMProblem, PirlsState, pirls
from multilevel.optimize_gradient import remember_last

FloatArray = NDArray[np.float64]


def agq_deviance(problem: GLMMProblem, state: PirlsState, theta: FloatArray, nagq: int) -> float:
    """-2 log-likelihood by adaptive Gauss-Hermite quadrature (one scalar random-effects term).

    For group j with conditional mode û_j and L_jj the diagonal of L(θ), the integral over u_j
    is approximated with the standard-normal rule (t_k, w_k) moved to û_j + t_k / L_jj.
    """
    term = problem.terms[0]
    lam = float(theta[0])
    nodes, weights = hermite_rule(nagq)
    ljj = state.factor.l11[:, 0, 0]
    fam = problem.family
    scale = 1.0 / ljj
    groups = term.index
    nlev = term.nlevels
    # All nodes at once: row k moves every group's mode by t_k / L_jj.
    shift = nodes[:, None] * scale[None, :]  # (nagq, nlev)
    eta = state.eta[None, :] + (term.z[:, 0] * lam)[None, :] * shift[:, groups]
    mu = fam.link.linkinv(eta)
    m2ll = fam.loglik_terms(problem.y, mu, problem.prior_weights, state.deviance)
    g = np.empty((nagq, nlev))
    for k in range(nagq):
        g[k] = np.bincount(groups, weights=m2ll[k], minlength=nlev)
    u_k = state.u[None, :] + shift
    total = -0.5 * (g + u_k**2 - nodes[:, None] ** 2)
    log_sum = logsumexp(total, axis=0, b=weights[:, None])
    return float(np.sum(2.0 * np.log(ljj) - 2.0 * log_sum))


class GLMMObjective:
    """-2 log-likelihood of a GLMM as a function of θ and β (or θ alone for ``nagq=0``).

    PIRLS starts from the conditional modes of the previous evaluation; PIRLS converges tightly,
    so the value does not depend on the start beyond that tolerance. With one scalar term and a
    family the compiled kernels cover, calls (the optimizer's hot path) run the whole objective
    compiled (:class:`~multilevel.glmm.laplace_compiled.ScalarObjective`, the same value);
    :meth:`state` always builds the full PIRLS state.

    Parameters
    ----------
    problem
        The GLMM's data.
    nagq
        0 (θ only, β inside PIRLS), 1 (Laplace) or more (adaptive Gauss-Hermite).
    """

    def __init__(self, problem: GLMMProblem, nagq: int = 1):
        self.problem = problem
        self.nagq = nagq
        self.ntheta = problem.layout.length
        self._u: FloatArray | None = None
        self._beta: FloatArray | None = None
        self.last: PirlsState | None = None
        self._last_params: FloatArray | None = None
        self._compiled = ScalarObjective.build(problem)
        self.value_and_gradient = remember_last(self._value_and_gradient)

    def _value_and_gradient(self, params: FloatArray) -> tuple[float, FloatArray]:
        """The Laplace objective and its exact gradient (models of
        :func:`multilevel.glmm.gradient.has_gradient`); ``inf`` where PIRLS fails."""
        params = np.asarray(params, dtype=float)
        try:
            st = self.state(params)
        except (ArithmeticError, np.linalg.LinAlgError, ValueError):
            return np.inf, np.zeros(len(params))
        if not st.converged:
            return np.inf, np.zeros(len(params))
        return st.laplace, laplace_gradient(self.problem, st, params[: self.ntheta])

    def state(self, params: FloatArray) -> PirlsState:
        """The PIRLS state at the parameters (also :attr:`last`; calls do not set it)."""
        params = np.asarray(params, dtype=float)
        theta = params[: self.ntheta]
        if self.nagq == 0:
            st = pirls(self.problem, theta, None, self._u, self._beta)
        else:
            st = pirls(self.problem, theta, params[self.ntheta :], self._u)
        if st.converged and np.all(np.isfinite(st.u)):
            self._u, self._beta = st.u, st.beta
        self.last = st
        self._last_params = params.copy()
        return st

    def final_state(self, params: FloatArray) -> PirlsState:
        """The PIRLS state at the parameters: :attr:`last` when it was computed there and
        converged (the optimizer's final evaluation, whose value it reported), else a new one."""
        params = np.asarray(params, dtype=float)
        last = self.last
        if (
            last is not None
            and last.converged
            and self._last_params is not None
            and np.array_equal(self._last_params, params)
        ):
            return last
        return self.state(params)

    def __call__(self, params: FloatArray) -> float:
        """The objective at the parameters (``inf`` where it cannot be evaluated)."""
        if self._compiled is not None:
            out = self._compiled_call(np.asarray(params, dtype=float))
            if out is not None:
                return out[0]
        try:
            st = self.state(params)
        except (ArithmeticError, np.linalg.LinAlgError, ValueError):
            return float("inf")
        if self.nagq > 1:
            return agq_deviance(self.problem, st, np.asarray(params, dtype=float), self.nagq)
        return st.laplace

    def _compiled_call(self, params: FloatArray) -> tuple[float, bool] | None:
        """The compiled objective and whether its modes are the next start (None: not run)."""
        assert self._compiled is not None
        if self.nagq >= 1:
            value, u, usable = self._compiled(float(params[0]), params[1:], self._u, self.nagq)
            if usable:
                self._u = u
            return value, usable
        out = self._compiled.joint(float(params[0]), self._u, self._beta)
        if out is None:
            return None
        value, u, beta, usable = out
        if usable:
            self._u, self._beta = u, beta
        return value, usable

    def modes(self, params: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The conditional modes u and the fixed effects at the parameters.

        β is the given one unless ``nagq = 0`` (then PIRLS's). The compiled objective answers
        when it covers the model and PIRLS converges, without building the state; otherwise
        :meth:`state` does.

        Parameters
        ----------
        params
            θ (and β unless ``nagq = 0``).

        Returns
        -------
        u, beta
        """
        params = np.asarray(params, dtype=float)
        if self._compiled is not None:
            out = self._compiled_call(params)
            if out is not None and out[1]:
                assert self._u is not None
                if self.nagq >= 1:
                    return self._u, params[self.ntheta :].copy()
                assert self._beta is not None
                return self._u, self._beta
        st = self.state(params)
        return st.u, st.beta

    def as_function(self) -> Callable[[FloatArray], float]:
        """The objective as a plain function."""
        return self.__call__
