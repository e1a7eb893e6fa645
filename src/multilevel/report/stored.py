"""``StoredResult``: a result read back from JSON, for tables and plots without refitting."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import NotSupportedError
from multilevel.report import _access as acc


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _floats(mapping: Mapping[str, Any] | None, null: float = math.nan) -> pd.Series:
    items = (mapping or {}).items()
    return pd.Series({k: null if v is None else float(v) for k, v in items}, dtype=float)


def _frames(payload: Mapping[str, Any] | None, index_names: bool = True) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    for group, spec in (payload or {}).items():
        levels = pd.Index(list(spec["levels"]), name=group if index_names else None)
        cols = {c: [_float(v) for v in vals] for c, vals in spec.items() if c != "levels"}
        out[group] = pd.DataFrame(cols, index=levels, dtype=float)
    return out


@dataclass(frozen=True, eq=False)
class StoredResult:
    """A fitted result as stored in the JSON schema (frozen; no data, no refitting).

    Offers what tables, ``tidy``/``glance`` and plots read from live results, from the stored
    numbers exactly (JSON round-trips doubles), so ``table(from_json(r.to_json()))`` is
    ``table(r)``.

    Attributes
    ----------
    payload
        The stored dict (schema 1.x), read-only.
    """

    payload: Mapping[str, Any]

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> StoredResult:
        """A stored result from a dict in the current schema (copied)."""
        return cls(MappingProxyType(copy.deepcopy(dict(payload))))

    def _get(self, key: str) -> Any:
        return self.payload.get(key)

    # -- what the result is ----------------------------------------------------------------
    @property
    def report_kind(self) -> str:
        """The kind of the stored result (``lmm``, ``glmm``, ``ols``, ...)."""
        return str(self.payload["kind"])

    kind = report_kind

    @property
    def result_class(self) -> str:
        """Class name of the result that was stored."""
        return str(self._get("class"))

    @property
    def formula(self) -> str | None:
        """The model formula."""
        return self._get("formula")

    @property
    def method(self) -> str | None:
        """Estimation method (REML, ML, Laplace, OLS (CR1), ...)."""
        return self._get("method")

    @property
    def family(self) -> str | None:
        """Response family name."""
        return self._get("family")

    @property
    def link(self) -> str | None:
        """Link function name."""
        return self._get("link")

    @property
    def reml(self) -> bool | None:
        """True for a REML fit (None where it does not apply)."""
        return self._get("reml")

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return int(self.payload["nobs"])

    @property
    def ngroups(self) -> dict[str, int]:
        """Levels per grouping factor."""
        return {str(k): int(v) for k, v in (self._get("ngroups") or {}).items()}

    @property
    def npar(self) -> float:
        """Number of estimated parameters (NaN if not stored)."""
        return _float(self._get("npar"))

    # -- estimates -------------------------------------------------------------------------
    @property
    def fixef(self) -> pd.Series:
        """Fixed effects (coefficients) by term."""
        return _floats(self.payload["fixef"]).rename("estimate")

    @property
    def coef(self) -> pd.Series:
        """Alias of :attr:`fixef` (the workflow results' name)."""
        return self.fixef

    @property
    def se(self) -> pd.Series:
        """Standard errors by term."""
        return _floats(self._get("se")).reindex(self.fixef.index).rename("se")

    @property
    def df(self) -> pd.Series | None:
        """t-test df by term (``inf`` for a normal reference), or None if not known."""
        df = self._get("df")
        if df is None:
            return None
        return _floats(df, null=math.inf).reindex(self.fixef.index).rename("df")

    @property
    def statistic(self) -> str | None:
        """``"t"``, ``"z"`` or None."""
        return self._get("statistic")

    @property
    def vcov(self) -> pd.DataFrame | None:
        """Covariance matrix of the estimates (None if not stored)."""
        mat = self._get("vcov")
        if mat is None:
            return None
        names = list(self.fixef.index)
        values = np.array([[_float(v) for v in row] for row in mat], dtype=float)
        return pd.DataFrame(values, index=names, columns=names)

    @property
    def theta(self) -> np.ndarray | None:
        """Relative covariance parameters (None where they do not apply)."""
        theta = self._get("theta")
        return None if theta is None else np.array([_float(v) for v in theta], dtype=float)

    @property
    def sigma(self) -> float:
        """Residual standard deviation."""
        return _float(self._get("sigma"))

    @property
    def varcorr(self) -> pd.DataFrame:
        """Variance components as lme4's ``as.data.frame(VarCorr(fit))``."""
        records = self._get("varcorr") or []
        if not records:
            return acc.empty_varcorr()
        columns = {
            key: pd.Series([r.get(key) for r in records], dtype=object)
            for key in ("grp", "var1", "var2")
        } | {
            key: pd.Series([_float(r.get(key)) for r in records], dtype=float)
            for key in ("vcov", "sdcor")
        }
        return pd.DataFrame(columns)

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes: group → DataFrame (levels × terms); levels as strings."""
        return _frames(self._get("ranef"))

    def ranef_table(self) -> pd.DataFrame:
        """Conditional modes and SDs in lme4's ``as.data.frame(ranef(condVar = TRUE))``
        layout (condsd NaN when they were not stored)."""
        sds = _frames(self._get("ranef_sd"))
        rows: list[dict[str, Any]] = []
        for group, frame in self.ranef.items():
            sd = sds.get(group)
            for term in frame.columns:
                values = frame[term].to_numpy(dtype=float)
                sds_term = (sd[term].reindex(frame.index).to_numpy(dtype=float)
                            if sd is not None and term in sd.columns
                            else np.full(len(values), math.nan))
                rows.extend(
                    {"grpvar": group, "term": term, "grp": str(level), "condval": value,
                     "condsd": condsd}
                    for level, value, condsd in zip(frame.index, values, sds_term, strict=True)
                )
        return pd.DataFrame(rows, columns=["grpvar", "term", "grp", "condval", "condsd"])

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Intervals: the stored ones at their level (Bayesian credible intervals), else
        Wald intervals on t(df) or the normal distribution.

        Returns
        -------
        pandas.DataFrame
            Columns ``lower`` and ``upper``, one row per term.
        """
        level = acc.check_level(level)
        stored = self._get("conf_int")
        if stored is not None and math.isclose(float(stored["level"]), level):
            lower = _floats(stored["lower"]).reindex(self.fixef.index)
            upper = _floats(stored["upper"]).reindex(self.fixef.index)
            return pd.DataFrame({"lower": lower, "upper": upper})
        from multilevel.report.tidy import tidy_fixed

        tab = tidy_fixed(self, conf_int=True, conf_level=level)
        return pd.DataFrame({"lower": tab["conf.low"].to_numpy(),
                             "upper": tab["conf.high"].to_numpy()}, index=self.fixef.index)

    # -- fit statistics --------------------------------------------------------------------
    @property
    def objective(self) -> float:
        """The optimized criterion."""
        return _float(self._get("objective"))

    @property
    def loglik(self) -> float:
        """Log-likelihood."""
        return _float(self._get("loglik"))

    @property
    def aic(self) -> float:
        """Akaike's information criterion."""
        return _float(self._get("aic"))

    @property
    def bic(self) -> float:
        """Schwarz's Bayesian information criterion."""
        return _float(self._get("bic"))

    @property
    def deviance(self) -> float:
        """-2 log-likelihood (REML criterion for REML fits)."""
        return _float(self._get("deviance"))

    @property
    def df_residual(self) -> float:
        """Residual degrees of freedom."""
        return _float(self._get("df_residual"))

    @property
    def r2(self) -> float:
        """R² (NaN where it does not apply)."""
        return _float(self._get("r2"))

    @property
    def r2_nakagawa(self) -> dict[str, float] | None:
        """Nakagawa's marginal and conditional R² (mixed models), or None."""
        value = self._get("r2_nakagawa")
        if value is None:
            return None
        return {k: _float(value.get(k)) for k in ("marginal", "conditional")}

    @property
    def converged(self) -> bool | None:
        """Whether the optimizer converged."""
        return self._get("converged")

    @property
    def singular(self) -> bool | None:
        """Whether the fit is singular."""
        return self._get("singular")

    @property
    def warnings(self) -> tuple[str, ...]:
        """Warnings of the fit."""
        return tuple(self._get("warnings") or ())

    @property
    def notes(self) -> tuple[str, ...]:
        """Notes of the estimator."""
        return tuple(self._get("notes") or ())

    def icc(self, by_group: bool = False) -> pd.DataFrame:
        """The stored ICCs (totals over grouping factors).

        Parameters
        ----------
        by_group
            Only the totals were stored; True raises.

        Raises
        ------
        NotSupportedError
            If no ICC was stored, or ``by_group=True``.
        """
        icc = self._get("icc")
        if icc is None or by_group:
            raise NotSupportedError(
                "the stored result has no ICC" if icc is None
                else "only the total ICC is stored; use by_group=False"
            )
        return pd.DataFrame(
            {"adjusted": [_float(icc.get("adjusted"))],
             "conditional": [_float(icc.get("conditional"))]},
            index=pd.Index(["total"], name="group"),
        )

    # -- reporting -------------------------------------------------------------------------
    def tidy(self, effects: Any = ("ran_pars", "fixed"), conf_int: bool = False,
             conf_level: float = 0.95) -> pd.DataFrame:
        """See :func:`multilevel.report.tidy`."""
        from multilevel.report.tidy import tidy

        return tidy(self, effects, conf_int, conf_level)

    def glance(self) -> pd.DataFrame:
        """See :func:`multilevel.report.glance`."""
        from multilevel.report.glance import glance

        return glance(self)

    def augment(self, data: Any = None) -> pd.DataFrame:
        """Not available: a stored result keeps no data or fitted values.

        Raises
        ------
        NotSupportedError
            Always.
        """
        raise NotSupportedError(
            "a stored result keeps no data or fitted values: augment the live result"
        )

    def summary(self) -> str:
        """A one-model :func:`~multilevel.report.table`."""
        from multilevel.report.table import table

        return str(table(self, names=[self.result_class]))

    def to_dict(self) -> dict[str, Any]:
        """The stored dict (a copy)."""
        return copy.deepcopy(dict(self.payload))

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON."""
        return json.dumps(self.to_dict(), **kwargs)

    def __repr__(self) -> str:
        return (
            f"<StoredResult {self.result_class} {self.formula!r} ({self.method}), "
            f"nobs={self.nobs}>"
        )
