"""Entry points: formula text to :class:`ParsedFormula` or :class:`ModelTerms`."""

from __future__ import annotations

from multilevel.formula.algebra import encode_terms
from multilevel.formula.expand import expand_bar, split_bars
from multilevel.formula.parse import parse_expression, parse_tree
from multilevel.formula.render import variables
from multilevel.formula.terms import ModelTerms, ParsedFormula, make_factor


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"a formula must be given as a string, not {type(text).__name__}")
    return text


def parse_formula(text: str) -> ParsedFormula:
    """Parse an lme4 model formula written in R syntax.

    Parameters
    ----------
    text
        The formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.

    Returns
    -------
    ParsedFormula
        The response, the fixed-effects terms in R's order, the offsets and the random-effects
        terms after ``||`` and ``/`` expansion.

    Raises
    ------
    FormulaError
        If the formula cannot be parsed; the message names the problem and points at it.

    Examples
    --------
    >>> f = parse_formula("mAch ~ meanses*cses + sector*cses + (1 + cses | school)")
    >>> f.fixed.labels
    ('meanses', 'cses', 'sector', 'meanses:cses', 'cses:sector')
    >>> [r.text for r in parse_formula("y ~ (x || g)").random]
    ['1 | g', '0 + x | g']
    """
    text = _check_text(text)
    tree = parse_tree(text)
    response = make_factor(tree.lhs, text) if tree.lhs is not None else None
    fixed_node, bars = split_bars(tree.rhs, text)
    fixed, offsets = encode_terms(fixed_node, text, response=tree.lhs, context="fixed")
    random = tuple(term for bar in bars for term in expand_bar(bar, text))
    order = (variables(tree.lhs) if tree.lhs is not None else ()) + variables(tree.rhs)
    return ParsedFormula(
        text=text,
        response=response,
        fixed=fixed,
        offsets=offsets,
        random=random,
        ordered_variables=tuple(dict.fromkeys(order)),
    )


def parse_terms(text: str) -> ModelTerms:
    """Parse a one-sided right-hand side such as ``"1 + x*z"`` (a leading ``~`` is allowed).

    Parameters
    ----------
    text
        The terms, in R syntax.

    Returns
    -------
    ModelTerms
        The intercept flag and the terms in R's order.

    Raises
    ------
    FormulaError
        On a syntax error, a response, a random-effects bar or an ``offset()``.

    Examples
    --------
    >>> parse_terms("0 + x*z").labels
    ('x', 'z', 'x:z')
    """
    text = _check_text(text)
    node = parse_expression(text)
    terms, _ = encode_terms(node, text, context="terms")
    return terms


__all__ = ["parse_formula", "parse_terms"]
