"""Refitting a GLMM without re-parsing its formula (bootstrap replicates, null models).

A refit reuses the fitted :class:`~multilevel.glmm.pirls.GLMMProblem`: the model matrices,
random-effects terms, prior weights, offset and the index maps of the PLS systems are kept and
only the response (or X) is replaced. The optimizer starts from the fitted (θ, β) and works on
the Laplace (or AGQ) objective directly; a negative binomial's θ is re-estimated with them.
The covariance of β̂ (the Hessian of the objective) is computed only when it is asked for.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.glmm.objective import GLMMObjective
from multilevel.glmm.pirls import GLMMProblem
from multilevel.glmm.result import GLMMResult
from multilevel.optimize import OptimizerControl, OptSummary, minimize

FloatArray = NDArray[np.float64]

_CACHED = ("structure_u", "structure_ub")


def replace_problem(problem: GLMMProblem, **changes: Any) -> GLMMProblem:
    """The problem with some fields replaced; the PLS index maps are kept when X is."""
    out = dataclasses.replace(problem, **changes)
    keep = _CACHED if "X" not in changes else ("structure_u",)
    for name in keep:
        if name in problem.__dict__:
            out.__dict__[name] = problem.__dict__[name]
    return out


def _bounds(problem: GLMMProblem) -> FloatArray:
    return np.concatenate([problem.layout.lower_bounds(), np.full(problem.X.shape[1], -np.inf)])


def _steps(problem: GLMMProblem, control: OptimizerControl, se: FloatArray | None) -> FloatArray:
    k = problem.layout.length
    beta_steps = np.full(problem.X.shape[1], 0.1) if se is None else np.maximum(se, 1e-4)
    return np.concatenate([np.full(k, control.initial_step), beta_steps])


def optimize_problem(
    problem: GLMMProblem,
    nagq: int,
    control: OptimizerControl,
    start: FloatArray | None = None,
    u0: FloatArray | None = None,
    se: FloatArray | None = None,
) -> tuple[OptSummary, GLMMObjective]:
    """Minimize the objective of a problem over (θ, β).

    Parameters
    ----------
    problem
        The GLMM's data.
    nagq
        1 (Laplace) or more (AGQ); 0 optimizes θ alone with β inside PIRLS.
    control
        Optimizer settings.
    start
        Starting (θ, β) (θ alone for ``nagq=0``); None to start as ``glmer`` does (θ by the
        ``nAGQ = 0`` stage first).
    u0
        Starting conditional modes for PIRLS.
    se
        Scales of β for the initial steps.

    Returns
    -------
    OptSummary, GLMMObjective
        The optimizer record and the objective (its state at ``opt.x`` is the fit's).
    """
    if start is None:
        from multilevel.glmm.fit import _optimize

        opt, stage, _ = _optimize(problem, nagq, control)
        return opt, stage
    stage = GLMMObjective(problem, nagq)
    stage._u = u0
    lower = problem.layout.lower_bounds() if nagq == 0 else _bounds(problem)
    steps = None if nagq == 0 else _steps(problem, control, se)
    opt = minimize(stage, np.maximum(np.asarray(start, dtype=float), lower), lower, control,
                   step=steps)
    return opt, stage


def _optimize_nb(problem: GLMMProblem, nagq: int, control: OptimizerControl, start: FloatArray,
                 nb_theta: float, u0: FloatArray | None, se: FloatArray | None
                 ) -> tuple[GLMMProblem, float, FloatArray]:
    """Re-estimate the negative binomial's θ jointly with (θ, β), from the fitted values;
    returns the problem at the new θ, the θ and the optimal (θ, β)."""
    def objective(params: FloatArray) -> float:
        fam = problem.family.with_theta(math.exp(float(params[-1])))
        stage = GLMMObjective(replace_problem(problem, family=fam), max(nagq, 1))
        stage._u = u0
        return stage(params[:-1])

    x0 = np.r_[start, math.log(nb_theta)]
    lower = np.r_[_bounds(problem), math.log(1e-4)]
    steps = np.r_[_steps(problem, control, se), 0.5]
    opt = minimize(objective, x0, lower, control, step=steps)
    nb = math.exp(float(opt.x[-1]))
    return replace_problem(problem, family=problem.family.with_theta(nb)), nb, opt.x[:-1]


@dataclasses.dataclass(frozen=True, eq=False)
class RefittedGLMM(GLMMResult):
    """A GLMM refitted by :func:`refit_glmm`: a :class:`GLMMResult` whose covariance of β̂
    (the inverse of half the Hessian of the objective over (θ, β), as in the original fit)
    is computed on first use by ``vcov_matrix`` (and so ``vcov`` and ``se``); the
    ``vcov_beta`` field holds NaN."""

    @cached_property
    def vcov_matrix(self) -> FloatArray:
        """Covariance of β from the Hessian of the objective (computed on first use)."""
        from multilevel.glmm.fit import _rx_vcov
        from multilevel.numdiff import hessian

        k = self.problem.layout.length
        stage = GLMMObjective(self.problem, self.nagq)
        stage._u = self.state.u
        x = np.r_[self.theta, self.beta]
        if self.nagq == 0:
            return np.asarray(_rx_vcov(self.problem, self.state))
        try:
            inv = np.asarray(np.linalg.inv(0.5 * hessian(stage, x)), dtype=np.float64)
            vcov = inv[k:, k:]
            if np.all(np.diag(vcov) > 0):
                return vcov
        except np.linalg.LinAlgError:
            pass
        return np.asarray(_rx_vcov(self.problem, self.state))


def refit_glmm(
    result: GLMMResult,
    *,
    y: FloatArray | None = None,
    control: OptimizerControl | None = None,
) -> RefittedGLMM:
    """Refit a GLMM to a new response, starting from the fitted parameters.

    Parameters
    ----------
    result
        The fitted GLMM.
    y
        New response on the fit's scale (``result.design.y``: proportions of successes for a
        binomial model, counts, positive values), one value per used row; default the same.
    control
        Optimizer settings (default: those of the fit).

    Returns
    -------
    RefittedGLMM
        The refitted model; its ``data`` still refers to the original data, its ``vcov`` is
        computed when first used.
    """
    problem = result.problem
    design = result.design
    if y is not None:
        y = np.asarray(y, dtype=float)
        if y.shape != problem.y.shape:
            raise ValueError(f"y has shape {y.shape}, expected {problem.y.shape}")
        problem = replace_problem(problem, y=y)
        design = dataclasses.replace(design, y=y)
    ctrl = control or result.options.control
    nagq = result.nagq
    start = result.theta if nagq == 0 else np.r_[result.theta, result.beta]
    se = np.sqrt(np.maximum(np.diag(result.vcov_matrix), 0.0))
    nb = result.nb_theta_opt
    if nb is not None:
        problem, nb, start = _optimize_nb(problem, nagq, ctrl, start, nb, result.state.u, se)
    opt, stage = optimize_problem(problem, nagq, ctrl, start, result.state.u, se)
    state = stage.state(opt.x)
    k = problem.layout.length
    beta = state.beta if nagq == 0 else opt.x[k:]
    return RefittedGLMM(
        design=design,
        problem=problem,
        options=result.options,
        data=result.data,
        theta=opt.x[:k],
        beta=np.asarray(beta, dtype=float),
        vcov_beta=np.full((beta.size, beta.size), np.nan),
        objective=opt.fmin,
        optsummary=opt,
        state=state,
        nb_theta_opt=nb,
    )
