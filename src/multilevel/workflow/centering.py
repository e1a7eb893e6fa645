"""Group means and deviations for within/between (REWB) and Mundlak (contextual) models.

A level-1 covariate x_ij mixes two relations with the outcome: within groups (how y changes
when x moves inside a school) and between groups (how school means of y follow school means
of x). A random-intercept model with the raw x alone estimates a weighted blend of the two,
and is biased for the within effect when the group effect is correlated with x̄_j (the
Hausman test's alternative). Splitting x separates them:

* REWB (Bell and Jones 2015): ``y ~ x_within + x_between + (1 | g)`` with
  x_between = x̄_j and x_within = x_ij - x̄_j. The coefficient of ``x_within`` is the
  **within effect** β_W (the fixed-effects estimate, on balanced data exactly); that of
  ``x_between`` is the **between effect** β_B (the slope of group means).
* Mundlak (1978): ``y ~ x + x_mean + (1 | g)`` with x_mean = x̄_j. The coefficient of ``x`` is
  the within effect β_W again; that of ``x_mean`` is the **contextual effect** β_B - β_W (the
  difference two pupils with the same x make by being in schools whose means differ by one).

Both fit the same model (one is a reparametrisation of the other).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from multilevel.design.frame import as_pandas, check_columns
from multilevel.errors import DataError, ModelError

FORMS = ("rewb", "mundlak")


def within_between(
    data: Any,
    columns: str | Sequence[str],
    group: str,
    form: str = "rewb",
    *,
    suffixes: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """Add group means and within-group deviations (REWB) or group means (Mundlak) of columns.

    Parameters
    ----------
    data
        pandas or polars DataFrame (not modified: a new DataFrame is returned).
    columns
        The numeric level-1 column(s) to split.
    group
        The grouping column.
    form
        ``"rewb"``: add ``{x}_between`` (the group mean x̄_j) and ``{x}_within``
        (x_ij - x̄_j); fit ``y ~ x_within + x_between + (1 | g)`` for the within and between
        effects. ``"mundlak"``: add ``{x}_mean`` (x̄_j) next to the raw x; fit
        ``y ~ x + x_mean + (1 | g)`` for the within effect (x) and the contextual effect
        β_B - β_W (x_mean).
    suffixes
        Suffixes of the new columns: default ``("_within", "_between")`` for REWB and
        ``("", "_mean")`` for Mundlak (the first one is ignored for Mundlak).

    Returns
    -------
    pandas.DataFrame
        A copy of the data with the new columns. Group means are taken over the rows where the
        column is present; rows with a missing value keep NaN in the new columns.

    Examples
    --------
    >>> import multilevel as ml
    >>> d = ml.within_between(ml.datasets.load("Hsb82"), "ses", "school")
    >>> m = ml.fit("mAch ~ ses_within + ses_between + (1 | school)", d)
    >>> round(m.fixef["ses_within"], 3), round(m.fixef["ses_between"], 3)
    (2.191, 5.866)
    """
    if form not in FORMS:
        raise ModelError(f"form must be 'rewb' or 'mundlak', not {form!r}")
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not cols:
        raise DataError("give at least one column to split")
    df = as_pandas(data)
    check_columns(df, [*cols, group], "within_between argument")
    within_suffix, between_suffix = suffixes or (
        ("_within", "_between") if form == "rewb" else ("", "_mean")
    )
    out = df.copy()
    keys = df[group]
    for col in cols:
        values = df[col]
        if isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(
            values
        ) or pd.api.types.is_bool_dtype(values):
            raise DataError(
                f"{col!r} must be numeric to split into group means and deviations; for a "
                "factor, make 0/1 columns of its levels first"
            )
        x = values.astype(float)
        means = x.groupby(keys, observed=True, dropna=False).transform("mean")
        means = means.where(keys.notna(), np.nan)
        targets = [f"{col}{between_suffix}"]
        if form == "rewb":
            targets.append(f"{col}{within_suffix}")
        clash = [t for t in targets if t in df.columns]
        if clash:
            raise DataError(
                f"the data already have column{'s' if len(clash) > 1 else ''} "
                f"{', '.join(map(repr, clash))}; pass other suffixes=(within, between)"
            )
        out[f"{col}{between_suffix}"] = means
        if form == "rewb":
            out[f"{col}{within_suffix}"] = x - means
    return out


__all__ = ["within_between"]
