"""The result of a Bayesian fit: the likelihood results' accessors on posterior draws.

Point estimates are posterior means (``fixef``, ``ranef``, ``varcorr``, ``sigma``), standard
errors posterior SDs and intervals equal-tailed credible intervals. The reporting layer reads it
by duck typing (``report_kind = "bayes"``, ``conf_int(level)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.bayes import posterior as post
from multilevel.bayes.model import Draws
from multilevel.bayes.predictive import inverse_link, simulate
from multilevel.bayes.resolve import ResolvedPriors, dispersion_name
from multilevel.bayes.sample import SamplerStats
from multilevel.design import Design
from multilevel.errors import ModelError
from multilevel.glmm.family import Family
from multilevel.report.methods import ReportMethods
from multilevel.result import DesignSummary, ranef_frames

FloatArray = NDArray[np.float64]

#: Draws × rows held at once when averaging predictions.
_CELLS = 5_000_000


@dataclass(frozen=True)
class BayesOptions:
    """The arguments of the call that produced a Bayesian result."""

    formula: str
    family: Family | None
    priors: Any = None
    draws: int = 1000
    warmup: int = 1000
    chains: int = 4
    seed: int = 0
    chain_method: str = "sequential"
    target_accept: float = 0.95
    max_tree_depth: int = 10
    weights: Any = None
    offset: Any = None
    contrasts: Any = None
    na_action: str = "omit"


@dataclass(frozen=True)
class Response:
    """The fitted response: y (proportions for binomial), binomial trials, prior weights."""

    y: FloatArray
    trials: FloatArray | None
    weights: FloatArray | None


@dataclass(frozen=True, eq=False)
class BayesResult(DesignSummary, ReportMethods):
    """A multilevel model fitted by NUTS (frozen).

    Attributes
    ----------
    design
        The model's design (the same as the likelihood fit's).
    options
        The call's options (with the seed used).
    data
        The caller's data (not copied, not modified).
    response
        The fitted response.
    priors
        The priors used (``prior_summary()`` shows them in the data's units).
    posterior
        The draws in the data's units.
    sampler
        Divergences, tree sizes, acceptance, step sizes, time.
    diagnostics
        R-hat and bulk ESS of every parameter (index: parameter names).
    warnings
        Messages of every warning the fit emitted.
    """

    design: Design
    options: BayesOptions
    data: Any = field(repr=False)
    response: Response
    priors: ResolvedPriors
    posterior: Draws
    sampler: SamplerStats
    diagnostics: pd.DataFrame
    warnings: tuple[str, ...] = ()

    report_kind = "bayes"
    method = "NUTS"

    # -- the fit ---------------------------------------------------------------------------
    @property
    def family(self) -> Family | str:
        """The family (a :class:`~multilevel.glmm.family.Family`, or "gaussian")."""
        return "gaussian" if self.options.family is None else self.options.family

    @property
    def link(self) -> str:
        """The link's name."""
        return "identity" if self.options.family is None else self.options.family.link.name

    @property
    def _family_name(self) -> str:
        return "gaussian" if self.options.family is None else self.options.family.name

    @property
    def ndraws(self) -> int:
        """Number of posterior draws (chains × draws per chain)."""
        chains, draws = self.posterior.shape
        return chains * draws

    @property
    def divergences(self) -> int:
        """Number of divergent transitions after warmup (0 for a trustworthy fit)."""
        return self.sampler.divergences

    # -- posterior summaries ---------------------------------------------------------------
    @cached_property
    def _parameters(self) -> dict[str, FloatArray]:
        return post.parameter_draws(
            self.design, self.posterior, dispersion_name(self._family_name)
        )

    @cached_property
    def draws(self) -> pd.DataFrame:
        """Every draw: columns chain, draw, the parameters, then the random effects."""
        chains, n = self.posterior.shape
        cols: dict[str, Any] = {
            "chain": np.repeat(np.arange(chains), n),
            "draw": np.tile(np.arange(n), chains),
        }
        cols.update({k: v.ravel() for k, v in self._parameters.items()})
        cols.update(
            {k: v.ravel() for k, v in post.ranef_draws(self.design, self.posterior).items()}
        )
        return pd.DataFrame(cols)

    def posterior_summary(self, level: float = 0.95, ranef: bool = False) -> pd.DataFrame:
        """Posterior mean, SD, equal-tailed interval, R-hat and bulk ESS of each parameter.

        Parameters
        ----------
        level
            Probability of the interval (lower and upper are its quantiles).
        ranef
            Add the random effects ``r_<group>[<level>,<effect>]``.

        Returns
        -------
        DataFrame
            Index: parameter names; columns mean, sd, lower, upper, r_hat, ess_bulk.
        """
        params = dict(self._parameters)
        if ranef:
            params.update(post.ranef_draws(self.design, self.posterior))
        return post.summary_table(params, self.diagnostics, level)

    def prior_summary(self) -> pd.DataFrame:
        """The prior of every parameter in the data's units (class, group, coef, prior, source;
        source is "default" or "user"). SD, σ and dispersion priors are truncated at zero."""
        return self.priors.table.copy()

    @property
    def fixef(self) -> pd.Series:
        """Posterior means of the fixed effects."""
        values = post.flat(self.posterior.beta).mean(axis=0)
        return pd.Series(values, index=list(self.design.xnames), name="estimate")

    @property
    def se(self) -> pd.Series:
        """Posterior SDs of the fixed effects."""
        values = post.flat(self.posterior.beta).std(axis=0, ddof=1)
        return pd.Series(values, index=list(self.design.xnames), name="se")

    @property
    def vcov(self) -> pd.DataFrame:
        """Posterior covariance of the fixed effects."""
        names = list(self.design.xnames)
        mat = np.atleast_2d(np.cov(post.flat(self.posterior.beta), rowvar=False))
        return pd.DataFrame(mat, index=names, columns=names)

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Equal-tailed credible intervals of the fixed effects (columns lower, upper)."""
        if not 0.0 < level < 1.0:
            raise ModelError(f"level must be between 0 and 1, not {level!r}")
        alpha = (1.0 - level) / 2.0
        q = np.quantile(post.flat(self.posterior.beta), [alpha, 1.0 - alpha], axis=0)
        return pd.DataFrame({"lower": q[0], "upper": q[1]}, index=list(self.design.xnames))

    @property
    def sigma(self) -> float:
        """Posterior mean of the residual SD (Gaussian); √(1/shape) for Gamma and inverse
        Gaussian models (lme4's σ); 1 otherwise."""
        if self.posterior.sigma is not None:
            return float(self.posterior.sigma.mean())
        if self._family_name in ("Gamma", "inverse.gaussian"):
            assert self.posterior.dispersion is not None
            return float(np.sqrt(1.0 / self.posterior.dispersion).mean())
        return 1.0

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        """Variance components as lme4's ``as.data.frame(VarCorr(fit))``: ``sdcor`` holds
        posterior means of the SDs and correlations, ``vcov`` of the variances and
        covariances."""
        residual = None
        if self.posterior.sigma is not None:
            residual = post.flat(self.posterior.sigma)
        elif self._family_name in ("Gamma", "inverse.gaussian"):
            assert self.posterior.dispersion is not None
            residual = np.sqrt(1.0 / post.flat(self.posterior.dispersion))
        return post.varcorr_means(self.design, self.posterior, residual)

    @cached_property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Posterior means of the random effects: group → DataFrame (levels × effects)."""
        means = [post.flat(b).mean(axis=0) for b in self.posterior.b]
        return ranef_frames(self.design.terms, means)

    # -- predictions -----------------------------------------------------------------------
    def _rows(self, newdata: Any, re_form: Any, allow_new_levels: bool) -> post.Rows:
        if newdata is None:
            from multilevel.inference.newdata import keep_terms

            return post.fitted_rows(self.design, keep_terms(self, re_form))
        return post.new_rows(self, newdata, re_form, allow_new_levels)

    def _rng(self, seed: Any) -> np.random.Generator:
        return np.random.default_rng(self.options.seed if seed is None else seed)

    def posterior_linpred(
        self, newdata: Any = None, re_form: Any = None, allow_new_levels: bool = False,
        ndraws: int | None = None, seed: Any = None,
    ) -> FloatArray:
        """Draws of the linear predictor η: an array (draws, rows).

        Parameters
        ----------
        newdata
            Rows to predict for (default: the fitted rows). Rows with missing values are left
            out (``predict`` puts NaN there).
        re_form
            Random effects to include: None (all), "~0" (none), or a formula of some terms.
        allow_new_levels
            Levels not seen in fitting get effects drawn from N(0, Σ) of each draw.
        ndraws
            Use this many draws, spread evenly over the chains (default: all).
        seed
            Seed of the draws for new levels (default: the fit's seed).
        """
        rows = self._rows(newdata, re_form, allow_new_levels)
        index = post.draw_index(self.ndraws, ndraws)
        return post.linpred(self.posterior, rows, index, self._rng(seed))

    def posterior_epred(
        self, newdata: Any = None, re_form: Any = None, allow_new_levels: bool = False,
        ndraws: int | None = None, seed: Any = None,
    ) -> FloatArray:
        """Draws of the mean μ = g⁻¹(η): an array (draws, rows). Arguments as
        :meth:`posterior_linpred`."""
        eta = self.posterior_linpred(newdata, re_form, allow_new_levels, ndraws, seed)
        return inverse_link(self._family_name, self.link, eta)

    def posterior_predict(
        self, newdata: Any = None, re_form: Any = None, allow_new_levels: bool = False,
        ndraws: int | None = None, seed: Any = None,
    ) -> FloatArray:
        """Posterior predictive draws of the response: an array (draws, rows).

        Binomial responses are proportions of the row's trials (one trial per row of new
        data); Gaussian ones use the fitted precision weights on the fitted rows. Arguments as
        :meth:`posterior_linpred`.
        """
        rng = self._rng(seed)
        rows = self._rows(newdata, re_form, allow_new_levels)
        index = post.draw_index(self.ndraws, ndraws)
        mu = inverse_link(self._family_name, self.link,
                          post.linpred(self.posterior, rows, index, rng))
        fitted = newdata is None
        d = self.posterior
        return simulate(
            self._family_name, mu, rng,
            sigma=None if d.sigma is None else post.flat(d.sigma)[index],
            dispersion=None if d.dispersion is None else post.flat(d.dispersion)[index],
            trials=self.response.trials if fitted else None,
            weights=self.response.weights if fitted and self._family_name == "gaussian"
            else None,
        )

    def predict(
        self, newdata: Any = None, type: str = "response", re_form: Any = None,
        allow_new_levels: bool = False, level: float | None = None, ndraws: int | None = None,
        seed: Any = None,
    ) -> pd.Series | pd.DataFrame:
        """Posterior means of μ (``type="response"``) or η (``"link"``), per row.

        With ``level``, a DataFrame with columns fit, lower, upper: the mean and an
        equal-tailed credible interval of the mean (not of a new observation: see
        :meth:`posterior_predict`). Other arguments as :meth:`posterior_linpred`.
        """
        if type not in ("response", "link"):
            raise ModelError(f"type must be 'response' or 'link', not {type!r}")
        rows = self._rows(newdata, re_form, allow_new_levels)
        index = post.draw_index(self.ndraws, ndraws)
        rng = self._rng(seed)

        def values_at(idx: NDArray[np.intp]) -> FloatArray:
            eta = post.linpred(self.posterior, rows, idx, rng)
            return eta if type == "link" else inverse_link(self._family_name, self.link, eta)

        fit = np.full(rows.complete.size, np.nan)
        if level is None:  # the mean, a chunk of draws at a time (bounded memory)
            chunk = max(1, _CELLS // max(rows.X.shape[0], 1))
            total = np.zeros(rows.X.shape[0])
            for first in range(0, index.size, chunk):
                total += values_at(index[first : first + chunk]).sum(axis=0)
            fit[rows.complete] = total / index.size
            return pd.Series(fit, index=rows.index, name="fit")
        values = values_at(index)
        fit[rows.complete] = values.mean(axis=0)
        alpha = (1.0 - level) / 2.0
        bounds = np.full((2, rows.complete.size), np.nan)
        bounds[:, rows.complete] = np.quantile(values, [alpha, 1.0 - alpha], axis=0)
        return pd.DataFrame({"fit": fit, "lower": bounds[0], "upper": bounds[1]},
                            index=rows.index)

    @cached_property
    def fitted(self) -> pd.Series:
        """Posterior means of μ on the fitted rows."""
        out = self.predict()
        assert isinstance(out, pd.Series)
        return out.rename("fitted")

    @property
    def residuals(self) -> pd.Series:
        """Response residuals y - fitted (posterior mean)."""
        return pd.Series(self.response.y - self.fitted.to_numpy(), index=self.fitted.index,
                         name="residuals")

    # -- output ----------------------------------------------------------------------------
    def to_arviz(self, posterior_predictive: bool = False) -> Any:
        """The draws as an ``arviz.InferenceData`` (needs arviz).

        Groups: posterior (``b`` over coefficient names, ``sd_<group>``, ``cor_<group>``,
        ``r_<group>``, ``sigma`` or the dispersion), sample_stats (``diverging``, ``n_steps``,
        ``acceptance_rate``), observed_data (``y``) and, if asked, posterior_predictive.
        """
        from multilevel.bayes.inference_data import to_inference_data

        return to_inference_data(self, posterior_predictive)

    def summary(self, level: float = 0.95) -> str:
        """A printable summary: the sampler, group-level and population-level effects."""
        from multilevel.bayes.summary import format_summary

        return format_summary(self, level)

    def __repr__(self) -> str:
        chains, n = self.posterior.shape
        return (
            f"<BayesResult {self.formula!r} ({self.family}), nobs={self.nobs}, "
            f"{chains} chains × {n} draws, divergences={self.divergences}>"
        )


__all__ = ["BayesOptions", "BayesResult", "Response"]
