"""The penalized least-squares (PLS) system: the θ-independent blocks of [Z X y]ᵀ[Z X y].

Random-effects terms come in the engine's order (most levels first). The blocks are stored as
MixedModels.jl does: the first term's diagonal block as a stack of q × q blocks (one per level),
blocks below it as sparse matrices, later diagonal and off-diagonal blocks dense, and the
fixed-effects/response rows [X y]ᵀ Z_k and [X y]ᵀ[X y] dense. Prior weights are folded in as
square roots on the rows before the products are formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from multilevel.linalg.blocksparse import BlockSparse
from multilevel.linalg.sparse import term_matrix
from multilevel.lmm.theta import ThetaLayout

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class TermBlock:
    """One random-effects term as the engine sees it.

    Attributes
    ----------
    index
        Level of every observation, integers in ``range(nlevels)``.
    z
        The term's model-matrix columns, shape (n, q).
    nlevels
        Number of levels of the grouping factor.
    """

    index: IntArray
    z: FloatArray
    nlevels: int

    @property
    def q(self) -> int:
        """Number of random effects per level."""
        return int(self.z.shape[1])

    @property
    def size(self) -> int:
        """Number of random effects of the term (columns of its Z)."""
        return self.q * self.nlevels

    def matrix(self) -> sp.csc_matrix:
        """The sparse model matrix Z of the term."""
        return term_matrix(self.index, self.z, self.nlevels)


@dataclass(frozen=True)
class PLSSystem:
    """The constant part of the PLS system for one model and data set.

    Attributes
    ----------
    terms
        The random-effects terms, engine order, weights already applied to ``z``.
    layout
        Where each term's elements sit in θ.
    a11
        Z₁ᵀZ₁ as an (n₁, q₁, q₁) stack of blocks.
    zz_sparse
        Z_jᵀZ₁ for j ≥ 2: block-sparse (:class:`~multilevel.linalg.blocksparse.BlockSparse`,
        as :class:`~multilevel.lmm.structure.SystemStructure` makes them) or SciPy sparse
        matrices; :attr:`zz_blocks` and :attr:`zz_csr` give either form.
    zz_dense
        Z_jᵀZ_i for 2 ≤ i ≤ j, dense, keyed ``(j, i)`` with 0-based term positions.
    xyz
        [X y]ᵀ Z_k, dense, one per term.
    xyxy
        [X y]ᵀ[X y], dense.
    nobs
        Number of observations.
    log_weights
        Σ log wᵢ of the prior weights (0 without weights).
    """

    terms: tuple[TermBlock, ...]
    layout: ThetaLayout
    a11: FloatArray
    zz_sparse: tuple[Any, ...]
    zz_dense: dict[tuple[int, int], FloatArray]
    xyz: tuple[FloatArray, ...]
    xyxy: FloatArray
    nobs: int
    log_weights: float

    @cached_property
    def zz_blocks(self) -> tuple[BlockSparse, ...]:
        """Z_jᵀZ₁ for j ≥ 2 as block-sparse matrices (converted once if given as SciPy)."""
        q1 = self.terms[0].q
        return tuple(
            m if isinstance(m, BlockSparse) else BlockSparse.from_csr(m, self.terms[j + 1].q, q1)
            for j, m in enumerate(self.zz_sparse)
        )

    @cached_property
    def zz_csr(self) -> tuple[sp.csr_matrix, ...]:
        """Z_jᵀZ₁ for j ≥ 2 as SciPy CSR matrices."""
        return tuple(
            m.csr if isinstance(m, BlockSparse) else sp.csr_matrix(m) for m in self.zz_sparse
        )

    @property
    def nfixed(self) -> int:
        """Number of fixed-effects columns p."""
        return int(self.xyxy.shape[0]) - 1


def build_system(
    X: FloatArray,
    y: FloatArray,
    terms: tuple[TermBlock, ...] | list[TermBlock],
    weights: FloatArray | None = None,
) -> PLSSystem:
    """Form the constant blocks of the PLS system.

    Parameters
    ----------
    X
        Fixed-effects model matrix (n, p).
    y
        Response, offset already subtracted, shape (n,).
    terms
        Random-effects terms in engine order (most levels first).
    weights
        Prior (precision) weights, or None.

    Returns
    -------
    PLSSystem
    """
    if not terms:
        raise ValueError("a PLS system needs at least one random-effects term")
    from multilevel.lmm.structure import SystemStructure

    return SystemStructure.build(X, tuple(terms)).assemble(np.asarray(y, dtype=float), weights)
