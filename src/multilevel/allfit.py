"""``allfit``: refit a model with every available optimizer and tabulate the results.

As lme4's ``allFit``: when a fit warns that it may not have converged, refitting it with
different optimizers shows whether the warning is a false alarm (every optimizer reaches the
same objective and estimates) or not (they disagree, or some reach a lower objective).
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from multilevel.errors import ModelError, MultilevelWarning
from multilevel.optimize import _ALGORITHMS, OptimizerControl

if TYPE_CHECKING:
    from multilevel.glmm.result import GLMMResult
    from multilevel.result import LMMResult

#: The optimizers ``allfit`` tries by default, in this order.
OPTIMIZERS: tuple[str, ...] = tuple(_ALGORITHMS)


def theta_names(result: Any) -> list[str]:
    """lme4's names of the elements of θ (``getME(fit, "theta")``).

    A diagonal element of a term's Λ is named ``group.effect`` and an off-diagonal one
    ``group.row.column``, e.g. ``Subject.(Intercept)``, ``Subject.Days.(Intercept)``,
    ``Subject.Days``; terms are labelled as in ``varcorr`` (``Subject.1`` for a repeated group).

    Parameters
    ----------
    result
        A fitted model.

    Returns
    -------
    list of str
        One name per element of ``result.theta``, in its order.
    """
    names: list[str] = []
    for term in result.design.terms:
        cn = list(term.cnames)
        q = len(cn)
        for col in range(q):
            for row in range(col, q):
                if row == col:
                    names.append(f"{term.label}.{cn[row]}")
                else:
                    names.append(f"{term.label}.{cn[row]}.{cn[col]}")
    return names


def _control(result: Any, name: str) -> OptimizerControl:
    # each named optimizer itself: no switch to the gradient-based fit (OptimizerControl.gradient)
    base = getattr(result.options, "control", None)
    if isinstance(base, OptimizerControl):
        return dataclasses.replace(base, optimizer=name, gradient=False)
    return OptimizerControl(optimizer=name, gradient=False)


def allfit(
    result: LMMResult | GLMMResult, optimizers: Iterable[str] | None = None
) -> pd.DataFrame:
    """Refit a model with each optimizer and tabulate objectives and estimates.

    Each refit is ``result.update(control=...)`` with only the optimizer changed (the other
    settings of the original fit are kept). Warnings of the refits are not re-emitted; their
    messages are recorded in the ``warnings`` column. A refit that raises is recorded with its
    error and NaN estimates rather than stopping the others.

    Parameters
    ----------
    result
        A fitted model (``ml.fit`` result, linear or generalized).
    optimizers
        Names of the optimizers to try (default: every one of :mod:`multilevel.optimize`:
        "bobyqa", "newuoa", "neldermead", "cobyla").

    Returns
    -------
    pandas.DataFrame
        One row per optimizer (index ``optimizer``) with columns ``objective``,
        ``delta_objective`` (its excess over the lowest objective), ``converged``, ``seconds``,
        ``feval``, ``sigma``, one column ``theta:<name>`` per element of θ (named as lme4
        names them), one column ``fixef:<name>`` per fixed effect, ``warnings`` (the refit's
        warning messages joined by ``"; "``) and ``error`` (empty unless the refit failed).

    Raises
    ------
    ModelError
        If an optimizer name is unknown, or none is given.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Yield ~ 1 + (1|Batch)", ml.datasets.load("Dyestuff"))
    >>> table = allfit(m, ["bobyqa", "neldermead"])
    >>> bool(table["delta_objective"].max() < 1e-6)
    True
    """
    if isinstance(optimizers, str):
        optimizers = [optimizers]
    names = list(OPTIMIZERS if optimizers is None else optimizers)
    unknown = [n for n in names if n not in OPTIMIZERS]
    if unknown:
        raise ModelError(
            f"unknown optimizer{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(n) for n in unknown)}; choose from {', '.join(OPTIMIZERS)}"
        )
    if not names:
        raise ModelError("no optimizers given; choose from " + ", ".join(OPTIMIZERS))
    tnames = [f"theta:{n}" for n in theta_names(result)]
    fnames = [f"fixef:{n}" for n in result.fixef.index]
    rows: list[dict[str, Any]] = []
    for name in names:
        row: dict[str, Any] = {"optimizer": name}
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MultilevelWarning)
                refit = result.update(control=_control(result, name))
        except Exception as exc:  # recorded, as lme4's allFit records failures
            row.update(
                objective=math.nan, converged=False, seconds=time.perf_counter() - start,
                feval=0, sigma=math.nan, warnings="", error=f"{type(exc).__name__}: {exc}",
            )
            row.update(dict.fromkeys(tnames + fnames, math.nan))
            rows.append(row)
            continue
        row.update(
            objective=float(refit.objective),
            converged=bool(refit.converged),
            seconds=time.perf_counter() - start,
            feval=int(refit.optsummary.feval),
            sigma=float(refit.sigma),
            warnings="; ".join(refit.warnings),
            error="",
        )
        row.update(zip(tnames, np.asarray(refit.theta, dtype=float).tolist(), strict=True))
        fixef = refit.fixef
        row.update({f"fixef:{k}": float(fixef.get(k, math.nan)) for k in result.fixef.index})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("optimizer")
    best = table["objective"].min()
    table.insert(1, "delta_objective", table["objective"] - best)
    columns = ["objective", "delta_objective", "converged", "seconds", "feval", "sigma"]
    return table[columns + tnames + fnames + ["warnings", "error"]]


__all__ = ["OPTIMIZERS", "allfit", "theta_names"]
