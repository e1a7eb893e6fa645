"""The result of a fit on Dask: an :class:`~multilevel.result.LMMResult` that holds no rows.

An out-of-core fit must not hold the observations on the client. Its design
(:class:`DaskDesign`) keeps the formula, R's names, the specs, every grouping factor's levels
and the counts, with empty observation-level arrays (y, X, Z, codes have zero rows) and, as its
model frame, the small template frame (every level of every factor, with the model frame's
column types) that the specs were built on; ``nobs`` is the count from the data. Everything
computed from the PLS system and the estimates (fixed effects, covariances, ``varcorr``,
``ranef``, the objective, information criteria, Satterthwaite tests, Wald intervals) is the
in-memory code. What needs the rows is computed per partition: ``fitted``, ``residuals`` and
``predict`` return Dask series, and ``summary`` computes its residual quartiles in two passes.
Methods that need the rows in memory (bootstrap, simulation, profiles, R², robust covariances,
type III tests, marginal means, ICCs) raise :class:`~multilevel.errors.NotSupportedError`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from multilevel.design import Design
from multilevel.errors import ModelError, NotSupportedError
from multilevel.result import LMMResult


@dataclass(frozen=True)
class DaskDesign(Design):
    """A design whose observations stay in a Dask DataFrame.

    Attributes
    ----------
    n
        Number of observations used (complete rows).
    columns
        The used columns (the model frame's columns).
    """

    n: int = 0
    columns: tuple[str, ...] = ()

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return self.n


def _unsupported(feature: str) -> NotSupportedError:
    return NotSupportedError(
        f"{feature} needs the observations in memory and is not available for a fit on a Dask "
        "DataFrame; fit a sample with ml.fit(formula, ddf.sample(...).compute()) for it"
    )


class _SummaryView:
    """The result as ``format_summary`` reads it: residuals given by their five quantiles (its
    quantiles of those five values are the values themselves)."""

    def __init__(self, result: DaskLMMResult, quartiles: np.ndarray) -> None:
        self._result = result
        self.residuals = pd.Series(quartiles)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._result, name)


@dataclass(frozen=True, eq=False)
class DaskLMMResult(LMMResult):
    """A linear mixed model fitted on a Dask DataFrame (``data`` is that DataFrame).

    The same object as an in-memory fit (a subclass of :class:`~multilevel.result.LMMResult`
    with the same estimates); observation-level outputs are Dask series.
    """

    @cached_property
    def _linear_predictor(self) -> Any:
        return self.fitted

    @property
    def fitted(self) -> Any:
        """Fitted values per partition, a Dask series (complete rows, their index)."""
        from multilevel.dask.predict import fitted_dask

        return fitted_dask(self, "fitted")

    @property
    def residuals(self) -> Any:
        """Response residuals y - fitted per partition, a Dask series."""
        from multilevel.dask.predict import fitted_dask

        return fitted_dask(self, "residuals")

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """Predictions: a Dask series for the fitted data or a Dask ``newdata``, else pandas.

        Arguments as :func:`multilevel.inference.predict.predict` (``newdata``, ``re_form``,
        ``allow_new_levels``, ``type``, ``interval``...); simulated intervals are available for
        pandas ``newdata`` only.
        """
        from multilevel.dask.predict import is_dask, predict_dask
        from multilevel.inference.predict import predict

        # the arguments as the in-memory predict takes them (its signature, its defaults)
        bound = inspect.signature(predict).bind(self, *args, **kwargs)
        bound.apply_defaults()
        opts = bound.arguments
        newdata = opts["newdata"]
        if newdata is not None and not is_dask(newdata):
            return super().predict(*args, **kwargs)
        if opts["interval"] is not None:
            raise NotSupportedError(
                "prediction intervals on a Dask DataFrame are not available; predict a pandas "
                "DataFrame (e.g. ddf.head(1000)) for intervals"
            )
        if opts["type"] not in ("response", "link"):
            raise ModelError(f"type must be 'response' or 'link', not {opts['type']!r}")
        return predict_dask(
            self,
            self.data if newdata is None else newdata,
            re_form=opts["re_form"],
            allow_new_levels=bool(opts["allow_new_levels"]),
            fitted_rows=newdata is None,
        )

    def residual_quartiles(self) -> np.ndarray:
        """Min, quartiles and max of the scaled (Pearson) residuals, exact, in two passes
        (:func:`multilevel.dask.quantiles.exact_quantiles`)."""
        from multilevel.dask.predict import fitted_dask
        from multilevel.dask.quantiles import exact_quantiles

        r = fitted_dask(self, "scaled")
        return exact_quantiles(r, [0.0, 0.25, 0.5, 0.75, 1.0]) / self.sigma

    def summary(self) -> str:
        """The lme4-style summary; its residual quantiles take two passes over the data."""
        from multilevel.summary import format_summary

        return format_summary(_SummaryView(self, self.residual_quartiles() * self.sigma))  # type: ignore[arg-type]

    # -- methods that need the rows in memory ----------------------------------------------
    def simulate(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Dask (needs the rows)."""
        raise _unsupported("simulate")

    def bootstrap(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Dask (needs the rows)."""
        raise _unsupported("the parametric bootstrap")

    def profile(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Dask (needs the rows)."""
        raise _unsupported("the likelihood profile")

    def r2(self) -> Any:
        """Not available on Dask (needs the rows)."""
        raise _unsupported("R²")

    def vcov_robust(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Dask (needs the rows)."""
        raise _unsupported("the cluster-robust covariance")

    def anova(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Dask (type III contrasts are formed on the model matrix)."""
        raise _unsupported("anova (type III tests)")

    def emmeans(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Dask (the reference grid averages covariates over the rows)."""
        raise _unsupported("emmeans")

    def icc(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Dask (the variance of Xβ and of the slopes are row averages)."""
        raise _unsupported("icc")

    def variance_decomposition(self, *args: Any, **kwargs: Any) -> Any:
        """Not available on Dask (the variance of Xβ and of the slopes are row averages)."""
        raise _unsupported("variance_decomposition")

    def confint(self, method: str = "profile", *args: Any, **kwargs: Any) -> Any:
        """Wald intervals only (profile and bootstrap intervals need the rows)."""
        if method != "wald":
            raise _unsupported(f"confint(method={method!r}) (use method='wald')")
        return super().confint(method, *args, **kwargs)

