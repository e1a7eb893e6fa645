"""Inference on fitted models: tests with proper df, intervals, predictions, R².

The functions here take a fitted result; :class:`~multilevel.inference.methods.InferenceMethods`
exposes them as methods of the result objects. Modules, one concept each:
:mod:`~.deviance` (deviance of (θ, σ), finite differences), :mod:`~.satterthwaite`,
:mod:`~.kenward_roger`, :mod:`~.coeftable`, :mod:`~.type3` (type III F tests), :mod:`~.lrt`
(``anova`` of nested models), :mod:`~.robust` (cluster-robust covariance), :mod:`~.emmeans`,
:mod:`~.profiler`, :mod:`~.profile` and :mod:`~.profile_exact` (likelihood profiles),
:mod:`~.confint`, :mod:`~.refit`, :mod:`~.simulate`, :mod:`~.bootstrap`, :mod:`~.newdata` and
:mod:`~.predict`, :mod:`~.ranef_var` (conditional variances), :mod:`~.r2`, :mod:`~.plots`.

GLMMs (``ml.fit(..., family=...)``) share these entry points; what differs lives in small
modules: :mod:`~.glmm_profiler` (the Laplace deviance profiled over θ and β),
:mod:`~.glmm_refit` (refits reusing the fitted problem), :mod:`~.glmm_simulate` (draws from the
family), :mod:`~.glmm_predict` (simulated intervals) and :mod:`~.latent` (latent-scale variance
components for R²). GLMM fixed effects get Wald z tests.
"""

from multilevel.inference.bootstrap import BootstrapResult, bootstrap
from multilevel.inference.lrt import anova

__all__: list[str] = ["BootstrapResult", "anova", "bootstrap"]
