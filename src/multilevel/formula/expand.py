"""Random-effects bars: find them, and expand ``||`` and ``/`` as lme4 does.

* :func:`split_bars` is lme4's ``nobars`` / ``findbars``: it takes the bars ``(lhs | group)``
  that are added to the model out of the right-hand side and returns what remains (the fixed
  part) and the bars in formula order.
* :func:`expand_bar` is lme4's ``expandDoubleVerts`` followed by ``expandSlash``:
  ``(1 + x || g)`` becomes ``(1 | g) + (0 + x | g)`` (uncorrelated), and ``(lhs | a/b)``
  becomes ``(lhs | b:a) + (lhs | a)``; ``a/b/c`` gives ``c:(b:a)``, ``b:a``, ``a``.
"""

from __future__ import annotations

from multilevel.errors import FormulaError
from multilevel.formula.algebra import encode_terms
from multilevel.formula.ast import BARS, Binary, Call, Name, Node, Paren, Unary, strip_parens, walk
from multilevel.formula.render import deparse
from multilevel.formula.terms import Factor, ModelTerms, RandomTerm, make_factor


def split_bars(rhs: Node, formula: str) -> tuple[Node | None, list[Binary]]:
    """Separate the random-effects bars added to a model from its fixed part.

    Bars are found through ``+``, the left side of a binary ``-`` and parentheses, as lme4's
    ``nobars`` does. A bar anywhere else is left in place for the term encoder to reject.

    Parameters
    ----------
    rhs
        The formula's right-hand side.
    formula
        The formula text, for error messages.

    Returns
    -------
    tuple
        The fixed part (None if nothing but bars was there) and the bar expressions.

    Raises
    ------
    FormulaError
        For a bar that is not inside parentheses, as in ``y ~ x + 1 | g``.
    """
    bars: list[Binary] = []
    return _strip(rhs, bars, formula), bars


def _strip(node: Node, bars: list[Binary], formula: str) -> Node | None:
    if isinstance(node, Paren):
        inner = strip_parens(node)
        if isinstance(inner, Binary) and inner.op in BARS:
            bars.append(inner)
            return None
        stripped = _strip(node.inner, bars, formula)
        if stripped is None:
            return None
        return node if stripped is node.inner else Paren(stripped, node.pos)
    if isinstance(node, Binary) and node.op in BARS:
        raise FormulaError(
            f"random-effects bar '{node.op}' outside parentheses: write the random-effects term "
            f"in parentheses, as in ({deparse(node)})",
            formula=formula,
            position=node.pos,
        )
    if isinstance(node, Binary) and node.op == "+":
        left = _strip(node.left, bars, formula)
        right = _strip(node.right, bars, formula)
        if left is None or right is None:
            return right if left is None else left
        if left is node.left and right is node.right:
            return node
        return Binary("+", left, right, node.pos)
    if isinstance(node, Binary) and node.op == "-":
        left = _strip(node.left, bars, formula)
        if left is None:
            return Unary("-", node.right, node.pos)
        return node if left is node.left else Binary("-", left, node.right, node.pos)
    if isinstance(node, Unary) and node.op == "+":
        operand = _strip(node.operand, bars, formula)
        if operand is None:
            return None
        return node if operand is node.operand else Unary("+", operand, node.pos)
    return node


def expand_bar(bar: Binary, formula: str) -> list[RandomTerm]:
    """Expand one bar ``(lhs | group)`` or ``(lhs || group)`` into random-effects terms.

    Parameters
    ----------
    bar
        The bar expression (without its parentheses).
    formula
        The formula text, for error messages.

    Returns
    -------
    list of RandomTerm
        For ``||``, one uncorrelated term per left-side term (the intercept first); for ``/``
        in the grouping side, one term per nesting level, innermost first.

    Raises
    ------
    FormulaError
        For a nested bar, a left side without any effect, or an invalid grouping side.
    """
    effects, _ = encode_terms(bar.left, formula, context="bar")
    if not effects.intercept and not effects.terms:
        raise FormulaError(
            f"random-effects term ({deparse(bar)}) has no effects: its left side removes the "
            "intercept and adds nothing",
            formula=formula,
            position=bar.pos,
        )
    groups = _groups(bar.right, formula)
    if bar.op == "||":
        pieces = [ModelTerms(True, ())] if effects.intercept else []
        pieces += [ModelTerms(False, (term,)) for term in effects.terms]
    else:
        pieces = [effects]
    return [
        RandomTerm(piece, factors, bar.op == "|", label)
        for piece in pieces
        for factors, label in groups
    ]


def _groups(node: Node, formula: str) -> list[tuple[tuple[Factor, ...], str]]:
    """The grouping factors of each nesting level, innermost first, with lme4's label for each
    (empty when the label is just the factor texts joined by ``:``)."""
    for sub in walk(node):
        if isinstance(sub, Binary) and sub.op in BARS:
            raise FormulaError(
                f"nested random-effects bar '{sub.op}': a bar cannot appear inside the grouping "
                "side of another random-effects term",
                formula=formula,
                position=sub.pos,
            )
    node = strip_parens(node)
    levels: list[Node] = []
    while isinstance(node, Binary) and node.op == "/":
        levels.append(node.right)
        node = node.left
    levels.append(node)
    levels.reverse()
    flat = [_level_factors(level, formula) for level in levels]

    result: list[tuple[tuple[Factor, ...], str]] = []
    label = deparse(levels[0])
    is_colon = isinstance(levels[0], Binary)
    for k, level in enumerate(levels):
        if k > 0:
            label = deparse(level) + ":" + (f"({label})" if is_colon else label)
            is_colon = True
        factors = tuple(f for factors in reversed(flat[: k + 1]) for f in factors)
        plain = ":".join(f.text for f in factors)
        result.append((factors, "" if label == plain else label))
    result.reverse()
    return result


def _level_factors(node: Node, formula: str) -> list[Factor]:
    """The factors of one nesting level: a variable, a call, or an interaction ``a:b``."""
    if isinstance(node, Paren):
        return _level_factors(node.inner, formula)
    if isinstance(node, Binary) and node.op == ":":
        return _level_factors(node.left, formula) + _level_factors(node.right, formula)
    if isinstance(node, Name | Call) or (isinstance(node, Binary) and node.op == "$"):
        return [make_factor(node, formula)]
    if isinstance(node, Binary) and node.op == "/":
        message = (
            f"unparseable grouping factor {deparse(node)}: nesting with '/' must be written "
            "without parentheses, as in a/b/c"
        )
    else:
        message = (
            f"invalid grouping factor {deparse(node)}: it must be a variable (g), an "
            "interaction (a:b) or a nesting (a/b)"
        )
    raise FormulaError(message, formula=formula, position=node.pos)


__all__ = ["expand_bar", "split_bars"]
