"""The frozen result of a GLMM fit: the LMM's accessors plus what GLMMs add."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.convergence import ConvergenceCheck
from multilevel.design import Design
from multilevel.errors import ModelError
from multilevel.glmm.family import Family
from multilevel.glmm.pirls import GLMMProblem, PirlsState
from multilevel.inference.methods import InferenceMethods
from multilevel.lazy import stats
from multilevel.lmm.theta import ThetaLayout
from multilevel.optimize import OptimizerControl, OptSummary
from multilevel.report.methods import ReportMethods
from multilevel.result import FittedMixedModel, ranef_frames
from multilevel.varcorr import varcorr_frame
from multilevel.workflow.methods import WorkflowMethods

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class GLMMFitOptions:
    """The arguments of the call that produced a GLMM result."""

    formula: str
    family: Family
    nagq: int = 1
    weights: Any = None
    offset: Any = None
    contrasts: Any = None
    control: OptimizerControl = field(default_factory=OptimizerControl)
    na_action: str = "omit"

    @property
    def reml(self) -> bool:
        """GLMMs are fitted by maximum likelihood."""
        return False


@dataclass(frozen=True, eq=False)
class GLMMResult(FittedMixedModel, InferenceMethods, WorkflowMethods, ReportMethods):
    """A fitted generalized linear mixed model (frozen).

    Attributes
    ----------
    design
        The design (X, random-effects terms, frame).
    problem
        The data as the objective sees them (y, prior weights, offset, family).
    options
        The call's options.
    data
        The caller's data (not copied, not modified).
    theta, beta
        Covariance parameters and fixed effects at the optimum.
    vcov_beta
        Covariance matrix of β (from the Hessian of the objective over (θ, β)).
    objective
        -2 log-likelihood at the optimum (Laplace or AGQ approximation; full likelihood).
    optsummary
        What the optimizer did.
    state
        PIRLS state at the optimum (conditional modes, μ, L(θ)).
    nb_theta_opt
        Estimated negative-binomial θ, if any.
    warnings
        Messages of every warning the fit emitted.
    convergence
        Gradient and Hessian checks at the optimum (lme4's ``checkConv``).
    """

    design: Design
    problem: GLMMProblem
    options: GLMMFitOptions
    data: Any = field(repr=False)
    theta: FloatArray
    beta: FloatArray
    vcov_beta: FloatArray
    objective: float
    optsummary: OptSummary
    state: PirlsState
    nb_theta_opt: float | None = None
    warnings: tuple[str, ...] = ()
    convergence: ConvergenceCheck | None = None

    reml = False

    @property
    def family(self) -> Family:
        """The family and link."""
        return self.problem.family

    @property
    def nagq(self) -> int:
        """Quadrature points (0 fast, 1 Laplace, more adaptive Gauss-Hermite)."""
        return self.options.nagq

    @property
    def npar(self) -> int:
        """Number of parameters: fixed effects, θ, the negative binomial's θ and the scale of
        Gamma and inverse Gaussian fits (as lme4's ``logLik`` df counts them)."""
        extra = (self.nb_theta_opt is not None) + self.family.has_dispersion
        return self.beta.size + self.theta.size + int(extra)

    @property
    def converged(self) -> bool:
        """True when the optimizer and PIRLS converged and the derivative checks pass."""
        ok = self.convergence is None or self.convergence.ok
        return self.optsummary.converged and self.state.converged and ok

    @property
    def layout(self) -> ThetaLayout:
        """Where each term's elements sit in θ."""
        return self.problem.layout

    @property
    def beta_hat(self) -> FloatArray:
        """Fixed-effects estimates as an array."""
        return self.beta

    @property
    def vcov_matrix(self) -> FloatArray:
        """Covariance of β from the Hessian of the objective over (θ, β)."""
        return self.vcov_beta

    @property
    def sigma(self) -> float:
        """1 for families without a dispersion; for Gamma and inverse Gaussian lme4's estimate
        √((Σ Pearson residuals² + ‖u‖²) / n), which also scales the random effects."""
        if not self.family.has_dispersion:
            return 1.0
        pearson = float(np.sum(self.resid("pearson").to_numpy() ** 2))
        return math.sqrt((pearson + self.state.sum_u2) / self.nobs)

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        """Variance components as R's ``as.data.frame(VarCorr(fit))``."""
        terms = self.design.terms
        return varcorr_frame(
            [t.label for t in terms], [t.cnames for t in terms], self.lambdas, self.sigma,
            residual=self.family.has_dispersion,
        )

    @cached_property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects: group → DataFrame (levels × effects)."""
        bs = []
        pos = 0
        for t, lam in zip(self.problem.terms, self.lambdas, strict=True):
            # b = Λu; as in lme4, the random effects carry no σ factor even with a dispersion
            bs.append(self.state.u[pos : pos + t.size].reshape(t.nlevels, t.q) @ lam.T)
            pos += t.size
        return ranef_frames(self.design.terms, bs)

    def predict(
        self,
        newdata: Any = None,
        re_form: Any = None,
        allow_new_levels: bool = False,
        type: str = "response",
        interval: str | None = None,
        level: float = 0.95,
        nsim: int = 1000,
        seed: Any = None,
    ) -> pd.Series | pd.DataFrame:
        """Predictions on the link (η) or response (μ) scale, optionally with intervals.

        Parameters
        ----------
        newdata
            Data to predict for (default: the fitted rows).
        re_form
            Random effects to include: None (all), "~0" (none), or a formula of some terms.
        allow_new_levels
            Give levels not seen in fitting zero random effects (otherwise an error).
        type
            "response" (default) or "link".
        interval
            None, "confidence" (for the mean, on the scale of ``type``) or "prediction" (for a
            new response), simulated: see :mod:`multilevel.inference.glmm_predict`.
        level, nsim, seed
            Interval level, number of simulations and seed (intervals only).

        Returns
        -------
        Series or DataFrame
            Predictions, NaN for rows of ``newdata`` with missing values; with ``interval``,
            columns fit, lower, upper.
        """
        if type not in ("link", "response"):
            raise ModelError(f"type must be 'link' or 'response', not {type!r}")
        if interval is not None:
            from multilevel.inference.glmm_predict import predict_interval

            return predict_interval(self, newdata, re_form, allow_new_levels, type, interval,
                                    level, nsim, seed)
        if newdata is None and re_form is None:
            values = self.state.eta if type == "link" else self.state.mu
            return pd.Series(values, index=self.design.frame.rows, name=type)
        from multilevel.inference.newdata import encode, keep_terms

        terms = keep_terms(self, re_form)
        ranef = self.ranef
        if newdata is None:
            d = self.design
            eta = d.X @ self.beta + (self.problem.offset if d.offset is not None else 0.0)
            for k in terms:
                t = d.terms[k]
                b = ranef[t.group][list(t.cnames)].to_numpy()
                eta = eta + np.einsum("ij,ij->i", t.z, b[t.grouping.codes])
            index = d.frame.rows
            out = np.asarray(eta, dtype=float)
        else:
            enc = encode(self, newdata, terms, allow_new_levels)
            eta = enc.X @ self.beta + enc.offset
            for k, z, codes in zip(terms, enc.z, enc.codes, strict=True):
                t = self.design.terms[k]
                b = ranef[t.group][list(t.cnames)].to_numpy()
                known = codes >= 0
                contrib = np.zeros(eta.shape[0])
                contrib[known] = np.einsum("ij,ij->i", z[known], b[codes[known]])
                eta = eta + contrib
            out = np.full(enc.index.shape[0], np.nan)
            out[enc.complete] = eta
            index = enc.index
        if type == "response":
            out = np.where(np.isnan(out), np.nan, self.family.link.linkinv(np.nan_to_num(out)))
        return pd.Series(out, index=index, name=type)

    @property
    def fitted(self) -> pd.Series:
        """Fitted means μ."""
        out = self.predict(type="response")
        assert isinstance(out, pd.Series)
        return out

    def resid(self, type: str = "deviance") -> pd.Series:
        """Residuals: ``"deviance"`` (default, as lme4), ``"pearson"`` or ``"response"``."""
        y, mu, wt = self.problem.y, self.state.mu, self.problem.prior_weights
        if type == "response":
            r = y - mu
        elif type == "pearson":
            r = (y - mu) * np.sqrt(wt / self.family.variance(mu))
        elif type == "deviance":
            d = self.family.dev_resids(y, mu, wt)
            r = np.sign(y - mu) * np.sqrt(np.maximum(d, 0.0))
        else:
            raise ValueError("type must be 'deviance', 'pearson' or 'response'")
        return pd.Series(r, index=self.design.frame.rows, name=f"{type} residuals")

    @property
    def residuals(self) -> pd.Series:
        """Deviance residuals."""
        return self.resid("deviance")

    def overdispersion(self) -> dict[str, float]:
        """Pearson χ² over residual df, with its p-value (a check for overdispersion)."""
        chisq = float(np.sum(self.resid("pearson").to_numpy() ** 2))
        df = self.nobs - self.npar
        return {
            "chisq": chisq,
            "df": float(df),
            "ratio": chisq / df,
            "p.value": float(stats.chi2.sf(chisq, df)),
        }

    def summary(self) -> str:
        """A summary laid out as lme4's ``summary(glmer(...))``."""
        from multilevel.glmm.summary import format_glmm_summary

        return format_glmm_summary(self)

    def __repr__(self) -> str:
        return (
            f"<GLMMResult {self.formula!r} ({self.family}), nobs={self.nobs}, "
            f"objective={self.objective:.4f}>"
        )

    def update(self, formula: str | None = None, data: Any = None, **kwargs: Any) -> GLMMResult:
        """Refit with some arguments changed (``.`` in the formula stands for the old side)."""
        from multilevel.fit import fit, update_formula

        o = self.options
        args: dict[str, Any] = {
            "family": o.family, "nagq": o.nagq, "weights": o.weights, "offset": o.offset,
            "contrasts": o.contrasts, "control": o.control, "na_action": o.na_action,
        }
        args.update(kwargs)
        new = o.formula if formula is None else update_formula(o.formula, formula)
        out = fit(new, self.data if data is None else data, **args)
        assert isinstance(out, GLMMResult)
        return out
