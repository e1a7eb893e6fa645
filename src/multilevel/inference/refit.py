"""Refitting a linear mixed model without re-parsing its formula.

Bootstrap replicates, likelihood-ratio refits with ML and Kenward-Roger's REML refit reuse the
fitted design: only the response (or the criterion) changes, so only the response rows of the
PLS system are recomputed and the optimizer starts from the fitted θ.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.lmm import PLSSystem, estimates, make_objective, update_factor
from multilevel.optimize import OptimizerControl, minimize, theta_scale
from multilevel.threads import blas_threads

FloatArray = NDArray[np.float64]


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
    return dataclasses.replace(system, xyz=tuple(xyz), xyxy=xyxy)


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
        x_attached = system.__dict__["_weighted_x"]
        system = attach_x(with_response(system, resp, design.weights), x_attached)
        design = dataclasses.replace(design, y=y)
    ctrl = control or result.options.control
    theta0 = np.asarray(result.theta if start is None else start, dtype=float)
    lower = system.layout.lower_bounds()
    with blas_threads():  # small factors: BLAS threads only add their wake-up time
        opt = minimize(make_objective(system, reml), np.maximum(theta0, lower), lower, ctrl,
                       scale=scale)
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
