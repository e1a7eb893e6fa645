"""Detection of complete or quasi-complete separation in binomial models (Konis 2007).

The fixed-effects design separates the data when some direction b ≠ 0 has xᵢᵀb ≥ 0 for every
all-success row, xᵢᵀb ≤ 0 for every all-failure row and xᵢᵀb = 0 for rows with both outcomes:
moving β along b then never lowers the likelihood, so the estimate runs off to infinity. A linear
program finds the sparsest such direction; its non-zero elements name the offending columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

FloatArray = NDArray[np.float64]


def separated_columns(
    X: FloatArray, y: FloatArray, trials: FloatArray, names: Sequence[str], tol: float = 1e-7
) -> list[str]:
    """Columns of X along which the binomial data are (quasi-)completely separated.

    Parameters
    ----------
    X
        Fixed-effects model matrix.
    y
        Proportions of successes.
    trials
        Number of trials per row (prior weights).
    names
        Column names of X.
    tol
        Threshold on the elements of the separating direction.

    Returns
    -------
    list of str
        Names of the offending columns (empty when the data are not separated).
    """
    used = trials > 0
    X, y = X[used], y[used]
    if X.shape[1] == 0 or X.shape[0] == 0:
        return []
    sign = np.where(y >= 1, 1.0, np.where(y <= 0, -1.0, 0.0))
    pure = sign != 0
    if not np.any(pure):
        return []
    if _mixed_rows_span(X, sign):
        return []
    # Repeated rows give repeated constraints: the LP keeps one of each (with its count in the
    # normalizing sum, so that the program, and its solution, are the same).
    a, counts = _unique_rows(X[pure] * sign[pure, None])
    p = X.shape[1]
    # The sparsest separating direction: minimize ‖b‖₁ (b = b⁺ - b⁻) subject to sᵢxᵢᵀb ≥ 0 on
    # pure rows, xᵢᵀb = 0 on mixed rows and Σ sᵢxᵢᵀb ≥ 1 (b ≠ 0). Infeasible: no separation.
    a2 = np.hstack([a, -a])
    a_ub = np.vstack([-a2, -(counts @ a2)[None, :]])
    b_ub = np.concatenate([np.zeros(a.shape[0]), [-1.0]])
    kwargs = {}
    if np.any(~pure):
        xm = _unique_rows(X[~pure])[0]
        kwargs = {"A_eq": np.hstack([xm, -xm]), "b_eq": np.zeros(xm.shape[0])}
    res = linprog(
        np.ones(2 * p), A_ub=a_ub, b_ub=b_ub, bounds=[(0.0, None)] * (2 * p),
        method="highs", **kwargs,
    )
    if not res.success:
        return []
    b = res.x[:p] - res.x[p:]
    scale = float(np.max(np.abs(b)))
    return [n for n, v in zip(names, b, strict=True) if abs(v) > tol * max(scale, 1.0)]


def _mixed_rows_span(X: FloatArray, sign: FloatArray) -> bool:
    """True when the distinct rows of X that occur with both outcomes span every column.

    Such a row x forces xᵀb = 0 on any separating direction b (xᵀb ≥ 0 for its successes,
    ≤ 0 for its failures); when these rows have full column rank, b = 0 and the data are not
    separated, without the linear program. (Fails, and the program decides, otherwise.)
    """
    p = X.shape[1]
    order, starts = _row_runs(X)
    if starts.size < p:
        return False
    sgn = sign[order]
    both = (
        (np.minimum.reduceat(sgn, starts) < 0) & (np.maximum.reduceat(sgn, starts) > 0)
    ) | (np.minimum.reduceat(np.abs(sgn), starts) == 0)  # a proportion strictly inside (0, 1)
    mixed = X[order[starts[both]]]
    return mixed.shape[0] >= p and int(np.linalg.matrix_rank(mixed)) == p


def _row_runs(a: FloatArray) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The order that sorts the rows of ``a`` and where each run of equal rows starts in it."""
    order = np.lexsort(a.T[::-1])
    srt = a[order]
    new = np.ones(srt.shape[0], dtype=bool)
    new[1:] = np.any(srt[1:] != srt[:-1], axis=1)
    return order, np.flatnonzero(new)


def _unique_rows(a: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    """The distinct rows of ``a`` (sorted) and how often each occurs."""
    order, starts = _row_runs(a)
    counts = np.diff(np.append(starts, a.shape[0]))
    return a[order[starts]], counts.astype(np.intp)
