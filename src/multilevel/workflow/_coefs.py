"""The common shape of the workflow's estimators: coefficients, SEs, covariance, df, summary.

Every comparison estimator (:func:`~multilevel.workflow.ols.ols`,
:func:`~multilevel.workflow.panel.panel`, ...) returns a subclass of :class:`CoefResult`, so the
pooling comparison can read any of them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.lazy import stats


@dataclass(frozen=True, eq=False)
class CoefResult:
    """Estimates with standard errors and t (or z) tests.

    Attributes
    ----------
    coef
        Estimates, by term (R's names).
    se
        Standard errors, by term.
    vcov
        Covariance matrix of the estimates.
    df
        Degrees of freedom of each coefficient's t test (``inf`` for a z test).
    method
        Short name of the estimator (shown in summaries and comparison tables).
    nobs
        Number of observations used.
    notes
        Things the reader should know (columns dropped, approximations made).
    """

    coef: pd.Series
    se: pd.Series
    vcov: pd.DataFrame
    df: pd.Series
    method: str
    nobs: int
    notes: tuple[str, ...] = field(default=(), kw_only=True)

    @property
    def tvalues(self) -> pd.Series:
        """Estimate / SE."""
        return pd.Series(self.coef / self.se, name="t")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values from t(df) (normal where df is infinite)."""
        t = np.abs(self.tvalues.to_numpy())
        p = 2.0 * stats.t.sf(t, self.df.to_numpy())
        return pd.Series(p, index=self.coef.index, name="p")

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Wald intervals with t(df) quantiles.

        Parameters
        ----------
        level
            Confidence level.

        Returns
        -------
        pandas.DataFrame
            Columns ``lower`` and ``upper``, one row per term.
        """
        if not 0.0 < level < 1.0:
            from multilevel.errors import ModelError

            raise ModelError(f"level must be between 0 and 1, not {level!r}")
        q = stats.t.ppf(0.5 + level / 2.0, self.df.to_numpy())
        half = q * self.se.to_numpy()
        return pd.DataFrame(
            {"lower": self.coef.to_numpy() - half, "upper": self.coef.to_numpy() + half},
            index=self.coef.index,
        )

    def table(self) -> pd.DataFrame:
        """Estimate, SE, t, df and p-value of every term."""
        return pd.DataFrame(
            {
                "estimate": self.coef,
                "se": self.se,
                "t": self.tvalues,
                "df": self.df,
                "p": self.pvalues,
            }
        )

    def _header(self) -> list[str]:
        return [self.method, f"Number of obs: {self.nobs}"]

    def summary(self) -> str:
        """A printable summary: header, coefficient table and notes."""
        tab = self.table()
        fmt = {
            "estimate": lambda v: f"{v:.6g}",
            "se": lambda v: f"{v:.6g}",
            "t": lambda v: f"{v:.3f}",
            "df": lambda v: "Inf" if not np.isfinite(v) else f"{v:.4g}",
            "p": lambda v: f"{v:.3g}",
        }
        lines = [*self._header(), "", tab.to_string(formatters=fmt)]
        if self.notes:
            lines.append("")
            lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        terms = ", ".join(f"{k}={v:.4g}" for k, v in self.coef.items())
        return f"<{type(self).__name__} {self.method}: {terms}>"


def named(values: np.ndarray, names: tuple[str, ...] | list[str], label: str) -> pd.Series:
    """A float Series indexed by term names."""
    return pd.Series(np.asarray(values, dtype=float), index=list(names), name=label)


def named_matrix(values: np.ndarray, names: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """A square DataFrame indexed by term names on both sides."""
    return pd.DataFrame(np.asarray(values, dtype=float), index=list(names), columns=list(names))
