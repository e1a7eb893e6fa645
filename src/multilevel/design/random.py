"""Random-effects terms: each ``(lhs | group)`` of the formula as columns and a grouping factor.

Terms are put in lme4's order, most levels first (ties keep formula order); θ, ``varcorr`` and
the engine's blocks all follow that order. Group labels are made unique as R's ``make.unique``
does (``Subject``, ``Subject.1`` for ``(1 + Days || Subject)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.design.fixed import term_matrix
from multilevel.design.frame import ModelFrame
from multilevel.design.grouping import Grouping, grouping
from multilevel.design.numeric import NumericSpec
from multilevel.errors import DataError, ModelError
from multilevel.formula import Factor, RandomTerm
from multilevel.formula.render import r_name

if TYPE_CHECKING:
    from formulaic import ModelSpec

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RandomEffectsTerm:
    """One random-effects term of a model.

    Attributes
    ----------
    term
        The parsed term.
    label
        Unique label (``Subject`` or ``Subject.1``), as in lme4's ``VarCorr``.
    grouping
        The coded grouping factor.
    z
        The term's columns, (n, q).
    cnames
        R's names of the columns, e.g. ``("(Intercept)", "Days")``.
    spec
        formulaic's spec of the columns (None for a plain intercept), for new data.
    """

    term: RandomTerm
    label: str
    grouping: Grouping
    z: FloatArray
    cnames: tuple[str, ...]
    spec: ModelSpec | NumericSpec | None

    @property
    def group(self) -> str:
        """The grouping factor's name (``Subject``, ``cask:batch``)."""
        return self.grouping.name

    @property
    def nlevels(self) -> int:
        """Number of levels."""
        return self.grouping.nlevels

    @property
    def q(self) -> int:
        """Number of random effects per level."""
        return int(self.z.shape[1])


def _group_columns(group: tuple[Factor, ...], name: str) -> tuple[str, ...]:
    """Column names of the grouping factors (``factor(g)`` and ``as.factor(g)`` mean ``g``)."""
    out = []
    for factor in group:
        text = factor.text
        # the text is R's deparse, so a non-syntactic column name is backquoted in it
        quoted = r_name(factor.variables[0]) if len(factor.variables) == 1 else None
        if quoted is not None and text in (quoted, f"factor({quoted})", f"as.factor({quoted})"):
            out.append(factor.variables[0])
        else:
            raise DataError(
                f"grouping factor {text!r} in ({name}) must be a column of the data or "
                "factor(column); compute it as a column first"
            )
    return tuple(out)


def _make_unique(names: list[str]) -> list[str]:
    """R's make.unique: the second 'a' becomes 'a.1', the third 'a.2'."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}.{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


def random_terms(
    terms: tuple[RandomTerm, ...],
    frame: pd.DataFrame | ModelFrame,
    contrasts: Mapping[str, str] | None = None,
) -> tuple[RandomEffectsTerm, ...]:
    """Build every random-effects term, in lme4's order.

    Parameters
    ----------
    terms
        The parsed bars of the formula, in formula order.
    frame
        The model frame.
    contrasts
        Per-column contrasts for factors on the left of a bar.

    Returns
    -------
    tuple of RandomEffectsTerm
    """
    built = []
    for rt in terms:
        columns = _group_columns(rt.group, rt.name)
        coded = grouping(frame, columns, rt.name)
        check_levels(rt, coded.nlevels)
        tm = term_matrix(rt.effects, frame, contrasts)
        if tm.matrix.shape[1] == 0:
            raise DataError(f"the random-effects term ({rt.text}) has no columns")
        built.append((rt, coded, tm))
    order = sorted(range(len(built)), key=lambda k: -built[k][1].nlevels)
    labels = _make_unique([built[k][1].name for k in order])
    return tuple(
        RandomEffectsTerm(
            term=built[k][0],
            label=label,
            grouping=built[k][1],
            z=built[k][2].matrix,
            cnames=built[k][2].names,
            spec=built[k][2].spec,
        )
        for k, label in zip(order, labels, strict=True)
    )


def _constant_within(z: FloatArray, codes: NDArray[np.intp], nlevels: int) -> bool:
    """True when the column ``z`` takes a single value within every level of the grouping."""
    counts = np.bincount(codes, minlength=nlevels)
    means = np.bincount(codes, weights=z, minlength=nlevels) / np.maximum(counts, 1)
    spread = float(np.max(np.abs(z - means[codes]))) if z.size else 0.0
    return spread <= 1e-10 * max(float(np.max(np.abs(z))) if z.size else 0.0, 1e-300)


def random_effects_notes(terms: tuple[RandomEffectsTerm, ...]) -> list[str]:
    """Messages naming random-effects columns whose variance cannot be identified.

    A column that is zero in every row contributes nothing; a slope that is constant within
    every level of its group is a multiple of the random intercept of the same grouping factor
    (confounded with it). The fit runs, but such a covariance is not identifiable and the fit
    ends singular or with a degenerate Hessian.

    Parameters
    ----------
    terms
        The model's random-effects terms.

    Returns
    -------
    list of str
        One message per such column; empty when there is none.
    """
    with_intercept = {t.group for t in terms if "(Intercept)" in t.cnames}
    out = []
    for t in terms:
        for j, name in enumerate(t.cnames):
            if name == "(Intercept)":
                continue
            if not np.any(t.z[:, j]):
                out.append(
                    f"the random-effects column {name!r} of ({t.term.text}) is zero in every "
                    "row: its variance is not identifiable"
                )
            elif t.group in with_intercept and _constant_within(
                t.z[:, j], t.grouping.codes, t.nlevels
            ):
                out.append(
                    f"the random slope {name!r} of ({t.term.text}) is constant within every "
                    f"level of {t.group!r}, so it is confounded with the random intercept of "
                    f"{t.group!r}: its variance is not identifiable and the fit is likely "
                    "singular (a group-level variable belongs in the fixed effects only)"
                )
    return out


def check_identifiable(terms: Iterable[tuple[str, int, int, str]], nobs: int) -> None:
    """Refuse random-effects terms a Gaussian model cannot separate from the residual.

    Parameters
    ----------
    terms
        (grouping factor name, number of levels, random effects per level, term text) of
        every term.
    nobs
        Number of observations.

    Raises
    ------
    ModelError
        If a factor has as many levels as observations, or a term as many random effects.
    """
    for group, nlevels, q, text in terms:
        if nlevels >= nobs:
            raise ModelError(
                f"the grouping factor {group!r} has {nlevels} levels for {nobs} "
                "observations: in a Gaussian model its random effect and the residual "
                "are not identifiable (number of levels must be < number of observations)"
            )
        if nlevels * q >= nobs:
            raise ModelError(
                f"number of observations ({nobs}) <= number of random effects "
                f"({nlevels * q}) for term ({text}); the random-effects "
                "parameters and the residual variance are probably unidentifiable"
            )


def check_levels(rt: RandomTerm, nlevels: int) -> None:
    """Refuse a random-effects term whose grouping factor has fewer than two levels.

    Raises
    ------
    DataError
        Naming the term and what to do.
    """
    if nlevels < 2:
        raise DataError(
            f"the grouping factor {rt.name!r} of ({rt.text}) has only "
            f"{nlevels} level; a random effect needs at least two groups "
            "(drop the term or fit the model without it)"
        )
