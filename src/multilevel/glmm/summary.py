"""The text of ``GLMMResult.summary()``, laid out as lme4's ``summary(glmer(...))``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from multilevel.lazy import stats
from multilevel.summary import correlation_lines, random_effects_lines

if TYPE_CHECKING:
    from multilevel.glmm.result import GLMMResult


def format_glmm_summary(res: GLMMResult) -> str:
    """The summary text of a fitted GLMM."""
    method = {0: "nAGQ = 0", 1: "Laplace Approximation"}.get(
        res.nagq, f"Adaptive Gauss-Hermite Quadrature, nAGQ = {res.nagq}"
    )
    lines = [
        f"Generalized linear mixed model fit by maximum likelihood ({method})",
        f" Family: {res.family}",
        f"Formula: {res.formula}",
        "",
    ]
    stats_row = pd.DataFrame(
        [[res.aic, res.bic, res.loglik, res.objective, res.nobs - res.npar]],
        columns=["AIC", "BIC", "logLik", "deviance", "df.resid"],
    )
    lines.append(
        stats_row.to_string(
            index=False, formatters={c: (lambda v: f"{v:.1f}") for c in stats_row.columns[:4]}
        )
    )
    q = np.quantile(res.resid("pearson").to_numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    table = pd.DataFrame([q], columns=["Min", "1Q", "Median", "3Q", "Max"])
    resid = table.to_string(index=False, float_format=lambda v: f"{v:.4f}")
    lines += ["", "Scaled residuals:", resid]
    lines += ["", *random_effects_lines(res)]
    est, se = res.fixef, res.se
    z = est / se
    coef = pd.DataFrame(
        {"Estimate": est, "Std. Error": se, "z value": z, "Pr(>|z|)": 2 * stats.norm.sf(np.abs(z))}
    )
    lines += ["", "Fixed effects:", coef.to_string(float_format=lambda v: f"{v:.4g}")]
    lines += correlation_lines(res)
    if res.warnings:
        lines += ["", "Warnings:", *(f"  {w}" for w in res.warnings)]
    return "\n".join(lines).rstrip() + "\n"
