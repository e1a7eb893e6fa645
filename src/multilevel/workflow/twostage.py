"""The two-stage ("slopes and intercepts as outcomes") estimator the literature warns about.

Stage 1 fits the level-1 model y_ij = a_j + x_ij'b + e_ij with a dummy per group (the within
estimator of b, and an intercept â_j per group); stage 2 regresses the â_j on the group
covariates z_j by OLS, as if they were data: â_j = l + z_j'd + v_j. What goes wrong, against
the mixed model that fits both levels at once:

* the â_j are estimates, with error variance σ²/n_j + x̄_j'V_b x̄_j that differs by group; stage
  2 weights a group of 2 pupils as much as a group of 60 and puts the estimation error into
  its residual, so it is inefficient and its SEs are not right for unequal groups;
* b comes only from within-group variation (the fixed-effects estimator), so it ignores the
  between-group information the mixed model uses, and the stage-2 SEs ignore that b and the
  â_j were estimated;
* nothing is shrunk: small groups' â_j are as noisy as they come.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.fixed import independent_columns, term_matrix
from multilevel.errors import DataError, ModelError
from multilevel.formula import parse_terms
from multilevel.workflow._coefs import CoefResult, named, named_matrix
from multilevel.workflow._data import constant_within, group_means, linear_design
from multilevel.workflow.ols import ols_arrays

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class TwoStageResult(CoefResult):
    """The two-stage estimates (see :func:`two_stage`).

    ``coef``, ``se`` and ``df`` hold the stage-2 coefficients (the intercept and the level-2
    terms, t tests on J - q df) followed by the stage-1 slopes (within estimator, N - J - k
    df); ``vcov`` is block diagonal (the stages are treated as unrelated, as the method does).

    Attributes
    ----------
    intercepts
        Stage 1 per group: ``estimate`` (â_j), ``se`` and ``n``.
    level1_terms, level2_terms
        Which coefficients came from which stage.
    """

    intercepts: pd.DataFrame | None = None
    level1_terms: tuple[str, ...] = ()
    level2_terms: tuple[str, ...] = ()

    def compare(self, model: Any) -> pd.DataFrame:
        """Two-stage against a mixed model fitted to the same data, term by term.

        Returns
        -------
        pandas.DataFrame
            ``two_stage``, ``two_stage_se``, ``mixed``, ``mixed_se`` and ``se_ratio``
            (two-stage SE / mixed SE) for the terms both have.
        """
        fixef, se = model.fixef, model.se
        terms = [t for t in self.coef.index if t in fixef.index]
        out = pd.DataFrame(
            {
                "two_stage": self.coef[terms],
                "two_stage_se": self.se[terms],
                "mixed": fixef[terms],
                "mixed_se": se[terms],
            }
        )
        out["se_ratio"] = out["two_stage_se"] / out["mixed_se"]
        return out


def two_stage_arrays(
    y: FloatArray,
    X1: FloatArray,
    Z: FloatArray,
    codes: IntArray,
    ngroups: int,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, int, int]:
    """Both stages on arrays.

    Parameters
    ----------
    y, X1
        Response and level-1 columns (no intercept), one row per observation.
    Z
        Level-2 design (with its intercept), one row per group.
    codes, ngroups
        Group of every row; number of groups.

    Returns
    -------
    b, V_b, a, se_a, g, V_g, df1, df2
        Stage-1 slopes and covariance, group intercepts and their SEs, stage-2 coefficients
        and covariance, and the two residual df.
    """
    n, k = X1.shape
    J = ngroups
    counts = np.bincount(codes, minlength=J).astype(float)
    ybar = group_means(y, codes, J)
    df1 = n - J - k
    if df1 < 1:
        raise DataError(f"stage 1 has no residual df ({n} rows, {J} groups, {k} slopes)")
    if k:
        xbar = group_means(X1, codes, J)
        b, vb, _, resid = ols_arrays(X1 - xbar[codes], y - ybar[codes], "iid")
        s2 = float(resid @ resid) / df1
        vb = vb * s2 / (float(resid @ resid) / (n - k))
        a = ybar - xbar @ b
        var_a = s2 / counts + np.einsum("jk,kl,jl->j", xbar, vb, xbar)
    else:
        b, vb = np.zeros(0), np.zeros((0, 0))
        resid = y - ybar[codes]
        s2 = float(resid @ resid) / df1
        a, var_a = ybar, s2 / counts
    if J <= Z.shape[1]:
        raise DataError(
            f"stage 2 regresses {J} group intercepts on {Z.shape[1]} coefficients: too few groups"
        )
    g, vg, _, _ = ols_arrays(Z, a, "iid")
    return b, vb, a, np.sqrt(var_a), g, vg, df1, J - Z.shape[1]


def two_stage(
    level1: str,
    level2: str,
    data: Any,
    group: str,
    *,
    contrasts: Mapping[str, str] | None = None,
) -> TwoStageResult:
    """The two-stage estimator: group intercepts by OLS with dummies, then regressed on group
    covariates by OLS, ignoring their estimation error.

    Parameters
    ----------
    level1
        The level-1 model, e.g. ``"mAch ~ ses"`` (the intercept becomes a dummy per group).
    level2
        The level-2 model of the group intercepts, e.g. ``"~ sector + meanses"`` (a leading
        ``~`` is optional); its columns must be constant within groups.
    data
        pandas or polars DataFrame (not modified).
    group
        The grouping column.
    contrasts
        Per-column contrasts.

    Returns
    -------
    TwoStageResult
        Stage-2 coefficients (``(Intercept)`` and the level-2 terms) and stage-1 slopes, with
        their naive SEs; ``intercepts`` per group; ``compare(mixed)`` to set them beside a
        mixed model. See the module docstring for what the method gets wrong.

    Examples
    --------
    >>> import multilevel as ml
    >>> r = ml.two_stage("mAch ~ ses", "~ sector + meanses", ml.datasets.load("Hsb82"),
    ...                  "school")
    >>> r.coef.index.tolist()
    ['(Intercept)', 'sectorCatholic', 'meanses', 'ses']
    """
    terms2 = parse_terms(level2.split("~", 1)[1] if "~" in level2 else level2)
    design = linear_design(
        level1, data, group=group, extra=terms2.variables, contrasts=contrasts, what="two_stage"
    )
    codes, J = design.codes, design.ngroups
    keep1 = [k for k, n in enumerate(design.names) if n != "(Intercept)"]
    X1 = design.X[:, keep1]
    names1 = [design.names[k] for k in keep1]
    bad1 = [names1[k] for k in constant_within(X1, codes, J)]
    if bad1:
        raise ModelError(
            f"{', '.join(bad1)} in the level-1 model {level1!r} is constant within groups: "
            "it is a level-2 covariate, so move it to the level-2 model"
        )
    tm = term_matrix(terms2, design.frame, contrasts)
    Zobs = tm.matrix[:, independent_columns(tm.matrix)]
    names2 = [tm.names[k] for k in independent_columns(tm.matrix)]
    varying = [names2[k] for k in range(Zobs.shape[1]) if k not in constant_within(Zobs, codes, J)]
    if varying:
        raise ModelError(
            f"{', '.join(varying)} in the level-2 model varies within groups of {group!r}; "
            "level-2 covariates are properties of the groups (use the group mean, e.g. meanses)"
        )
    Z = group_means(Zobs, codes, J)
    b, vb, a, se_a, g, vg, df1, df2 = two_stage_arrays(design.y, X1, Z, codes, J)
    names = names2 + names1
    vcov = np.zeros((len(names), len(names)))
    q = len(names2)
    vcov[:q, :q], vcov[q:, q:] = vg, vb
    levels = list(design.group.levels) if design.group else []
    return TwoStageResult(
        coef=named(np.concatenate([g, b]), names, "estimate"),
        se=named(np.sqrt(np.diag(vcov)), names, "se"),
        vcov=named_matrix(vcov, names),
        df=named(np.array([float(df2)] * q + [float(df1)] * len(names1)), names, "df"),
        method="Two-stage (OLS on group intercepts)",
        nobs=design.nobs,
        notes=(
            "stage-2 SEs treat the estimated group intercepts as data (no estimation error, "
            "equal weights for groups of any size)",
        ),
        intercepts=pd.DataFrame(
            {"estimate": a, "se": se_a, "n": np.bincount(codes, minlength=J)},
            index=pd.Index(levels, name=group),
        ),
        level1_terms=tuple(names1),
        level2_terms=tuple(names2),
    )


__all__ = ["TwoStageResult", "two_stage"]
