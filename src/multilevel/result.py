"""The frozen result of a linear mixed-model fit: accessors that return pandas objects."""

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
from multilevel.inference.methods import InferenceMethods
from multilevel.lmm.objective import Estimates
from multilevel.lmm.system import PLSSystem
from multilevel.lmm.theta import ThetaLayout
from multilevel.optimize import OptimizerControl, OptSummary
from multilevel.report.methods import ReportMethods
from multilevel.varcorr import varcorr_frame
from multilevel.workflow.methods import WorkflowMethods

FloatArray = NDArray[np.float64]

SINGULAR_TOL = 1e-4


def is_singular(theta: FloatArray, diagonal: NDArray[np.bool_], tol: float = SINGULAR_TOL) -> bool:
    """lme4's ``isSingular``: some diagonal element of some Λ below ``tol``."""
    return bool(np.any(theta[diagonal] < tol))


def ranef_frames(terms: Any, bs: Any) -> dict[str, pd.DataFrame]:
    """Conditional modes per grouping factor; terms sharing a factor share one frame."""
    out: dict[str, pd.DataFrame] = {}
    for t, b in zip(terms, bs, strict=True):
        index = pd.Index(list(t.grouping.levels), name=t.group)
        frame = pd.DataFrame(b, index=index, columns=list(t.cnames))
        out[t.group] = pd.concat([out[t.group], frame], axis=1) if t.group in out else frame
    return out


class DesignSummary:
    """Formula, observations and groups of a fitted model, read from its design and options.

    Shared by likelihood fits (:class:`FittedMixedModel`) and Bayesian fits.
    """

    design: Design
    options: Any

    @property
    def formula(self) -> str:
        """The formula as given."""
        return str(self.options.formula)

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return self.design.nobs

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor, most levels first."""
        out: dict[str, int] = {}
        for t in self.design.terms:
            out.setdefault(t.group, t.nlevels)
        return out


class FittedMixedModel(DesignSummary):
    """What every fitted mixed model (LMM or GLMM) offers, from its design, θ and objective.

    Subclasses are frozen dataclasses that provide ``design``, ``options``, ``theta``,
    ``objective``, ``layout``, ``beta_hat``, ``vcov_matrix`` and ``npar``.
    """

    design: Design
    options: Any
    theta: FloatArray
    objective: float

    @property
    def layout(self) -> ThetaLayout:
        """Where each term's elements sit in θ."""
        raise NotImplementedError

    @property
    def beta_hat(self) -> FloatArray:
        """Fixed-effects estimates as an array."""
        raise NotImplementedError

    @property
    def vcov_matrix(self) -> FloatArray:
        """Covariance matrix of the fixed effects as an array."""
        raise NotImplementedError

    @property
    def npar(self) -> int:
        """Number of parameters counted by AIC and BIC."""
        raise NotImplementedError

    @property
    def loglik(self) -> float:
        """Log-likelihood (for REML fits the REML log-likelihood, as lme4's ``logLik``)."""
        return -0.5 * self.objective

    @property
    def deviance(self) -> float:
        """-2 log-likelihood (the REML criterion for REML fits)."""
        return self.objective

    @property
    def aic(self) -> float:
        """Akaike's information criterion."""
        return self.objective + 2.0 * self.npar

    @property
    def bic(self) -> float:
        """Schwarz's Bayesian information criterion."""
        return self.objective + math.log(self.nobs) * self.npar

    @property
    def singular(self) -> bool:
        """True when some diagonal element of Λ is (nearly) zero, as lme4's ``isSingular``."""
        return is_singular(self.theta, self.layout.diagonal_mask())

    @property
    def lambdas(self) -> tuple[FloatArray, ...]:
        """Relative covariance factor Λ of each random-effects term."""
        return tuple(self.layout.factors(self.theta))

    @property
    def fixef(self) -> pd.Series:
        """Fixed-effects estimates, named as R names them."""
        return pd.Series(self.beta_hat, index=list(self.design.xnames), name="estimate")

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed-effects estimates."""
        names = list(self.design.xnames)
        return pd.DataFrame(self.vcov_matrix, index=names, columns=names)

    @property
    def se(self) -> pd.Series:
        """Standard errors of the fixed effects."""
        return pd.Series(
            np.sqrt(np.diag(self.vcov_matrix)), index=list(self.design.xnames), name="se"
        )


@dataclass(frozen=True)
class FitOptions:
    """The arguments of the call that produced a result (for ``update``)."""

    formula: str
    reml: bool
    weights: Any = None
    offset: Any = None
    contrasts: Any = None
    control: OptimizerControl = field(default_factory=OptimizerControl)
    na_action: str = "omit"


@dataclass(frozen=True, eq=False)
class LMMResult(FittedMixedModel, InferenceMethods, WorkflowMethods, ReportMethods):
    """A fitted linear mixed model (frozen).

    Attributes
    ----------
    design
        The model's design (y, X, random-effects terms, frame).
    system
        The PLS system the objective was computed from.
    options
        The call's options.
    data
        The caller's data (not copied, not modified), for ``update``.
    theta
        Covariance parameters at the optimum, in lme4's order.
    objective
        -2 log-likelihood (ML) or the REML criterion (REML) at the optimum.
    optsummary
        What the optimizer did.
    estimates
        β, random effects and σ at the optimum.
    warnings
        Messages of every warning the fit emitted.
    convergence
        Gradient and Hessian checks at the optimum (lme4's ``checkConv``).
    """

    design: Design
    system: PLSSystem
    options: FitOptions
    data: Any = field(repr=False)
    theta: FloatArray
    objective: float
    optsummary: OptSummary
    estimates: Estimates
    warnings: tuple[str, ...] = ()
    convergence: ConvergenceCheck | None = None

    # -- the fit ---------------------------------------------------------------------------
    @property
    def reml(self) -> bool:
        """True for a REML fit."""
        return self.options.reml

    @property
    def npar(self) -> int:
        """Number of parameters: fixed effects, θ and σ."""
        return len(self.design.xnames) + self.theta.size + 1

    @property
    def converged(self) -> bool:
        """True when the optimizer met its criteria and the derivative checks pass."""
        ok = self.convergence is None or self.convergence.ok
        return self.optsummary.converged and ok

    # -- estimates -------------------------------------------------------------------------
    @property
    def layout(self) -> ThetaLayout:
        """Where each term's elements sit in θ."""
        return self.system.layout

    @property
    def beta_hat(self) -> FloatArray:
        """Fixed-effects estimates as an array."""
        return self.estimates.beta

    @property
    def vcov_matrix(self) -> FloatArray:
        """σ² (R_Xᵀ R_X)⁻¹."""
        return self.sigma**2 * self.estimates.vcov_unscaled

    @property
    def sigma(self) -> float:
        """Residual standard deviation."""
        return self.estimates.sigma

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        """Variance components as R's ``as.data.frame(VarCorr(fit))``."""
        terms = self.design.terms
        return varcorr_frame(
            [t.label for t in terms], [t.cnames for t in terms], self.lambdas, self.sigma
        )

    @cached_property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects: group → DataFrame (levels × effects)."""
        return ranef_frames(self.design.terms, self.estimates.b)

    @cached_property
    def _linear_predictor(self) -> FloatArray:
        d = self.design
        eta = d.X @ self.estimates.beta
        for t, b in zip(d.terms, self.estimates.b, strict=True):
            eta = eta + np.einsum("ij,ij->i", t.z, b[t.grouping.codes])
        if d.offset is not None:
            eta = eta + d.offset
        return np.asarray(eta)

    @property
    def fitted(self) -> pd.Series:
        """Fitted values (fixed and random effects, plus any offset)."""
        return pd.Series(self._linear_predictor, index=self.design.frame.rows, name="fitted")

    @property
    def residuals(self) -> pd.Series:
        """Response residuals y - fitted."""
        return pd.Series(
            self.design.y - self._linear_predictor, index=self.design.frame.rows, name="residuals"
        )

    # -- output ----------------------------------------------------------------------------
    def summary(self) -> str:
        """A summary a lme4 user reads at a glance (as ``summary(lmer(...))``)."""
        from multilevel.summary import format_summary

        return format_summary(self)

    def __repr__(self) -> str:
        kind = "REML" if self.reml else "ML"
        return (
            f"<LMMResult {self.formula!r} ({kind}), nobs={self.nobs}, "
            f"objective={self.objective:.4f}>"
        )

    def update(self, formula: str | None = None, data: Any = None, **kwargs: Any) -> LMMResult:
        """Refit with some arguments changed (as lme4's ``update``).

        Parameters
        ----------
        formula
            A new formula; ``.`` stands for the old response (left of ``~``) or the old right
            side, as in R's ``update.formula`` (``". ~ . + x"``).
        data
            New data (default: the same data).
        **kwargs
            Any other argument of :func:`multilevel.fit` (``reml``, ``weights``, ...).
        """
        from multilevel.fit import fit, update_formula

        opts = self.options
        args: dict[str, Any] = {
            "reml": opts.reml,
            "weights": opts.weights,
            "offset": opts.offset,
            "contrasts": opts.contrasts,
            "control": opts.control,
            "na_action": opts.na_action,
        }
        args.update(kwargs)
        new_formula = opts.formula if formula is None else update_formula(opts.formula, formula)
        out = fit(new_formula, self.data if data is None else data, **args)
        assert isinstance(out, LMMResult)
        return out
