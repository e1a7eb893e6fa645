"""``fit`` for generalized linear mixed models: design → PIRLS objective → optimizer → result.

As lme4's ``glmer``: a first stage optimizes θ with β inside PIRLS (``nAGQ = 0``); unless
``nagq=0`` a second stage optimizes (θ, β) jointly on the Laplace (``nagq=1``) or adaptive
Gauss-Hermite (``nagq>1``) objective. Standard errors come from the finite-difference Hessian of
the objective over (θ, β), as glmer's. The negative binomial's θ is estimated by an outer
one-dimensional optimization of the fitted objective (as ``glmer.nb``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.convergence import check_convergence
from multilevel.design import build_design
from multilevel.errors import (
    ConvergenceWarning,
    DataWarning,
    ModelError,
    MultilevelWarning,
    SingularFitWarning,
)
from multilevel.glmm.family import Family, get_family
from multilevel.glmm.gradient import has_gradient
from multilevel.glmm.objective import GLMMObjective
from multilevel.glmm.pirls import GLMMProblem, PirlsState, pirls, random_part
from multilevel.glmm.response import glmm_response
from multilevel.glmm.result import GLMMFitOptions, GLMMResult
from multilevel.glmm.separation import separated_columns
from multilevel.lmm import TermBlock, estimates, update_factor
from multilevel.lmm.theta import ThetaLayout
from multilevel.numdiff import hessian
from multilevel.optimize import (
    OptimizerControl,
    OptSummary,
    column_scale,
    minimize,
    theta_scale,
)
from multilevel.optimize_gradient import minimize_gradient
from multilevel.result import is_singular

FloatArray = NDArray[np.float64]


def _rx_vcov(problem: GLMMProblem, state: PirlsState) -> FloatArray:
    """(R_Xᵀ R_X)⁻¹ at the converged PIRLS weights (the nAGQ = 0 covariance of β)."""
    return _rx_vcov_at(problem, state.factor.theta, state.eta, state.mu)


def _rx_vcov_at(
    problem: GLMMProblem, theta: FloatArray, eta: FloatArray, mu: FloatArray
) -> FloatArray:
    """(R_Xᵀ R_X)⁻¹ at the PIRLS weights of η and μ. With one scalar term, R_Xᵀ R_X is the
    Schur complement XᵀWX - Cᵀ M⁻¹ C of the diagonal u-block M (C = Λ Zᵀ W X per level)."""
    fam = problem.family
    mu_eta = fam.link.mu_eta(eta)
    wts = problem.prior_weights * mu_eta**2 / fam.variance(mu)
    X = problem.X
    if len(problem.terms) == 1 and problem.terms[0].q == 1 and X.shape[1] > 0:
        term = problem.terms[0]
        zl = term.z[:, 0] * float(theta[0])
        wz = wts * zl
        m = 1.0 + np.bincount(term.index, weights=wz * zl, minlength=term.nlevels)
        c = np.column_stack(
            [np.bincount(term.index, weights=wz * x, minlength=term.nlevels) for x in X.T]
        )
        schur = (X.T * wts) @ X - c.T @ (c / m[:, None])
        return np.asarray(np.linalg.inv(schur), dtype=np.float64)
    system = problem.structure_ub.assemble(np.zeros(problem.y.shape[0]), wts)
    est = estimates(system, update_factor(system, theta), reml=False)
    return est.vcov_unscaled


def parameter_scale(problem: GLMMProblem) -> FloatArray:
    """Scale of each element of (θ, β), on which the optimizer and the derivative checks work.

    Parameters
    ----------
    problem
        The GLMM.

    Returns
    -------
    numpy.ndarray
        For θ, the root mean square of each element's random-effects column
        (:func:`~multilevel.optimize.theta_scale`); for β, that of its column of X. (θ, β) ∘
        scale does not depend on the units of the variables.
    """
    return np.concatenate(
        [theta_scale([t.z for t in problem.terms]), column_scale(problem.X)]
    )


def lower_bounds(problem: GLMMProblem) -> FloatArray:
    """Bounds of (θ, β): lme4's for θ, none for β."""
    return np.concatenate(
        [problem.layout.lower_bounds(), np.full(problem.X.shape[1], -np.inf)]
    )


def _optimize(
    problem: GLMMProblem, nagq: int, control: OptimizerControl
) -> tuple[OptSummary, GLMMObjective, FloatArray]:
    layout = problem.layout
    k = layout.length
    scale = parameter_scale(problem)
    stage = GLMMObjective(problem, nagq)
    fun_grad = gradient_function(problem, stage, nagq, control)
    if fun_grad is None:
        return _optimize_bobyqa(problem, nagq, control)
    # With the exact gradient, L-BFGS-B from Λ = I and the GLM's β needs no nAGQ = 0 stage.
    beta_glm = pirls(problem, np.zeros(k), None).beta
    x0 = np.concatenate([layout.start() / scale[:k], beta_glm])
    opt = minimize_gradient(fun_grad, x0, lower_bounds(problem), control, scale)
    if opt.converged:
        return opt, stage, opt.x[k:]
    # L-BFGS-B did not converge: the two stages with BOBYQA, keeping the better optimum
    opt2, stage2, beta2 = _optimize_bobyqa(problem, nagq, control)
    note = f"L-BFGS-B stopped ({opt.returnvalue}); the fit was repeated with BOBYQA"
    if opt2.fmin <= opt.fmin:
        return replace(opt2, notes=(*opt2.notes, note)), stage2, beta2
    return replace(opt, notes=(*opt.notes, note)), stage, opt.x[k:]


def _optimize_bobyqa(
    problem: GLMMProblem, nagq: int, control: OptimizerControl
) -> tuple[OptSummary, GLMMObjective, FloatArray]:
    """lme4's two stages: θ with β inside PIRLS (nAGQ = 0), then (θ, β) from there."""
    layout = problem.layout
    # optimized on the scale (θ, β) ∘ d of parameter_scale, from Λ = I on that scale
    scale = parameter_scale(problem)
    k = layout.length
    stage0 = GLMMObjective(problem, 0)
    opt0 = minimize(stage0, layout.start() / scale[:k], layout.lower_bounds(), control,
                    scale=scale[:k])  # fmt: skip
    u0, beta0 = stage0.modes(opt0.x)
    if nagq == 0:
        return opt0, stage0, beta0
    theta0 = np.asarray(opt0.x, dtype=float)
    eta0 = problem.offset + problem.X @ beta0 + random_part(problem, theta0, u0)
    mu0 = problem.family.link.linkinv(eta0)
    se0 = np.sqrt(np.diag(_rx_vcov_at(problem, theta0, eta0, mu0)))
    stage = GLMMObjective(problem, nagq)
    stage._u = u0
    x0 = np.concatenate([opt0.x, beta0])
    lower = lower_bounds(problem)
    steps = np.concatenate([np.full(k, control.initial_step), np.maximum(se0 * scale[k:], 1e-4)])
    opt = minimize(stage, x0, lower, control, step=steps, scale=scale)
    opt = replace(opt, notes=tuple(dict.fromkeys(opt0.notes + opt.notes)))
    return opt, stage, opt.x[layout.length :]


def gradient_function(
    problem: GLMMProblem, stage: GLMMObjective, nagq: int, control: OptimizerControl
) -> Callable[[FloatArray], tuple[float, FloatArray]] | None:
    """The Laplace objective with its exact gradient (:mod:`multilevel.glmm.gradient`), where
    it applies and the default optimizer is asked for; None otherwise."""
    if nagq != 1 or not control.gradient or control.optimizer != "bobyqa":
        return None
    if not has_gradient(problem):
        return None
    return stage.value_and_gradient


def _problem(
    formula: str, data: Any, family: Family, weights: Any, offset: Any,
    contrasts: Mapping[str, str] | None, na_action: str,
) -> tuple[GLMMProblem, Any]:
    from multilevel.fit import parsed_formula

    parsed = parsed_formula(formula)
    bound: list[tuple[FloatArray, FloatArray]] = []

    def response(f: Any, fr: Any) -> FloatArray:
        bound.append(glmm_response(f, fr, family))  # (y, trials), evaluated once
        return bound[-1][0]

    design = build_design(
        parsed, data, weights=weights, offset=offset, contrasts=contrasts,
        na_action=na_action, gaussian=False, response=response,
    )
    assert parsed.response is not None
    y, trials = bound[-1]
    pw = trials if design.weights is None else trials * design.weights
    off = np.zeros(design.nobs) if design.offset is None else design.offset
    terms = tuple(TermBlock(t.grouping.codes, t.z, t.nlevels) for t in design.terms)
    problem = GLMMProblem(
        design.X, y, pw, off, terms, family, ThetaLayout(tuple(t.q for t in terms))
    )
    return problem, design


def fit_glmm(
    formula: str,
    data: Any,
    *,
    family: str | Family,
    link: str | None = None,
    nagq: int = 1,
    weights: Any = None,
    offset: Any = None,
    contrasts: Mapping[str, str] | None = None,
    control: OptimizerControl | None = None,
    na_action: str = "omit",
) -> GLMMResult:
    """Fit a GLMM (see :func:`multilevel.fit` for the arguments)."""
    fam = get_family(family, link)
    control = control or OptimizerControl()
    problem, design = _problem(formula, data, fam, weights, offset, contrasts, na_action)
    if nagq < 0:
        raise ModelError("nagq must be 0 (fast), 1 (Laplace) or more (adaptive Gauss-Hermite)")
    if nagq > 1 and (len(problem.terms) != 1 or problem.terms[0].q != 1):
        raise ModelError(
            f"nagq={nagq} (adaptive Gauss-Hermite quadrature) needs a single scalar random-effects "
            "term such as (1 | g); use nagq=1 (Laplace) for this model"
        )
    separated: list[str] = []
    if fam.name == "binomial":
        separated = separated_columns(problem.X, problem.y, problem.prior_weights, design.xnames)
    nb_opt = None
    if fam.name == "negative.binomial":
        problem, nb_opt = _fit_nb_theta(problem, nagq, control)
    opt, stage, beta = _optimize(problem, nagq, control)
    theta = opt.x[: problem.layout.length]
    state = stage.final_state(opt.x)
    messages: list[tuple[type[MultilevelWarning], str]] = [(DataWarning, n) for n in design.notes]
    messages.extend((MultilevelWarning, n) for n in opt.notes)
    if separated:
        messages.append(
            (
                ConvergenceWarning,
                "complete or quasi-complete separation: the fixed effects of "
                f"{', '.join(separated)} are not identifiable (their estimates run off towards "
                "infinity); drop or merge the offending predictors, or fit with priors",
            )
        )
    conv = None
    if nagq == 0:
        vcov = _rx_vcov(problem, state)
    else:
        scale = parameter_scale(problem)
        conv = check_convergence(stage, opt.x, lower_bounds(problem), scale=scale,
                                 fun_grad=gradient_function(problem, stage, nagq, control))
        messages.extend((ConvergenceWarning, m) for m in conv.messages + conv.notes)
        # The check's Hessian covers the free parameters; reuse it when nothing is on a bound.
        hess = conv.hessian if conv.free.all() else hessian(stage, opt.x, floor=1e-2 / scale)
        try:
            # inverted on the scale (θ, β) ∘ d, where it is well conditioned
            dd = np.outer(scale, scale)
            if not np.all(np.isfinite(hess)):
                raise np.linalg.LinAlgError("not finite")
            inv = np.asarray(np.linalg.inv(0.5 * hess / dd), dtype=np.float64) / dd
            vcov = inv[problem.layout.length :, problem.layout.length :]
            if not np.all(np.diag(vcov) > 0):
                raise np.linalg.LinAlgError("not positive definite")
        except np.linalg.LinAlgError:
            vcov = _rx_vcov(problem, state)
            messages.append(
                (ConvergenceWarning, "the Hessian is not positive definite at the optimum; "
                 "standard errors come from the PIRLS approximation instead")
            )
    if is_singular(theta, problem.layout.diagonal_mask()):
        messages.append((SingularFitWarning, "boundary (singular) fit: see result.singular"))
    if not opt.converged:
        messages.append((ConvergenceWarning, f"the optimizer did not converge: {opt.returnvalue}"))
    if not state.converged:
        messages.append((ConvergenceWarning, "PIRLS did not converge at the optimum"))
    for category, text in messages:
        warnings.warn(text, category, stacklevel=3)
    return GLMMResult(
        design=design,
        problem=problem,
        options=GLMMFitOptions(formula, fam, nagq, weights, offset, contrasts, control, na_action),
        data=data,
        theta=theta,
        beta=beta,
        vcov_beta=np.asarray(vcov),
        objective=opt.fmin,
        optsummary=opt,
        state=state,
        nb_theta_opt=nb_opt,
        warnings=tuple(text for _, text in messages),
        convergence=conv,
    )


def _fit_nb_theta(
    problem: GLMMProblem, nagq: int, control: OptimizerControl
) -> tuple[GLMMProblem, float]:
    """Estimate the negative binomial's θ jointly with (θ, β): one BOBYQA run over
    (θ, β, log θ_nb) from the fit at a moment-based start. Its optimum is the one of
    ``glmer.nb``'s alternation (which profiles the same objective over θ_nb)."""
    opt0, _, beta0 = _optimize(problem, nagq, control)
    mu = problem.family.link.linkinv(problem.offset + problem.X @ beta0)
    y = problem.y
    excess = float(np.sum((y - mu) ** 2 - y))
    start = float(np.sum(mu**2)) / excess if excess > 0 else 10.0
    start = min(max(start, 1e-2), 1e3)
    k = problem.layout.length

    def objective(params: FloatArray) -> float:
        fam = problem.family.with_theta(math.exp(float(params[-1])))
        stage = GLMMObjective(problem.with_family(fam), max(nagq, 1))
        return stage(params[:-1])

    x0 = np.concatenate([opt0.x[:k], beta0, [math.log(start)]])
    lower = np.concatenate([lower_bounds(problem), [math.log(1e-4)]])
    steps = np.concatenate([np.full(k, control.initial_step), np.full(beta0.size, 0.05), [0.5]])
    opt = minimize(objective, x0, lower, control, step=steps)
    nb = math.exp(float(opt.x[-1]))
    return problem.with_family(problem.family.with_theta(nb)), nb
