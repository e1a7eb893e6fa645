"""Methods that results gain from :mod:`multilevel.workflow` (thin wrappers)."""

from __future__ import annotations

from typing import Any

import pandas as pd


class WorkflowMethods:
    """Mixin of workflow methods for fitted mixed models."""

    def icc(
        self,
        by_group: bool = True,
        ci: float | None = None,
        method: str = "profile",
        nsim: int = 200,
        seed: Any = None,
        progress: bool = False,
    ) -> pd.DataFrame:
        """Adjusted and conditional ICCs per grouping factor (R's ``performance::icc``).

        See :func:`multilevel.workflow.icc.model_icc` for the definitions and the intervals
        (``ci=0.95`` with ``method="profile"`` or ``"bootstrap"``).
        """
        from multilevel.workflow.icc import model_icc

        return model_icc(self, by_group, ci, method, nsim, seed, progress)

    def variance_decomposition(self, include_fixed: bool = False) -> pd.DataFrame:
        """Variance, SD and share of the total at each level (grouping factors, residual).

        See :func:`multilevel.workflow.decomposition.variance_decomposition`.
        """
        from multilevel.workflow.decomposition import variance_decomposition

        return variance_decomposition(self, include_fixed)
