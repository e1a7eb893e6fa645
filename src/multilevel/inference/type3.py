"""Type III F tests of the fixed-effect terms (lmerTest's ``anova(model, type=3)``).

A term's type III hypothesis is that its coefficients are zero when every factor is coded with
sum-to-zero contrasts, which is the SAS/lmerTest type III hypothesis when all cells are
observed and does not depend on the contrasts used to fit: the model matrix is re-encoded with
``contr.sum`` for every factor column, X_sum = X T, and the hypothesis on the fitted
coefficients is L = (T⁻¹)[term columns]. Numeric covariates are used as they are (not centred),
so a factor interacting with a covariate is tested at covariate = 0, as in SAS and lmerTest.

GLMMs get Wald χ² tests of the same hypotheses, χ² = (Lβ̂)ᵀ(L V Lᵀ)⁻¹(Lβ̂) on rank(L) df with V
the model's covariance of β̂, as ``car::Anova(glmer_fit, type = 3)`` (which tests the
coefficients as coded: the two agree for models without interactions, and for any model
fitted with ``contr.sum``). The intercept row that car prints is left out, as lmerTest does.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.fixed import independent_columns, term_matrix
from multilevel.errors import ModelError, MultilevelWarning, NotSupportedError
from multilevel.inference._common import cached, result_kind
from multilevel.inference.coeftable import DEFAULT, check_kr, normalize_ddf
from multilevel.lazy import stats

FloatArray = NDArray[np.float64]


def _column_terms(names: tuple[str, ...], spec: Any, labels: tuple[str, ...],
                  intercept: bool) -> list[str]:
    """Term label of each column of a full (before dropping) fixed-effects matrix.

    A formulaic spec lists each term's columns in ``structure``; a spec without one (the
    engine's numeric-product spec) has one column per term.
    """
    if spec is None:
        return ["(Intercept)"] * len(names)
    structure = getattr(spec, "structure", None)
    if structure is None:
        out = ["(Intercept)"] if intercept else []
        out.extend(labels)
        if len(out) != len(names):
            raise ModelError("type III contrasts: cannot map model-matrix columns to terms")
        return out
    out = []
    entries = list(structure)
    if intercept:
        out.extend(["(Intercept)"] * len(entries[0].columns))
        entries = entries[1:]
    for label, enc in zip(labels, entries, strict=True):
        out.extend([label] * len(enc.columns))
    return out


def _factor_columns(result: Any) -> dict[str, str]:
    frame = result.design.frame.data
    out = {}
    for term in result.design.formula.fixed.terms:
        for f in term.factors:
            if f.text in frame.columns and len(f.variables) == 1:
                col = frame[f.text]
                if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                    out[f.text] = "sum"
    return out


def type3_contrasts(result: Any) -> dict[str, FloatArray]:
    """The type III contrast matrix of each fixed-effect term, on the fitted coefficients."""
    return cached(result, "type3", lambda: _contrasts(result))


def _contrasts(result: Any) -> dict[str, FloatArray]:
    d = result.design
    fixed = d.formula.fixed
    labels = fixed.labels
    if not labels:
        return {}
    frame = d.frame.data
    orig = term_matrix(fixed, frame, result.options.contrasts)
    orig_terms = _column_terms(orig.names, orig.spec, labels, fixed.intercept)
    keep_orig = [orig.names.index(n) for n in d.xnames]
    x = orig.matrix[:, keep_orig]
    coded = term_matrix(fixed, frame, {**dict(result.options.contrasts or {}),
                                       **_factor_columns(result)})
    keep = independent_columns(coded.matrix)
    xs = coded.matrix[:, keep]
    col_terms = [_column_terms(coded.names, coded.spec, labels, fixed.intercept)[j]
                 for j in keep]
    if xs.shape[1] != x.shape[1]:
        raise ModelError("type III contrasts: the re-coded model matrix has a different rank")
    t, *_ = np.linalg.lstsq(x, xs, rcond=None)
    if not np.allclose(x @ t, xs, atol=1e-8 * max(1.0, float(np.abs(xs).max()))):
        warnings.warn(
            "type III contrasts: re-coding the factors with sum-to-zero contrasts changed the "
            "model's column space; testing the coefficients of each term as fitted",
            MultilevelWarning,
            stacklevel=3,
        )
        fitted_terms = [orig_terms[j] for j in keep_orig]
        eye = np.eye(x.shape[1])
        return {lab: eye[[j for j, c in enumerate(fitted_terms) if c == lab]]
                for lab in labels if lab in fitted_terms}
    tinv = np.linalg.inv(t)
    out: dict[str, FloatArray] = {}
    for lab in labels:
        rows = [j for j, c in enumerate(col_terms) if c == lab]
        if rows:
            L = tinv[rows]
            L[np.abs(L) < 1e-12] = 0.0
            out[lab] = L
    return out


def ftest_table(result: Any, contrasts: dict[str, FloatArray], ddf: Any) -> pd.DataFrame:
    """F tests of L β = 0 for each named contrast matrix."""
    method = normalize_ddf(ddf)
    beta = np.asarray(result.estimates.beta, dtype=float)
    vcov = result.sigma**2 * np.asarray(result.estimates.vcov_unscaled)
    s2 = result.sigma**2
    rows = []
    for label, L in contrasts.items():
        if method == "satterthwaite":
            from multilevel.inference.satterthwaite import ftest, satterthwaite_info

            ft = ftest(satterthwaite_info(result), L, beta)
            fval, ndf, dendf, ms = ft.fvalue, ft.numdf, ft.dendf, ft.fvalue * s2
        elif method == "kenward-roger":
            from multilevel.inference.kenward_roger import kr_adjusted, kr_test

            check_kr(result)
            kt = kr_test(kr_adjusted(result), L)
            fval, ndf, dendf = kt.fvalue, kt.numdf, kt.dendf
            ms = kt.fvalue / kt.scaling * s2 if kt.scaling else np.nan
        else:
            ndf = int(np.linalg.matrix_rank(L))
            diff = L @ beta
            fval = float(diff @ np.linalg.pinv(L @ vcov @ L.T) @ diff) / ndf
            ms = fval * s2
            dendf = np.inf if method is None else (
                float(result.nobs - beta.size) if method == "residual" else float(method))
        pval = stats.chi2.sf(fval * ndf, ndf) if np.isinf(dendf) else stats.f.sf(
            fval, ndf, dendf)
        rows.append({"Sum Sq": ms * ndf, "Mean Sq": ms, "NumDF": ndf, "DenDF": dendf,
                     "F value": fval, "Pr(>F)": pval, "term": label})
    cols = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]
    if not rows:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="term"))
    return pd.DataFrame(rows).set_index("term")[cols]


def wald_chisq_table(result: Any, contrasts: dict[str, FloatArray]) -> pd.DataFrame:
    """Wald χ² tests of L β = 0 for each named contrast matrix, from the model's covariance of
    β̂ (``vcov_matrix``): columns Chisq, Df, Pr(>Chisq), as ``car::Anova``."""
    beta = np.asarray(result.beta_hat, dtype=float)
    vcov = np.asarray(result.vcov_matrix, dtype=float)
    rows = []
    for label, L in contrasts.items():
        df = int(np.linalg.matrix_rank(L))
        diff = L @ beta
        chisq = float(diff @ np.linalg.pinv(L @ vcov @ L.T) @ diff)
        rows.append({"term": label, "Chisq": chisq, "Df": df,
                     "Pr(>Chisq)": float(stats.chi2.sf(chisq, df))})
    cols = ["Chisq", "Df", "Pr(>Chisq)"]
    if not rows:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="term"))
    return pd.DataFrame(rows).set_index("term")[cols]


def _glmm_ddf(ddf: Any) -> None:
    if ddf == DEFAULT or (isinstance(ddf, str) and ddf.lower() == "wald"):
        return
    if ddf is None:
        return
    raise NotSupportedError(
        f"ddf={ddf!r} is not available for generalized linear mixed models: their terms are "
        "tested with Wald chi-square tests (as car::Anova(glmer_fit, type = 3)); use "
        "ddf=None or ddf='wald'"
    )


def anova_type3(result: Any, ddf: Any = DEFAULT) -> pd.DataFrame:
    """Type III tests of the fixed-effect terms: F tests for linear mixed models, Wald χ²
    tests for GLMMs.

    Parameters
    ----------
    result
        A fitted linear or generalized linear mixed model.
    ddf
        Linear mixed models: "satterthwaite" (the default, also for "default"),
        "kenward-roger" (REML fits), "residual", a number, or None (Wald χ²/q with infinite
        denominator df). GLMMs: None, "wald" or "default" (Wald χ² tests); any other value
        raises NotSupportedError.

    Returns
    -------
    DataFrame
        Index: term labels. Linear mixed models: columns Sum Sq, Mean Sq, NumDF, DenDF,
        F value, Pr(>F) (as lmerTest's ``anova``). GLMMs: columns Chisq, Df, Pr(>Chisq) (as
        ``car::Anova(fit, type = 3)``, without its intercept row).
    """
    if result_kind(result) == "glmm":
        _glmm_ddf(ddf)
        return wald_chisq_table(result, type3_contrasts(result))
    if ddf == DEFAULT:
        ddf = "satterthwaite"
    return ftest_table(result, type3_contrasts(result), ddf)
