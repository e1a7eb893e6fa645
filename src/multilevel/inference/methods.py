"""Methods that results gain from :mod:`multilevel.inference` (thin wrappers).

Each wrapper imports its module when called (the result classes import this mixin, so the
inference modules cannot be imported here at module level) and dispatches on the result type
inside the function it calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from multilevel.inference.bootstrap import BootstrapResult
    from multilevel.inference.emmeans import EMMeans
    from multilevel.inference.plots import PlotAccessor
    from multilevel.inference.profile import Profile
    from multilevel.inference.r2 import R2


class InferenceMethods:
    """Mixin of inference methods for fitted mixed models."""

    def coef_table(
        self, ddf: Any = "default", vcov: Any = None, level: float = 0.95
    ) -> pd.DataFrame:
        """Fixed effects with t tests (Satterthwaite by default) or z tests.

        See :func:`multilevel.inference.coeftable.coef_table`.
        """
        from multilevel.inference.coeftable import coef_table

        return coef_table(self, ddf=ddf, vcov=vcov, level=level)

    def anova(self, ddf: Any = "default") -> pd.DataFrame:
        """Type III tests of the fixed-effect terms: F tests with Satterthwaite df for linear
        mixed models (lmerTest's ``anova``), Wald chi-square tests for GLMMs (car's
        ``Anova(type = 3)``).

        See :func:`multilevel.inference.type3.anova_type3`; to compare models use
        ``ml.anova(m0, m1)``.
        """
        from multilevel.inference.type3 import anova_type3

        return anova_type3(self, ddf=ddf)

    def vcov_robust(self, cluster: Any = None, type: str = "CR1") -> pd.DataFrame:
        """Cluster-robust covariance of the fixed effects ("CR1", "CR0" or "CR2").

        See :func:`multilevel.inference.robust.vcov_robust`.
        """
        from multilevel.inference.robust import vcov_robust

        return vcov_robust(self, cluster=cluster, type=type)

    def emmeans(
        self,
        specs: str | Sequence[str],
        by: str | Sequence[str] | None = None,
        at: Mapping[str, Any] | None = None,
        ddf: Any = "auto",
        level: float = 0.95,
        type: str = "link",
    ) -> EMMeans:
        """Estimated marginal means; ``.pairs()`` gives adjusted pairwise comparisons.

        ``type="response"`` puts a GLMM's means on the response scale (inverse link, delta-
        method SEs). See :func:`multilevel.inference.emmeans.emmeans`.
        """
        from multilevel.inference.emmeans import emmeans

        return emmeans(self, specs, by=by, at=at, ddf=ddf, level=level, type=type)

    def confint(
        self,
        method: str = "profile",
        level: float = 0.95,
        parm: Sequence[str] | str | None = None,
        nsim: int = 500,
        seed: Any = None,
        n_jobs: int = 1,
        boot_type: str = "perc",
        exact: bool = False,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Confidence intervals: "profile" (default), "wald" or "boot".

        See :func:`multilevel.inference.confint.confint`.
        """
        from multilevel.inference.confint import confint

        return confint(self, method=method, level=level, parm=parm, nsim=nsim, seed=seed,
                       n_jobs=n_jobs, boot_type=boot_type, exact=exact, progress=progress)

    def profile(
        self,
        parm: Sequence[str] | str | None = None,
        alphamax: float = 0.01,
        maxpts: int = 100,
        delta: float | None = None,
    ) -> Profile:
        """Likelihood profile traces (ζ) of the parameters; ``.plot()`` draws them.

        See :func:`multilevel.inference.profile.profile`.
        """
        from multilevel.inference.profile import profile

        return profile(self, parm=parm, alphamax=alphamax, maxpts=maxpts, delta=delta)

    def simulate(self, nsim: int = 1, seed: Any = None, re_form: Any = "~0") -> pd.DataFrame:
        """Responses simulated from the fitted model.

        See :func:`multilevel.inference.simulate.simulate`.
        """
        from multilevel.inference.simulate import simulate

        return simulate(self, nsim=nsim, seed=seed, re_form=re_form)

    def predict(self, *args: Any, **kwargs: Any) -> pd.Series | pd.DataFrame:
        """Predictions, optionally with simulated prediction or confidence intervals.

        Arguments (see :func:`multilevel.inference.predict.predict`): ``newdata=None``,
        ``re_form=None`` ("~0" for population level), ``allow_new_levels=False``,
        ``type="response"``, ``interval=None`` ("prediction" or "confidence"),
        ``level=0.95``, ``nsim=1000``, ``seed=None``. (The signature is left open so that
        result classes with their own ``predict`` can override it.)
        """
        from multilevel.inference.predict import predict

        return predict(self, *args, **kwargs)

    def ranef_table(self) -> pd.DataFrame:
        """Conditional modes and conditional SDs of the random effects, one row per level.

        See :func:`multilevel.inference.ranef_var.ranef_table`.
        """
        from multilevel.inference.ranef_var import ranef_table

        return ranef_table(self)

    def r2(self) -> R2:
        """Nakagawa's marginal and conditional R² (fields ``marginal``, ``conditional``).

        See :func:`multilevel.inference.r2.r2`.
        """
        from multilevel.inference.r2 import r2

        return r2(self)

    def bootstrap(
        self,
        nsim: int = 1000,
        statistic: Callable[[Any], Any] | None = None,
        seed: Any = None,
        n_jobs: int = 1,
        progress: bool = True,
    ) -> BootstrapResult:
        """Parametric bootstrap of a statistic (as ``ml.bootstrap(result, ...)``)."""
        from multilevel.inference.bootstrap import bootstrap

        return bootstrap(self, nsim=nsim, statistic=statistic, seed=seed, n_jobs=n_jobs,
                         progress=progress)

    @property
    def plot(self) -> PlotAccessor:
        """Diagnostic plots: ``.caterpillar()``, ``.qq()``, ``.residuals()``."""
        from multilevel.inference.plots import PlotAccessor

        return PlotAccessor(self)
