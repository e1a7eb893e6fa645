"""A fast path for model matrices whose terms are numeric columns and their products.

Most random-effects terms (``1 + Days``) and many fixed parts (``x * z``) use nothing but numeric
columns; their columns are plain products, so formulaic's machinery is not needed. The result is
the same matrix, with R's names, and a spec that encodes new data the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.formula import ModelTerms

FloatArray = NDArray[np.float64]


def is_plain_numeric(terms: ModelTerms, frame: pd.DataFrame) -> bool:
    """True when every factor of every term is a numeric (not logical) column of the frame."""
    for term in terms.terms:
        for factor in term.factors:
            if factor.text not in frame.columns or factor.variables != (factor.text,):
                return False
            col = frame[factor.text]
            if isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(col):
                return False
            if not pd.api.types.is_numeric_dtype(col):
                return False
    return True


@dataclass(frozen=True)
class NumericSpec:
    """Encodes data for numeric-product terms (formulaic's ``get_model_matrix`` protocol)."""

    terms: ModelTerms

    @property
    def column_names(self) -> tuple[str, ...]:
        """R's names of the columns."""
        names = ["(Intercept)"] if self.terms.intercept else []
        return (*names, *(t.text for t in self.terms.terms))

    def get_model_matrix(self, data: pd.DataFrame, **_: Any) -> FloatArray:
        """The model matrix of ``data``."""
        n = len(data)
        cols = [np.ones(n)] if self.terms.intercept else []
        for term in self.terms.terms:
            col = np.ones(n)
            for factor in term.factors:
                col = col * data[factor.text].to_numpy(dtype=float)
            cols.append(col)
        return np.column_stack(cols) if cols else np.zeros((n, 0))
