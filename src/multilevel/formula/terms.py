"""The values a parsed formula is made of: factors, terms, model terms and random terms.

All are frozen dataclasses holding plain strings and tuples. :func:`make_factor` builds a
:class:`Factor` from an expression; the term algebra that produces :class:`ModelTerms` from a
formula's right side is in :mod:`multilevel.formula.algebra`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from multilevel.errors import FormulaError
from multilevel.formula.ast import BARS, Binary, Node, walk
from multilevel.formula.render import deparse, to_python, variables


@dataclass(frozen=True)
class Factor:
    """One variable-like factor of a term, e.g. ``sector``, ``I(x^2)``, ``log(z)``, ``poly(x, 2)``.

    Attributes
    ----------
    text
        The expression as R prints it (R's deparse), e.g. ``"poly(x, 2)"``.
    python
        The same expression for formulaic / Python evaluation, e.g. ``"np.log(z)"``.
    variables
        The data column names it uses, in order of first appearance.
    """

    text: str
    python: str
    variables: tuple[str, ...]

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Term:
    """A product of factors such as ``a:b``; the empty product is the intercept."""

    factors: tuple[Factor, ...]

    @property
    def text(self) -> str:
        """R's label for the term: factor texts joined by ``:``, or ``"1"`` for the intercept."""
        return ":".join(f.text for f in self.factors) if self.factors else "1"

    @property
    def python(self) -> str:
        """The term for formulaic: factor Python texts joined by ``:``, or ``"1"``."""
        return ":".join(f.python for f in self.factors) if self.factors else "1"

    @property
    def degree(self) -> int:
        """The number of factors."""
        return len(self.factors)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ModelTerms:
    """The terms of a model's right-hand side (or of a random-effects bar's left side).

    Attributes
    ----------
    intercept
        Whether the model has an intercept.
    terms
        The terms other than the intercept, in R's order.
    """

    intercept: bool
    terms: tuple[Term, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """The terms' labels (R's ``term.labels``), without the intercept."""
        return tuple(term.text for term in self.terms)

    @property
    def text(self) -> str:
        """The terms as a formula right side: ``"1 + x"``, ``"0 + x"``, ``"1"`` or ``"0"``."""
        return " + ".join(["1" if self.intercept else "0", *self.labels])

    @property
    def variables(self) -> tuple[str, ...]:
        """The data columns used by the terms, in the order the terms list them."""
        return _unique(v for term in self.terms for f in term.factors for v in f.variables)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``(effects | group)`` after ``||`` and ``/`` expansion.

    Attributes
    ----------
    effects
        The left side of the bar (intercept unless removed, plus slopes).
    group
        The grouping factors, joined by ``:`` in this order (``cask:batch`` -> (cask, batch)).
    correlated
        False for the terms that came from ``||``.
    label
        lme4's name for the grouping factor when it differs from the factor texts joined by
        ``:`` (three or more nested levels print as ``c:(b:a)``); empty otherwise.
    """

    effects: ModelTerms
    group: tuple[Factor, ...]
    correlated: bool = True
    label: str = ""

    @property
    def name(self) -> str:
        """The grouping factor's name as lme4 prints it, e.g. ``"cask:batch"``."""
        return self.label or ":".join(g.text for g in self.group)

    @property
    def text(self) -> str:
        """The term as a bar: ``"1 + Days | Subject"``, ``"0 + Days | Subject"``."""
        return f"{self.effects.text} | {self.name}"

    def __str__(self) -> str:
        return f"({self.text})"


@dataclass(frozen=True)
class ParsedFormula:
    """A parsed lme4 model formula.

    Attributes
    ----------
    text
        The formula as given.
    response
        The response (left of ``~``), or None for a one-sided formula.
    fixed
        The fixed-effects terms.
    offsets
        The inner expression of each ``offset(expr)`` in the fixed part.
    random
        The random-effects terms in formula order, after expansion.
    ordered_variables
        Every data column in order of first appearance in the text, including ones whose
        terms were removed (set by the parser; :attr:`variables` keeps only the used ones).
    """

    text: str
    response: Factor | None
    fixed: ModelTerms
    offsets: tuple[Factor, ...] = ()
    random: tuple[RandomTerm, ...] = ()
    ordered_variables: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def variables(self) -> tuple[str, ...]:
        """Every data column used anywhere (response, fixed part, offsets, random effects and
        grouping factors), in order of first appearance in the formula."""
        used = _unique(
            [
                *(self.response.variables if self.response is not None else ()),
                *self.fixed.variables,
                *(v for f in self.offsets for v in f.variables),
                *(v for r in self.random for v in r.effects.variables),
                *(v for r in self.random for g in r.group for v in g.variables),
            ]
        )
        order = [v for v in self.ordered_variables if v in used]
        return _unique([*order, *used])

    def __str__(self) -> str:
        return self.text


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def make_factor(node: Node, formula: str) -> Factor:
    """Build the :class:`Factor` for an expression.

    Raises
    ------
    FormulaError
        If the expression contains a ``|`` or ``||`` (lme4 would read it as a random-effects
        bar wherever it is).
    """
    for sub in walk(node):
        if isinstance(sub, Binary) and sub.op in BARS:
            raise FormulaError(
                f"'{sub.op}' inside the expression {deparse(node)}: lme4 reads every '|' as a "
                "random-effects bar, so it can only appear as (effects | group) added to the "
                "model; compute a logical column beforehand instead",
                formula=formula,
                position=sub.pos,
            )
    return Factor(deparse(node), to_python(node), variables(node))


__all__ = ["Factor", "ModelTerms", "ParsedFormula", "RandomTerm", "Term", "make_factor"]
