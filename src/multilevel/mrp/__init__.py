"""Multilevel regression and poststratification (MRP): :func:`poststratify`."""

from __future__ import annotations

from multilevel.mrp.poststratify import poststratify

__all__ = ["poststratify"]
