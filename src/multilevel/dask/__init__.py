"""Fits on Dask DataFrames (extra ``[dask]``)."""

from __future__ import annotations

from typing import Any

from multilevel.errors import NotSupportedError


def fit_dask(formula: str, data: Any, **kwargs: Any) -> Any:
    """Fit a model on a Dask DataFrame (not available yet)."""
    raise NotSupportedError("fitting on Dask DataFrames is not available yet")
