"""Bayesian fits of multilevel models by NUTS with NumPyro (extra ``[bayes]``).

``ml.fit(formula, data, method="bayes", ...)`` calls :func:`fit_bayes`. The modules:
:mod:`~multilevel.bayes.priors` (prior constructors and the documented defaults),
:mod:`~multilevel.bayes.resolve` (defaults, overrides, autoscaling),
:mod:`~multilevel.bayes.model` (the design on the sampler's scale, and back),
:mod:`~multilevel.bayes.likelihood` and :mod:`~multilevel.bayes.density` (the log density),
:mod:`~multilevel.bayes.sample` (NUTS, float64, chain methods),
:mod:`~multilevel.bayes.diagnostics` (R-hat, ESS), :mod:`~multilevel.bayes.posterior` and
:mod:`~multilevel.bayes.predictive` (draws by name, predictions),
:mod:`~multilevel.bayes.result` (:class:`~multilevel.bayes.result.BayesResult`). NumPyro and
JAX are imported only when a model is fitted.
"""

from __future__ import annotations

from multilevel.bayes.fit import fit_bayes

__all__ = ["fit_bayes"]
