"""The covariance parameter θ: its layout over random-effects terms, bounds, start and Λθ.

θ holds, term by term (in the engine's term order), the lower triangle of each term's relative
covariance factor Λ (q × q, lower triangular), column by column, as lme4 does. The diagonal
elements are bounded below by zero; the others are free.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ThetaLayout:
    """Where each term's factor elements sit in θ.

    Attributes
    ----------
    sizes
        q (number of columns) of each random-effects term, in engine order.
    """

    sizes: tuple[int, ...]

    @property
    def offsets(self) -> tuple[int, ...]:
        """Start of each term's segment in θ."""
        out, pos = [], 0
        for q in self.sizes:
            out.append(pos)
            pos += q * (q + 1) // 2
        return tuple(out)

    @property
    def length(self) -> int:
        """Total length of θ."""
        return sum(q * (q + 1) // 2 for q in self.sizes)

    def lower_bounds(self) -> FloatArray:
        """lme4's bounds: 0 for diagonal elements of Λ, -inf elsewhere."""
        out = []
        for q in self.sizes:
            rows, cols = tril_indices_colmajor(q)
            out.append(np.where(rows == cols, 0.0, -np.inf))
        return np.concatenate(out) if out else np.zeros(0)

    def start(self) -> FloatArray:
        """lme4's starting value: Λ = I for every term."""
        out = []
        for q in self.sizes:
            rows, cols = tril_indices_colmajor(q)
            out.append((rows == cols).astype(float))
        return np.concatenate(out) if out else np.zeros(0)

    def diagonal_mask(self) -> NDArray[np.bool_]:
        """True where θ holds a diagonal element of some Λ."""
        return np.isfinite(self.lower_bounds())

    def factors(self, theta: FloatArray) -> list[FloatArray]:
        """Λ of every term as a q × q lower-triangular array."""
        mats = []
        for q, off in zip(self.sizes, self.offsets, strict=True):
            lam = np.zeros((q, q))
            rows, cols = tril_indices_colmajor(q)
            lam[rows, cols] = theta[off : off + q * (q + 1) // 2]
            mats.append(lam)
        return mats


@lru_cache(maxsize=64)
def tril_indices_colmajor(q: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row and column indices of a q × q lower triangle, column by column (lme4's order)."""
    cols, rows = np.triu_indices(q)
    return rows, cols


def covariance(lam: FloatArray, sigma: float) -> FloatArray:
    """Covariance matrix σ² Λ Λᵀ of one term's random effects."""
    return float(sigma) ** 2 * (lam @ lam.T)
