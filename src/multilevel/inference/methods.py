"""Methods that results gain from :mod:`multilevel.inference` (thin wrappers)."""

from __future__ import annotations


class InferenceMethods:
    """Mixin of inference methods for fitted mixed models."""
