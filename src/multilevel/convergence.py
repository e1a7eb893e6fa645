"""Convergence checks at the optimum, as lme4's ``checkConv``.

The gradient and Hessian of the objective are taken by finite differences over the parameters
that are not on a bound. The fit is flagged when the gradient, scaled as lme4 scales it (the
smaller of |R⁻¹g| and |g| element by element, with H = RᵀR), exceeds a tolerance (lme4's
``check.conv.grad``, 0.002) or the Hessian is not positive definite (lme4's "degenerate
Hessian"); a very large eigenvalue ratio is reported as a hint to rescale variables.

The checks run on the parameters as the optimizer sees them, x' = x ∘ d with d the scale of
each parameter (:func:`multilevel.optimize.theta_scale` for θ, the scale of the column a fixed
effect multiplies for β): they then do not depend on the units of the variables. The gradient is
taken with lme4's difference step (1e-4 on that scale), which keeps its rounding noise below the
tolerance when the objective is large.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from multilevel.numdiff import (
    gradient,
    hessian,
    hessian_from_gradients,
    hessian_from_values,
    steps,
)
from multilevel.threads import blas_threads

FloatArray = NDArray[np.float64]

GRAD_TOL = 2e-3
#: Most free parameters for which :func:`check_convergence` takes a Hessian from values.
MAX_VALUE_HESSIAN = 3
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
        R⁻¹g with H = RᵀR, as lme4 scales it, over the rescaled parameters x ∘ d (NaN where H
        is not positive definite).
    max_scaled_gradient
        The largest element of min(|R⁻¹g|, |g|) (lme4's ``max|grad|``), over x ∘ d.
    min_eigenvalue, eigenvalue_ratio
        Smallest eigenvalue of the Hessian over x ∘ d and the largest/smallest ratio.
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
    scale: FloatArray | None = None,
    fun_grad: Callable[[FloatArray], tuple[float, FloatArray]] | None = None,
    value_hessian: bool = False,
) -> ConvergenceCheck:
    """Check the gradient and Hessian of ``fun`` at the optimum ``x``.

    Parameters
    ----------
    fun
        The objective (-2 log-likelihood or REML criterion).
    x
        The optimum.
    lower
        Lower bounds; parameters within 1e-6 of theirs (on the scale ``x ∘ scale``) are left
        out of the checks.
    tol
        Tolerance on the scaled gradient, as lme4's.
    scale
        Positive scale d of each parameter (default 1): the checks are made on x' = x ∘ d.
    fun_grad
        The objective with its exact gradient, where there is one: the gradient is then exact
        and the Hessian its forward difference (one evaluation per free parameter instead of
        the objective's 2n² + 1). On VerbAgg the standard errors from it differ from those of
        the gradient's central difference by 2.4e-6 (relative), and from those of the
        objective's finite differences by 7e-5.
    value_hessian
        With ``fun_grad`` and at most :data:`MAX_VALUE_HESSIAN` free parameters, take the
        Hessian from values of ``fun`` (forward differences, with the exact gradient at x):
        k + k(k-1)/2 objective evaluations instead of k gradient evaluations, cheaper where a
        gradient costs over (k+1)/2 objectives (InstEval's costs 2.4).

    Returns
    -------
    ConvergenceCheck
        ``gradient`` and ``hessian`` are those over x; ``scaled_gradient``, the eigenvalues and
        the messages come from the same derivatives over x'.
    """
    x = np.asarray(x, dtype=float)
    d = np.ones(x.size) if scale is None else np.asarray(scale, dtype=float)
    free = ~(np.isfinite(lower) & (x * d <= lower * d + 1e-6))
    idx = np.flatnonzero(free)
    if idx.size == 0:
        empty = np.zeros(0)
        return ConvergenceCheck(free, empty, np.zeros((0, 0)), empty, 0.0, np.nan, np.nan, ())

    def sub(z: FloatArray) -> float:
        return fun(_embed(x, idx, z))

    di = d[idx]
    # steps on the scale of x': lme4's 1e-4 for the gradient, 1e-3 relative for the Hessian
    with blas_threads():
        if fun_grad is None:
            g = gradient(sub, x[idx], rel=1e-4, floor=1.0 / di)
            h = hessian(sub, x[idx], floor=1e-2 / di)
        elif value_hessian and idx.size <= MAX_VALUE_HESSIAN:
            g, h = _value_hessian(fun, fun_grad, x, idx, di)
        else:
            g, h = _exact_gradient_hessian(fun_grad, x, idx, di)
    gs, hs = g / di, h / np.outer(di, di)
    if not (np.all(np.isfinite(gs)) and np.all(np.isfinite(hs))):
        what = "gradient" if not np.all(np.isfinite(gs)) else "Hessian"
        msg = (
            f"Model failed to converge: the {what} of the objective is not finite at the "
            "optimum (the objective is undefined next to it); check the scale of the variables"
        )
        nan = np.full(idx.size, np.nan)
        return ConvergenceCheck(free, g, h, nan, np.inf, np.nan, np.nan, (msg,))
    try:
        eig = np.linalg.eigvalsh(hs)
    except np.linalg.LinAlgError:
        eig = np.full(idx.size, np.nan)
    min_eig = float(eig[0])
    ratio = float(eig[-1] / eig[0]) if eig[0] > 0 else np.inf
    step = _scaled_gradient(gs, hs) if min_eig > 0 else np.full(idx.size, np.nan)
    # lme4: the smaller of the scaled and the plain gradient, element by element
    mingrad = np.minimum(np.abs(step), np.abs(gs))
    max_step = float(np.max(mingrad)) if np.all(np.isfinite(mingrad)) else np.inf
    messages: list[str] = []
    if not np.all(np.isfinite(eig)):
        messages.append("Model failed to converge: the eigenvalues of the Hessian could not be "
                        "computed")  # fmt: skip
    elif min_eig <= 0:
        neg = int(np.sum(eig <= 0))
        messages.append(
            f"Model failed to converge: degenerate Hessian with {neg} negative eigenvalue"
            f"{'s' if neg > 1 else ''}"
        )
    elif not np.all(np.isfinite(step)):
        messages.append("Model failed to converge: unable to evaluate the scaled gradient")
    elif max_step > tol:
        comp = int(np.argmax(mingrad)) + 1
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


def _exact_gradient_hessian(
    fun_grad: Callable[[FloatArray], tuple[float, FloatArray]],
    x: FloatArray,
    idx: NDArray[np.intp],
    di: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """The exact gradient over the free parameters, and the Hessian as its forward difference
    (steps 1e-4 on the scale of x ∘ d, symmetrized)."""
    g = np.asarray(fun_grad(x)[1], dtype=float)[idx]

    def grad(z: FloatArray) -> FloatArray:
        return np.asarray(fun_grad(_embed(x, idx, z))[1], dtype=float)[idx]

    return g, hessian_from_gradients(grad, x[idx], g, steps(x[idx], 1e-4, floor=1.0 / di))


def _value_hessian(
    fun: Callable[[FloatArray], float],
    fun_grad: Callable[[FloatArray], tuple[float, FloatArray]],
    x: FloatArray,
    idx: NDArray[np.intp],
    di: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """The exact gradient, and the Hessian from forward differences of objective values
    (:func:`~multilevel.numdiff.hessian_from_values`; steps as :func:`_exact_gradient_hessian`)."""
    f0, g_full = fun_grad(x)
    g = np.asarray(g_full, dtype=float)[idx]

    def value(z: FloatArray) -> float:
        return float(fun(_embed(x, idx, z)))

    h = hessian_from_values(value, x[idx], f0, g, steps(x[idx], 1e-4, floor=1.0 / di))
    return g, h


def _embed(x: FloatArray, idx: NDArray[np.intp], z: FloatArray) -> FloatArray:
    """x with its elements ``idx`` replaced by z."""
    full = x.copy()
    full[idx] = z
    return full


def _scaled_gradient(g: FloatArray, h: FloatArray) -> FloatArray:
    """lme4's ``solve(chol(H), g)``: R⁻¹g with R the upper Cholesky factor of H = RᵀR."""
    try:
        return np.asarray(np.linalg.solve(np.linalg.cholesky(h).T, g), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.full(g.size, np.nan)

