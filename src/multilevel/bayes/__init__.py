"""Bayesian fits of multilevel models by NUTS with NumPyro (extra ``[bayes]``).

``ml.fit(formula, data, method="bayes", ...)`` calls :func:`fit_bayes`. The modules:
:mod:`~multilevel.bayes.priors` (defaults and overrides), :mod:`~multilevel.bayes.model` (the
NumPyro model), :mod:`~multilevel.bayes.sample` (NUTS, float64, chain methods),
:mod:`~multilevel.bayes.diagnostics` (R-hat, ESS), :mod:`~multilevel.bayes.result`
(:class:`~multilevel.bayes.result.BayesResult`). NumPyro and JAX are imported only when a model
is fitted.
"""

from __future__ import annotations

from multilevel.bayes.fit import fit_bayes

__all__ = ["fit_bayes"]
