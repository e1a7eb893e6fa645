"""``ReportMethods``: the reporting functions as methods of result classes (a mixin)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd


class ReportMethods:
    """Mixin giving a result ``tidy``, ``glance``, ``augment``, ``to_dict`` and ``to_json``.

    Each method is a thin wrapper of the function of the same name in
    :mod:`multilevel.report`, so a class only needs the attributes those functions read.
    """

    def tidy(
        self,
        effects: str | Iterable[str] = ("ran_pars", "fixed"),
        conf_int: bool = False,
        conf_level: float = 0.95,
        ddf: Any = None,
    ) -> pd.DataFrame:
        """Estimates as a long DataFrame with broom.mixed's columns.

        See :func:`multilevel.report.tidy`.
        """
        from multilevel.report.tidy import tidy

        return tidy(self, effects, conf_int, conf_level, ddf)

    def glance(self) -> pd.DataFrame:
        """Model-level statistics in one row (broom.mixed's ``glance``).

        See :func:`multilevel.report.glance`.
        """
        from multilevel.report.glance import glance

        return glance(self)

    def augment(self, data: Any = None) -> pd.DataFrame:
        """The data with fitted values, residuals and conditional modes per row.

        See :func:`multilevel.report.augment`.
        """
        from multilevel.report.augment import augment

        return augment(self, data)

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON values in the versioned schema.

        See :func:`multilevel.report.serialize.result_to_dict` and ``docs/reporting.md``.
        """
        from multilevel.report.serialize import result_to_dict

        return result_to_dict(self)

    def to_json(self, **kwargs: Any) -> str:
        """``to_dict()`` as a JSON string (keyword arguments go to ``json.dumps``)."""
        return json.dumps(self.to_dict(), **kwargs)
