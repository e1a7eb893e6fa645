"""Block storage and kernels for the blocked Cholesky factor of the PLS system."""

from multilevel.linalg.blockdiag import (
    batched_cholesky,
    blockdiag_sparse,
    right_multiply_blocks,
)
from multilevel.linalg.sparse import left_multiply_blocks, term_matrix

__all__ = [
    "batched_cholesky",
    "blockdiag_sparse",
    "left_multiply_blocks",
    "right_multiply_blocks",
    "term_matrix",
]
