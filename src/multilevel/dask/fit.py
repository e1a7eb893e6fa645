"""``fit_dask``: a linear mixed model fitted on a Dask DataFrame, in two passes over the data.

1. Levels (:mod:`multilevel.dask.levels`): row counts, missing values and the levels of every
   factor, reduced by union; the client builds the encoder (:mod:`multilevel.dask.encode`).
2. Statistics (:mod:`multilevel.dask.stats`): each partition's PLS blocks over the global
   codes, reduced by summation into the PLS system of the whole data set.

The client then decides the rank of X on XᵀX and hands the system to
:func:`multilevel.fit.finish_lmm`, the in-memory path's own objective, optimizer, convergence
checks, estimates and warnings (θ's scale is read off the diagonal blocks, as the system's
terms hold no rows): the numbers are the in-memory fit's, up to the order of floating-point
sums. Each phase's duration is logged (logger ``multilevel.dask``, INFO).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.dask.encode import Encoder, build_encoder, check_stateless, level_plan
from multilevel.dask.graph import compute_one, map_partitions_delayed, tree_reduce
from multilevel.dask.levels import (
    LevelSummary,
    combine_levels,
    partition_levels,
    resolve_levels,
)
from multilevel.dask.result import DaskDesign, DaskLMMResult
from multilevel.dask.stats import (
    PartitionStats,
    column_sums_of_squares,
    combine_stats,
    confounded_slope_notes,
    final_system,
    independent_columns_gram,
    partition_stats,
    x_gram,
)
from multilevel.design import RandomEffectsTerm, check_mixed_formula
from multilevel.design.frame import ModelFrame, check_columns
from multilevel.design.grouping import Grouping
from multilevel.design.random import check_identifiable
from multilevel.errors import DataError, NotSupportedError
from multilevel.fit import finish_lmm, parsed_formula
from multilevel.formula import ParsedFormula
from multilevel.lmm import PLSSystem
from multilevel.optimize import OptimizerControl, optimizer_control, theta_scale
from multilevel.result import FitOptions

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Logs the duration of each pass (INFO), for benchmarks and for users watching a long fit.
logger = logging.getLogger("multilevel.dask")


def _check_model(
    parsed: ParsedFormula, family: Any, link: str | None, weights: Any, offset: Any
) -> None:
    if family is not None and not (isinstance(family, str) and family.lower() == "gaussian"):
        raise NotSupportedError(
            "generalized linear mixed models (family=...) are not supported on Dask DataFrames "
            "yet: PIRLS would need one pass over the data per iteration. Fit a Gaussian model, "
            "or fit the GLMM on a sample in memory (ddf.sample(frac=...).compute())"
        )
    if link not in (None, "identity"):
        raise NotSupportedError(
            f"link={link!r} with a Gaussian family: only the identity link is supported"
        )
    check_mixed_formula(parsed)
    for what, value in (("weights", weights), ("offset", offset)):
        if value is not None and not isinstance(value, str):
            raise NotSupportedError(
                f"{what} on a Dask DataFrame must be given as a column name ({what}='col'), "
                "not as an array"
            )


def _first_pass(
    data: Any, parsed: ParsedFormula, columns: tuple[str, ...], na_action: str
) -> tuple[Any, LevelSummary]:
    meta = data._meta
    plan = level_plan(parsed, columns, meta)
    tasks = map_partitions_delayed(data, columns, partition_levels, plan)
    summary: LevelSummary = compute_one(tree_reduce(tasks, combine_levels))
    if summary.nrows == 0:
        raise DataError("the data have no rows")
    if summary.missing and na_action == "raise":
        detail = ", ".join(f"{k}: {v}" for k, v in summary.missing.items())
        raise DataError(
            f"missing or infinite values in used columns ({detail}); remove those rows or "
            "use na_action='omit' to drop them"
        )
    if summary.ncomplete == 0:
        raise DataError("no complete rows: every row has a missing value in a used column")
    return plan, summary


def _design(
    parsed: ParsedFormula,
    encoder: Encoder,
    keep: np.ndarray,
    summary: LevelSummary,
    notes: list[str],
    nobs: int,
) -> DaskDesign:
    terms = tuple(
        RandomEffectsTerm(
            term=t.term,
            label=t.label,
            grouping=Grouping(
                t.grouping.name, np.zeros(0, dtype=np.intp), t.grouping.labels(),
                t.grouping.numeric,
            ),
            z=np.zeros((0, t.q)),
            cnames=t.cnames,
            spec=t.spec,
        )
        for t in encoder.terms
    )
    kept = set(keep.tolist())
    frame = ModelFrame(
        data=encoder.template,
        rows=pd.RangeIndex(0),
        positions=np.zeros(0, dtype=np.intp),
        n_dropped=summary.nrows - summary.ncomplete,
    )
    return DaskDesign(
        formula=parsed,
        y=np.zeros(0),
        X=np.zeros((0, len(keep))),
        xnames=tuple(encoder.xnames[j] for j in keep),
        dropped_columns=tuple(n for j, n in enumerate(encoder.xnames) if j not in kept),
        terms=terms,
        weights=None,
        offset=None,
        frame=frame,
        fixed_spec=encoder.fixed_spec,
        notes=tuple(notes),
        n=nobs,
        columns=encoder.columns,
    )


def fit_dask(
    formula: str | ParsedFormula,
    data: Any,
    *,
    reml: bool = True,
    weights: Any = None,
    offset: Any = None,
    contrasts: Mapping[str, str] | None = None,
    control: OptimizerControl | Mapping[str, Any] | None = None,
    na_action: str = "omit",
    family: Any = None,
    link: str | None = None,
    nagq: int = 1,
) -> DaskLMMResult:
    """Fit a linear mixed model on a Dask DataFrame (two passes; no partition is gathered).

    Parameters
    ----------
    formula, reml, contrasts, control, na_action
        As for :func:`multilevel.fit`.
    data
        A ``dask.dataframe.DataFrame``, e.g. from ``dd.read_parquet``.
    weights, offset
        Column names (arrays are not accepted for Dask data).
    family, link, nagq
        Only the Gaussian family with the identity link is supported on Dask.

    Returns
    -------
    DaskLMMResult
        An :class:`~multilevel.result.LMMResult` equal to the in-memory fit; ``fitted``,
        ``residuals`` and ``predict`` give Dask series.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import multilevel as ml
    >>> ddf = dd.from_pandas(ml.datasets.load("sleepstudy"), npartitions=3)
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", ddf)
    >>> round(m.objective, 3)
    1743.628
    """
    if na_action not in ("omit", "raise"):
        raise DataError(f"na_action must be 'omit' or 'raise', not {na_action!r}")
    parsed = parsed_formula(formula) if isinstance(formula, str) else formula
    if not isinstance(parsed, ParsedFormula):
        raise TypeError(f"a formula must be given as a string, not {type(formula).__name__}")
    _check_model(parsed, family, link, weights, offset)
    if not (hasattr(data, "to_delayed") and hasattr(data, "columns")):
        raise DataError(
            f"a Dask fit needs a dask.dataframe.DataFrame, not {type(data).__name__}"
        )
    check_stateless(parsed)
    meta = data._meta
    variables = list(parsed.variables)
    for extra, what in ((weights, "weights"), (offset, "offset")):
        if isinstance(extra, str):
            check_columns(meta, [extra], what)
            variables.append(extra)
    check_columns(meta, variables)
    columns = tuple(v for v in dict.fromkeys(variables) if v in meta.columns)
    start = time.perf_counter()
    plan, summary = _first_pass(data, parsed, columns, na_action)
    levels = resolve_levels(summary, meta, plan)
    encoder = build_encoder(parsed, plan, levels, summary, contrasts, weights, offset)
    check_identifiable(
        ((t.grouping.name, t.nlevels, t.q, t.term.text) for t in encoder.terms),
        summary.ncomplete,
    )
    start = _phase("levels pass", start, "%d rows, %d partitions", summary.nrows,
                   data.npartitions)
    tasks = map_partitions_delayed(data, columns, partition_stats, encoder)
    stats: PartitionStats = compute_one(tree_reduce(tasks, combine_stats))
    start = _phase("statistics pass", start, "%d complete rows", stats.nobs)
    keep = independent_columns_gram(x_gram(stats))
    notes = _notes(encoder, summary, keep)
    notes.extend(confounded_slope_notes(encoder, stats))
    design = _design(parsed, encoder, keep, summary, notes, stats.nobs)
    system = final_system(stats, keep)
    del stats  # the system shares its blocks; the rest is released before optimizing
    options = FitOptions(
        formula=formula if isinstance(formula, str) else formula.text,
        reml=reml,
        weights=weights,
        offset=offset,
        contrasts=contrasts,
        control=optimizer_control(control),
        na_action=na_action,
    )
    start = _phase("system", start, "%d random effects", sum(t.size for t in system.terms))
    result = finish_lmm(system, design, options, data, scale=system_theta_scale(system),
                        result_type=DaskLMMResult, stacklevel=4)
    _phase("optimization", start, "%d evaluations", result.optsummary.feval)
    assert isinstance(result, DaskLMMResult)
    return result


def system_theta_scale(system: PLSSystem) -> FloatArray:
    """:func:`multilevel.optimize.theta_scale` of a reduced system, whose terms hold no rows.

    The root mean square of a (weighted) random-effects column is √(Σ wᵢzᵢ² / n), and Σ wᵢzᵢ²
    is on the diagonal of ZᵀWZ (:func:`~multilevel.dask.stats.column_sums_of_squares`).
    ``theta_scale`` is given those values as a one-row matrix per term, whose root mean
    square is the values themselves, so the layout of θ is its own.
    """
    n = max(system.nobs, 1)
    return theta_scale([np.sqrt(ss / n)[None, :] for ss in column_sums_of_squares(system)])


def _phase(name: str, start: float, detail: str, *args: Any) -> float:
    """Log the end of a phase (INFO; ``extra`` holds ``phase`` and ``seconds`` for tools such
    as the benchmark); returns the time the next phase starts."""
    now = time.perf_counter()
    logger.info(f"%s: %.2f s ({detail})", name, now - start, *args,
                extra={"phase": name, "seconds": now - start})
    return now


def _notes(encoder: Encoder, summary: LevelSummary, keep: IntArray) -> list[str]:
    """The in-memory path's notes on dropped rows, dropped columns and numeric groupings."""
    notes = []
    if summary.nrows > summary.ncomplete:
        notes.append(
            f"{summary.nrows - summary.ncomplete} rows with missing or infinite values were "
            "dropped"
        )
    kept = set(keep.tolist())
    if len(kept) < len(encoder.xnames):
        dropped = [n for j, n in enumerate(encoder.xnames) if j not in kept]
        plural = "s" if len(dropped) > 1 else ""
        notes.append(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} "
            f"column{plural} / coefficient{plural}: {', '.join(dropped)}"
        )
    for t in encoder.terms:
        if t.grouping.numeric:
            notes.append(
                f"the numeric grouping variable of {t.grouping.name!r} was converted to a factor"
            )
    return notes
