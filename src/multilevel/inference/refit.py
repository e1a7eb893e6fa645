"""Refitting a linear mixed model without re-parsing its formula.

Bootstrap replicates, likelihood-ratio refits with ML and Kenward-Roger's REML refit reuse the
fitted design: only the response (or the criterion) changes, so only the response rows of the
PLS system are recomputed and the optimizer starts from the fitted θ. Models with a compiled
objective take finite-difference Newton steps from there (:mod:`multilevel.lmm.local_newton`),
and BOBYQA takes over where those stop on unsure ground (e.g. a singular refit).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.lmm import PLSSystem, estimates, make_objective, update_factor
from multilevel.lmm.local_newton import minimize_local
from multilevel.optimize import OptimizerControl, minimize, theta_scale
from multilevel.threads import blas_threads

FloatArray = NDArray[np.float64]

#: Values kept with a system that do not depend on the response (a refit's system keeps them).
_STRUCTURE_MEMOS = ("_weighted_x", "_theta_scale", "_scalar_structure")


def with_response(system: PLSSystem, y: FloatArray, weights: FloatArray | None) -> PLSSystem:
    """The PLS system of the same design with response ``y`` (offset already subtracted).

    Only the blocks holding y (last row of each [X y]ᵀZ_k and of [X y]ᵀ[X y]) are recomputed.
    """
    yw = np.asarray(y, dtype=float)
    if weights is not None:
        yw = yw * np.sqrt(weights)
    p = system.nfixed
    xyz = []
    for t, block in zip(system.terms, system.xyz, strict=True):
        new = block.copy()
        row = new[p, :].reshape(t.nlevels, t.q)
        for a in range(t.q):
            row[:, a] = np.bincount(t.index, weights=t.z[:, a] * yw, minlength=t.nlevels)
        xyz.append(new)
    xyxy = system.xyxy.copy()
    xw = _weighted_x(system)
    xty = xw.T @ yw
    xyxy[p, :p] = xty
    xyxy[:p, p] = xty
    xyxy[p, p] = float(yw @ yw)
    out = dataclasses.replace(system, xyz=tuple(xyz), xyxy=xyxy)
    for key in _STRUCTURE_MEMOS:  # computed from the design alone: still valid
        if key in system.__dict__:
            out.__dict__[key] = system.__dict__[key]
    return out


def _weighted_x(system: PLSSystem) -> FloatArray:
    x = system.__dict__.get("_weighted_x")
    if x is None:
        raise RuntimeError("weighted X not attached to the system")  # pragma: no cover
    return np.asarray(x)


def attach_x(system: PLSSystem, x_weighted: FloatArray) -> PLSSystem:
    """Keep the weighted X next to the system (for :func:`with_response`)."""
    system.__dict__["_weighted_x"] = x_weighted
    return system


def design_system(result: Any) -> PLSSystem:
    """The fitted system with the weighted X and the θ scale of its Z columns attached
    (computed once per result)."""
    system = result.system
    if "_weighted_x" not in system.__dict__:
        d = result.design
        x = d.X if d.weights is None else d.X * np.sqrt(d.weights)[:, None]
        attach_x(system, np.asarray(x, dtype=float))
        system.__dict__["_theta_scale"] = theta_scale([t.z for t in system.terms])
    return system


def refit(
    result: Any,
    *,
    y: FloatArray | None = None,
    reml: bool | None = None,
    start: FloatArray | None = None,
    control: OptimizerControl | None = None,
) -> Any:
    """Refit a linear mixed model with a new response and/or criterion.

    Parameters
    ----------
    result
        The fitted :class:`~multilevel.result.LMMResult`.
    y
        New response (on the data scale, offset included), one value per used row.
    reml
        REML (True) or ML (False); default as fitted.
    start
        Starting θ (default: the fitted θ).
    control
        Optimizer settings (default: those of the fit).

    Returns
    -------
    LMMResult
        The refitted model; its ``data`` still refers to the original data.
    """
    reml = result.reml if reml is None else bool(reml)
    design = result.design
    system = design_system(result)
    # on the scale of the Z columns, as the fit optimizes (a quarter fewer evaluations than
    # on raw θ for sleepstudy bootstrap refits)
    scale = system.__dict__["_theta_scale"]
    if y is not None:
        y = np.asarray(y, dtype=float)
        if y.shape != design.y.shape:
            raise ValueError(f"y has shape {y.shape}, expected {design.y.shape}")
        resp = y if design.offset is None else y - design.offset
        system = with_response(system, resp, design.weights)
        design = dataclasses.replace(design, y=y)
    ctrl = control or result.options.control
    theta0 = np.asarray(result.theta if start is None else start, dtype=float)
    lower = system.layout.lower_bounds()
    x0 = np.maximum(theta0, lower)
    with blas_threads():  # small factors: BLAS threads only add their wake-up time
        # Newton steps for the models with a compiled objective, under the default optimizer
        local = None
        if ctrl.optimizer == "bobyqa":
            local = minimize_local(system, reml, x0, lower, scale)
        if local is not None and local.converged:
            opt = local
        else:
            opt = minimize(make_objective(system, reml), x0, lower, ctrl, scale=scale)
            if local is not None and local.feval:
                note = f"Newton from the start stopped ({local.returnvalue}); BOBYQA used"
                opt = dataclasses.replace(
                    opt, feval=opt.feval + local.feval, notes=(*opt.notes, note)
                )
        est = estimates(system, update_factor(system, opt.x), reml)
    return dataclasses.replace(
        result,
        design=design,
        system=system,
        options=dataclasses.replace(result.options, reml=reml),
        theta=opt.x,
        objective=opt.fmin,
        optsummary=opt,
        estimates=est,
        warnings=(),
    )
