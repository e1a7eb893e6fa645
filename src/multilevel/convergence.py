"""Convergence checks at the optimum, as lme4's ``checkConv``.

The gradient and Hessian of the objective are taken by finite differences over the parameters
that are not on a bound. The fit is flagged when the scaled gradient (R⁻¹g with
H = RᵀR) exceeds a tolerance (lme4's ``check.conv.grad``, 0.002) or the Hessian is not positive
definite (lme4's "degenerate Hessian"); a very large eigenvalue ratio is reported as a hint to
rescale variables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from multilevel.numdiff import gradient, hessian

FloatArray = NDArray[np.float64]

GRAD_TOL = 2e-3
EIGEN_RATIO_TOL = 1e6


@dataclass(frozen=True)
class ConvergenceCheck:
    """The derivative checks at an optimum.

    Attributes
    ----------
    free
        Mask of the parameters checked (those not on a bound).
    gradient
        Gradient of the objective over the free parameters.
    hessian
        Hessian of the objective over the free parameters.
    scaled_gradient
        R⁻¹g with H = RᵀR, as lme4 scales it (NaN where H is not positive definite).
    max_scaled_gradient
        Its largest absolute element (``max|grad|`` in lme4's message).
    min_eigenvalue, eigenvalue_ratio
        Smallest Hessian eigenvalue and the largest/smallest ratio.
    messages
        One line per failed check; empty when the checks pass.
    notes
        Hints that are not failures (a large eigenvalue ratio).
    """

    free: NDArray[np.bool_]
    gradient: FloatArray
    hessian: FloatArray
    scaled_gradient: FloatArray
    max_scaled_gradient: float
    min_eigenvalue: float
    eigenvalue_ratio: float
    messages: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every check passes."""
        return not self.messages


def check_convergence(
    fun: Callable[[FloatArray], float],
    x: FloatArray,
    lower: FloatArray,
    tol: float = GRAD_TOL,
) -> ConvergenceCheck:
    """Check the gradient and Hessian of ``fun`` at the optimum ``x``.

    Parameters
    ----------
    fun
        The objective (-2 log-likelihood or REML criterion).
    x
        The optimum.
    lower
        Lower bounds; parameters within 1e-6 of theirs are left out of the checks.
    tol
        Tolerance on the scaled gradient R⁻¹g (H = RᵀR), as lme4's.

    Returns
    -------
    ConvergenceCheck
    """
    x = np.asarray(x, dtype=float)
    free = ~(np.isfinite(lower) & (x <= lower + 1e-6))
    idx = np.flatnonzero(free)
    messages: list[str] = []
    if idx.size == 0:
        empty = np.zeros(0)
        return ConvergenceCheck(free, empty, np.zeros((0, 0)), empty, 0.0, np.nan, np.nan, ())

    def sub(z: FloatArray) -> float:
        full = x.copy()
        full[idx] = z
        return fun(full)

    g = gradient(sub, x[idx])
    h = hessian(sub, x[idx])
    eig = np.linalg.eigvalsh(h)
    min_eig = float(eig[0])
    ratio = float(eig[-1] / eig[0]) if eig[0] > 0 else np.inf
    try:
        if min_eig <= 0:
            raise np.linalg.LinAlgError("not positive definite")
        # lme4: solve(chol(H), g), with chol the upper factor R of H = RᵀR
        step = np.linalg.solve(np.linalg.cholesky(h).T, g)
    except np.linalg.LinAlgError:
        step = np.full(idx.size, np.nan)
    max_step = float(np.max(np.abs(step))) if np.all(np.isfinite(step)) else np.inf
    if min_eig <= 0:
        neg = int(np.sum(eig <= 0))
        messages.append(
            f"Model failed to converge: degenerate Hessian with {neg} negative eigenvalue"
            f"{'s' if neg > 1 else ''}"
        )
    elif max_step > tol:
        comp = int(np.argmax(np.abs(step))) + 1
        messages.append(
            f"Model failed to converge with max|grad| = {max_step:.4g} (tol = {tol}, "
            f"component {comp})"
        )
    notes = []
    if min_eig > 0 and ratio > EIGEN_RATIO_TOL:
        notes.append(
            f"Model is nearly unidentifiable: large eigenvalue ratio ({ratio:.3g}); "
            "rescale variables?"
        )
    return ConvergenceCheck(
        free, g, h, step, max_step, min_eig, ratio, tuple(messages), tuple(notes)
    )
