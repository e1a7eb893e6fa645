"""``fit``: the pipeline formula → design → PLS system → objective(θ) → optimizer → result."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.convergence import check_convergence
from multilevel.design import Design, build_design
from multilevel.errors import (
    ConvergenceWarning,
    DataWarning,
    FormulaError,
    MultilevelWarning,
    NotSupportedError,
    SingularFitWarning,
)
from multilevel.formula import ParsedFormula, parse_formula
from multilevel.glmm.fit import fit_glmm
from multilevel.lmm import (
    PLSSystem,
    TermBlock,
    build_system,
    estimates,
    make_objective,
    update_factor,
)
from multilevel.lmm.gradient import GradientPoint, gradient_point, use_gradient
from multilevel.lmm.start import moment_start
from multilevel.optimize import OptimizerControl, minimize, optimizer_control, theta_scale
from multilevel.optimize_gradient import minimize_gradient, remember_last
from multilevel.optimize_newton import minimize_newton
from multilevel.result import FitOptions, LMMResult, is_singular
from multilevel.threads import blas_threads

FloatArray = NDArray[np.float64]


def _control(control: OptimizerControl | Mapping[str, Any] | None) -> OptimizerControl:
    return optimizer_control(control)


@lru_cache(maxsize=256)
def parsed_formula(text: str) -> ParsedFormula:
    """:func:`~multilevel.formula.parse_formula`, cached (parsed formulas are frozen values)."""
    return parse_formula(text)


def pls_system(design: Design) -> PLSSystem:
    """The PLS system of a design (offset subtracted from the response)."""
    y = design.y if design.offset is None else design.y - design.offset
    blocks = tuple(TermBlock(t.grouping.codes, t.z, t.nlevels) for t in design.terms)
    return build_system(design.X, y, blocks, design.weights)


def _design(
    formula: str | ParsedFormula,
    data: Any,
    weights: Any,
    offset: Any,
    contrasts: Mapping[str, str] | None,
    na_action: str,
) -> Design:
    parsed = parsed_formula(formula) if isinstance(formula, str) else formula
    return build_design(
        parsed, data, weights=weights, offset=offset, contrasts=contrasts, na_action=na_action
    )


@dataclass(frozen=True)
class ObjectiveFunction:
    """The profiled objective of a model as a pure function of θ (lme4's ``devFunOnly``).

    Attributes
    ----------
    system
        The PLS system it evaluates.
    reml
        REML criterion if True, else -2 log-likelihood.
    """

    system: PLSSystem
    reml: bool

    def __call__(self, theta: Any) -> float:
        """The objective at θ."""
        return make_objective(self.system, self.reml)(np.atleast_1d(np.asarray(theta, dtype=float)))

    @property
    def lower(self) -> FloatArray:
        """Lower bounds of θ."""
        return self.system.layout.lower_bounds()

    @property
    def start(self) -> FloatArray:
        """lme4's starting value of θ."""
        return self.system.layout.start()


def objective_function(
    formula: str,
    data: Any,
    *,
    reml: bool = True,
    weights: Any = None,
    offset: Any = None,
    contrasts: Mapping[str, str] | None = None,
    na_action: str = "omit",
) -> ObjectiveFunction:
    """The objective of a linear mixed model as a function of θ.

    Parameters
    ----------
    formula, data, reml, weights, offset, contrasts, na_action
        As for :func:`fit`.

    Returns
    -------
    ObjectiveFunction
        Callable on θ (lme4's layout); ``.lower`` and ``.start`` give bounds and start.

    Examples
    --------
    >>> import multilevel as ml
    >>> f = ml.objective_function("Reaction ~ Days + (Days|Subject)",
    ...                           ml.datasets.load("sleepstudy"))
    >>> round(f([0.9667, 0.0152, 0.2309]), 2)
    1743.63
    """
    design = _design(formula, data, weights, offset, contrasts, na_action)
    return ObjectiveFunction(pls_system(design), reml)


def fit(
    formula: str,
    data: Any,
    *,
    reml: bool = True,
    weights: Any = None,
    offset: Any = None,
    contrasts: Mapping[str, str] | None = None,
    control: OptimizerControl | Mapping[str, Any] | None = None,
    na_action: str = "omit",
    family: Any = None,
    link: str | None = None,
    nagq: int = 1,
    method: str = "likelihood",
    **kwargs: Any,
) -> Any:
    """Fit a linear mixed model written as an lme4 formula.

    Parameters
    ----------
    formula
        lme4 syntax, e.g. ``"Reaction ~ Days + (Days | Subject)"``; random-effects terms
        ``(1|g)``, ``(x|g)``, ``(0 + x|g)``, ``(x||g)``, ``(1|a/b)``, ``(1|a:b)``, crossed terms.
    data
        pandas or polars DataFrame (never modified).
    reml
        REML (default) or maximum likelihood.
    weights
        Prior (precision) weights: array with one value per row, or a column name.
    offset
        Known offset: array or column name (``offset(...)`` in the formula also works).
    contrasts
        Per-column contrasts ("treatment" default, "sum", "helmert", "poly").
    control
        Optimizer settings (:class:`~multilevel.optimize.OptimizerControl` or a dict of them).
    na_action
        "omit" (default) drops rows with missing values in used columns; "raise" refuses them.
    family
        ``None`` or ``"gaussian"`` for a linear mixed model; ``"binomial"``, ``"poisson"``,
        ``"Gamma"``, ``"inverse.gaussian"``, ``"negative.binomial"`` (or a
        :class:`~multilevel.glmm.family.Family`) for a generalized linear mixed model.
    link
        Link function overriding the family's default (e.g. ``"probit"``).
    nagq
        GLMMs only: 1 (Laplace, default), more for adaptive Gauss-Hermite quadrature (a single
        scalar random effect), 0 for the fast approximation with β inside PIRLS.
    method
        "likelihood" (default: ML/REML/Laplace/AGQ) or "bayes" (NUTS with NumPyro, extra
        ``[bayes]``; its options such as ``draws``, ``chains``, ``seed``, ``priors`` go in
        ``**kwargs``).
    **kwargs
        Options of the Bayesian fit.

    Returns
    -------
    LMMResult, GLMMResult or BayesResult
        A Dask DataFrame as ``data`` fits on Dask (extra ``[dask]``) and returns the same result
        types.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(m.objective, 3)
    1743.628
    """
    if method == "bayes":
        ignored = [
            name
            for name, given in (("reml", reml is not True), ("control", control is not None),
                                ("nagq", nagq != 1))
            if given
        ]
        if ignored:
            raise NotSupportedError(
                f"{', '.join(ignored)} only apply to likelihood fits, not to method='bayes': "
                "drop them (the Bayesian fit samples the full posterior; its options are "
                "draws, warmup, chains, seed, priors, chain_method, target_accept)"
            )
        from multilevel.bayes import fit_bayes

        return fit_bayes(
            formula, data, family=family, link=link, weights=weights, offset=offset,
            contrasts=contrasts, na_action=na_action, **kwargs,
        )
    if method != "likelihood":
        raise NotSupportedError(f"method={method!r}: use 'likelihood' or 'bayes'")
    if kwargs:
        raise TypeError(f"unexpected arguments for a likelihood fit: {', '.join(sorted(kwargs))}")
    if type(data).__module__.startswith("dask"):
        from multilevel.dask import fit_dask

        return fit_dask(
            formula, data, reml=reml, weights=weights, offset=offset, contrasts=contrasts,
            control=control, na_action=na_action, family=family, link=link, nagq=nagq,
        )
    ctrl = _control(control)
    # One BLAS thread for the whole fit (threads.py): on small matrices a multi-threaded BLAS
    # only adds its threads' wake-up time, which under load is milliseconds per call.
    with blas_threads():
        if family is not None and not (isinstance(family, str) and family.lower() == "gaussian"):
            if not isinstance(formula, str):
                formula = formula.text
            return fit_glmm(
                formula, data, family=family, link=link, nagq=nagq, weights=weights, offset=offset,
                contrasts=contrasts, control=ctrl, na_action=na_action,
            )
        if link not in (None, "identity"):
            raise NotSupportedError(
                f"link={link!r} with a Gaussian family: only the identity link is supported"
            )
        design = _design(formula, data, weights, offset, contrasts, na_action)
        options = FitOptions(
            formula=formula if isinstance(formula, str) else formula.text,
            reml=reml,
            weights=weights,
            offset=offset,
            contrasts=contrasts,
            control=ctrl,
            na_action=na_action,
        )
        return finish_lmm(pls_system(design), design, options, data)


def finish_lmm(
    system: PLSSystem,
    design: Design,
    options: FitOptions,
    data: Any,
    *,
    scale: FloatArray | None = None,
    result_type: type[LMMResult] = LMMResult,
    stacklevel: int = 3,
) -> LMMResult:
    """A linear mixed model from its PLS system: optimizer, factor, estimates, warnings, result.

    The part of :func:`fit` after the system is built, shared with the fit on Dask
    (:func:`multilevel.dask.fit_dask`), whose system is reduced from the partitions.

    Parameters
    ----------
    system
        The PLS system.
    design
        The design (its notes become :class:`~multilevel.errors.DataWarning`s).
    options
        The call's options (``reml`` and ``control`` are used here).
    data
        The caller's data, kept by the result.
    scale
        The scale of θ's elements (:func:`~multilevel.optimize.theta_scale`); None computes it
        from the Z columns of ``system.terms``.
    result_type
        :class:`~multilevel.result.LMMResult` or a subclass.
    stacklevel
        Of the warnings: 3 points at the caller of :func:`fit`.

    Returns
    -------
    LMMResult
        Of type ``result_type``.
    """
    reml = options.reml
    fun = make_objective(system, reml)
    # θ is optimized as θ ∘ d, d the scale of each element's Z column, from Λ = I on that scale
    if scale is None:
        scale = theta_scale([t.z for t in system.terms])
    lower = system.layout.lower_bounds()
    ctrl = options.control
    fun_grad = None
    last: dict[bytes, GradientPoint] = {}  # the gradient fit's last point, with its estimates
    if ctrl.gradient and ctrl.optimizer == "bobyqa" and use_gradient(system):
        def value_grad(theta: FloatArray) -> tuple[float, FloatArray]:
            point = gradient_point(system, theta, reml)
            last.clear()
            last[np.asarray(theta, dtype=float).tobytes()] = point
            return point.value, point.gradient

        fun_grad = remember_last(value_grad)
        start = moment_start(system, scale)
        x0 = system.layout.start() / scale if start is None else start
        opt = minimize_newton(fun_grad, x0, ctrl, scale, fun=fun)
        if not opt.converged:  # L-BFGS-B, which handles the bounds, takes over
            lbfgs = minimize_gradient(fun_grad, opt.x, lower, ctrl, scale)
            note = f"Newton on log θ stopped ({opt.returnvalue}); L-BFGS-B continued"
            opt = replace(lbfgs, x0=opt.x0, feval=opt.feval + lbfgs.feval, notes=(note,))
        if not opt.converged:  # BOBYQA takes over from L-BFGS-B's point
            polish = minimize(fun, opt.x, lower, ctrl, scale=scale)
            note = f"L-BFGS-B stopped ({opt.returnvalue}); BOBYQA continued from its point"
            opt = replace(polish, x0=opt.x0, feval=opt.feval + polish.feval,
                          notes=(*polish.notes, note))
    else:
        opt = minimize(fun, system.layout.start() / scale, lower, ctrl, scale=scale)
    kept = last.get(np.asarray(opt.x, dtype=float).tobytes())
    if kept is not None and kept.estimates is not None:
        est = kept.estimates  # the optimizer's last evaluation was at the optimum
    else:
        est = estimates(system, update_factor(system, opt.x), reml)
    messages: list[tuple[type[MultilevelWarning], str]] = [
        (DataWarning, note) for note in design.notes
    ] + [(MultilevelWarning, note) for note in opt.notes]
    if is_singular(opt.x, system.layout.diagonal_mask()):
        messages.append((SingularFitWarning, "boundary (singular) fit: see result.singular"))
    if not opt.converged:
        messages.append(
            (ConvergenceWarning, f"the optimizer did not converge: {opt.returnvalue}")
        )
    # objective values cost well under half a gradient evaluation here (no inverse)
    conv = check_convergence(
        fun, opt.x, lower, scale=scale, fun_grad=fun_grad, value_hessian=fun_grad is not None
    )
    messages.extend((ConvergenceWarning, m) for m in conv.messages + conv.notes)
    for category, text in messages:
        warnings.warn(text, category, stacklevel=stacklevel)
    return result_type(
        design=design,
        system=system,
        options=options,
        data=data,
        theta=opt.x,
        objective=opt.fmin,
        optsummary=opt,
        estimates=est,
        warnings=tuple(text for _, text in messages),
        convergence=conv,
    )


def update_formula(old: str, new: str) -> str:
    """R's ``update.formula`` for the common cases: ``.`` stands for the old side."""
    if "~" not in new:
        raise FormulaError(
            f"the new formula {new!r} has no '~': write it as 'y ~ x', or '. ~ . + x' to "
            "keep the old sides"
        )
    old_lhs, old_rhs = (s.strip() for s in old.split("~", 1))
    new_lhs, new_rhs = (s.strip() for s in new.split("~", 1))
    dot = re.compile(r"(?<![\w.])\.(?![\w.])")
    new_lhs = dot.sub(lambda _: old_lhs, new_lhs)
    new_rhs = dot.sub(lambda _: old_rhs, new_rhs)
    return f"{new_lhs} ~ {new_rhs}"


