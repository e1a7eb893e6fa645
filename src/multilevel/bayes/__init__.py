"""Bayesian fits of multilevel models with NumPyro (extra ``[bayes]``)."""

from __future__ import annotations

from typing import Any

from multilevel.errors import NotSupportedError


def fit_bayes(formula: str, data: Any, **kwargs: Any) -> Any:
    """Fit a model by NUTS (not available yet)."""
    raise NotSupportedError("method='bayes' is not available yet")
