"""Methods that results gain from :mod:`multilevel.workflow` (thin wrappers)."""

from __future__ import annotations


class WorkflowMethods:
    """Mixin of workflow methods for fitted mixed models."""
