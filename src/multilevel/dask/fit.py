"""``fit_dask``: a linear mixed model fitted on a Dask DataFrame, in two passes over the data.

1. Levels (:mod:`multilevel.dask.levels`): row counts, missing values and the levels of every
   factor, reduced by union; the client builds the encoder (:mod:`multilevel.dask.encode`).
2. Statistics (:mod:`multilevel.dask.stats`): each partition's PLS blocks over the global
   codes, reduced by summation into the PLS system of the whole data set.

The client then decides the rank of X on XᵀX, and runs the in-memory path's objective,
optimizer, convergence checks and estimates on that system: the numbers are the in-memory
fit's, up to the order of floating-point sums.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from multilevel.convergence import check_convergence
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
    combine_stats,
    confounded_slope_notes,
    final_system,
    independent_columns_gram,
    partition_stats,
)
from multilevel.design import RandomEffectsTerm
from multilevel.design.frame import ModelFrame, check_columns
from multilevel.design.grouping import Grouping
from multilevel.errors import (
    ConvergenceWarning,
    DataError,
    DataWarning,
    ModelError,
    MultilevelWarning,
    NotSupportedError,
    SingularFitWarning,
)
from multilevel.formula import ParsedFormula
from multilevel.lmm import PLSSystem, estimates, make_objective, update_factor
from multilevel.optimize import OptimizerControl, minimize
from multilevel.result import FitOptions, is_singular

#: Logs the duration of each pass (INFO), for benchmarks and for users watching a long fit.
logger = logging.getLogger("multilevel.dask")


def _control(control: OptimizerControl | Mapping[str, Any] | None) -> OptimizerControl:
    if control is None:
        return OptimizerControl()
    if isinstance(control, OptimizerControl):
        return control
    return OptimizerControl(**dict(control))


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
    if parsed.response is None:
        raise DataError(f"the formula {parsed.text!r} has no response; write it as 'y ~ ...'")
    if not parsed.random:
        raise ModelError(
            f"the formula {parsed.text!r} has no random-effects term such as (1 | group); "
            "for a model without random effects use ml.ols"
        )
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


def _identifiable(encoder: Encoder, n: int) -> None:
    for t in encoder.terms:
        if t.nlevels >= n:
            raise ModelError(
                f"the grouping factor {t.grouping.name!r} has {t.nlevels} levels for {n} "
                "observations: in a Gaussian model its random effect and the residual "
                "are not identifiable (number of levels must be < number of observations)"
            )
        if t.nlevels * t.q >= n:
            raise ModelError(
                f"number of observations ({n}) <= number of random effects "
                f"({t.nlevels * t.q}) for term ({t.term.text}); the random-effects "
                "parameters and the residual variance are probably unidentifiable"
            )


def fit_system(
    system: PLSSystem,
    design: DaskDesign,
    options: FitOptions,
    data: Any,
) -> DaskLMMResult:
    """From the PLS system to the result: optimize θ, check convergence, read the estimates.

    The same steps, in the same order, as :func:`multilevel.fit.fit` after its system is built.
    """
    ctrl = options.control
    fun = make_objective(system, options.reml)
    opt = minimize(fun, system.layout.start(), system.layout.lower_bounds(), ctrl)
    factor = update_factor(system, opt.x)
    est = estimates(system, factor, options.reml)
    messages: list[tuple[type[MultilevelWarning], str]] = [
        (DataWarning, note) for note in design.notes
    ]
    if is_singular(opt.x, system.layout.diagonal_mask()):
        messages.append((SingularFitWarning, "boundary (singular) fit: see result.singular"))
    if not opt.converged:
        messages.append(
            (ConvergenceWarning, f"the optimizer did not converge: {opt.returnvalue}")
        )
    conv = check_convergence(fun, opt.x, system.layout.lower_bounds())
    messages.extend((ConvergenceWarning, m) for m in conv.messages + conv.notes)
    for category, text in messages:
        warnings.warn(text, category, stacklevel=4)  # the caller of ml.fit
    return DaskLMMResult(
        design=design,
        system=system,
        options=options,
        data=data,
        theta=opt.x,
        objective=opt.fmin,
        optsummary=opt,
        estimates=est,
        warnings=tuple(text for _, text in messages),
        convergence=conv,
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
    from multilevel.fit import parsed_formula

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
    _identifiable(encoder, summary.ncomplete)
    logger.info("levels pass: %.2f s (%d rows, %d partitions)", time.perf_counter() - start,
                summary.nrows, data.npartitions)
    start = time.perf_counter()
    tasks = map_partitions_delayed(data, columns, partition_stats, encoder)
    stats: PartitionStats = compute_one(tree_reduce(tasks, combine_stats))
    logger.info("statistics pass: %.2f s", time.perf_counter() - start)
    p = len(encoder.xnames)
    gram = stats.gram if stats.gram is not None else stats.system.xyxy[:p, :p]
    keep = independent_columns_gram(gram)
    notes = []
    if summary.nrows > summary.ncomplete:
        notes.append(
            f"{summary.nrows - summary.ncomplete} rows with missing or infinite values were "
            "dropped"
        )
    if len(keep) < p:
        dropped = [n for j, n in enumerate(encoder.xnames) if j not in set(keep.tolist())]
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
    notes.extend(confounded_slope_notes(encoder, stats))
    design = _design(parsed, encoder, keep, summary, notes, stats.system.nobs)
    options = FitOptions(
        formula=formula if isinstance(formula, str) else formula.text,
        reml=reml,
        weights=weights,
        offset=offset,
        contrasts=contrasts,
        control=_control(control),
        na_action=na_action,
    )
    start = time.perf_counter()
    result = fit_system(final_system(stats, keep), design, options, data)
    logger.info("optimization: %.2f s (%d evaluations)", time.perf_counter() - start,
                result.optsummary.feval)
    return result
