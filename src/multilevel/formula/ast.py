"""Expression tree for parsed R formulas.

The parser (:mod:`multilevel.formula.parse`) turns formula text into these frozen nodes. They keep
the structure exactly as R parses it, including the parentheses the user wrote, so that the
deparsed text (:mod:`multilevel.formula.render`) matches what R prints. Every node records the
offset of its defining token (the operator of a binary expression, the name of a call, the
opening parenthesis) for error messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: R's reserved words that parse as constants rather than names.
CONSTANTS: frozenset[str] = frozenset(
    {
        "TRUE",
        "FALSE",
        "NULL",
        "NA",
        "Inf",
        "NaN",
        "NA_integer_",
        "NA_real_",
        "NA_character_",
        "NA_complex_",
    }
)

#: R's reserved words that cannot appear in a formula at all.
KEYWORDS: frozenset[str] = frozenset(
    {"if", "else", "repeat", "while", "function", "for", "next", "break", "in"}
)

#: Binary operators whose meaning in a model formula is term algebra (outside function calls).
FORMULA_OPERATORS: frozenset[str] = frozenset({"+", "-", "*", "/", ":", "^", "%in%", "|", "||"})

#: The random-effects bars.
BARS: frozenset[str] = frozenset({"|", "||"})


@dataclass(frozen=True)
class Name:
    """A variable name such as ``Days`` or a backquoted name such as `` `a b` ``.

    Attributes
    ----------
    name
        The name without backquotes.
    pos
        Offset of the name in the formula text.
    quoted
        True if the user wrote the name in backquotes.
    """

    name: str
    pos: int
    quoted: bool = False


@dataclass(frozen=True)
class Constant:
    """One of R's constants ``TRUE``, ``FALSE``, ``NULL``, ``NA``, ``Inf``, ``NaN``, ...."""

    name: str
    pos: int


@dataclass(frozen=True)
class Number:
    """A numeric literal, kept as written (``literal``), e.g. ``"2"``, ``"1e-3"``, ``"2L"``."""

    literal: str
    pos: int

    @property
    def value(self) -> float:
        """The literal's numeric value."""
        text = self.literal.removesuffix("L")
        if text[:2].lower() == "0x":
            return float(int(text, 16))
        return float(text)


@dataclass(frozen=True)
class String:
    """A string literal; ``value`` holds the decoded characters."""

    value: str
    pos: int


@dataclass(frozen=True)
class Arg:
    """One argument of a function call: ``value`` or ``name = value``."""

    value: Node
    name: str | None = None


@dataclass(frozen=True)
class Call:
    """A function call ``func(args)``, e.g. ``poly(x, 2)``.

    Attributes
    ----------
    func
        The function's name.
    args
        The arguments in order.
    pos
        Offset of the function name.
    quoted
        True if the function name was backquoted.
    """

    func: str
    args: tuple[Arg, ...]
    pos: int
    quoted: bool = False


@dataclass(frozen=True)
class Unary:
    """A prefix operator applied to one operand: ``-x``, ``+x``, ``!x``, ``~x``."""

    op: str
    operand: Node
    pos: int


@dataclass(frozen=True)
class Binary:
    """A binary operator expression ``left op right``; ``pos`` is the operator's offset."""

    op: str
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class Paren:
    """Parentheses the user wrote around ``inner``; ``pos`` is the ``(``'s offset."""

    inner: Node
    pos: int


Node = Name | Constant | Number | String | Call | Unary | Binary | Paren


@dataclass(frozen=True)
class FormulaTree:
    """A whole formula ``lhs ~ rhs``.

    Attributes
    ----------
    lhs
        The response expression, or None for a one-sided formula ``~ rhs``.
    rhs
        The right-hand side.
    tilde
        Offset of the ``~``.
    """

    lhs: Node | None
    rhs: Node
    tilde: int


def strip_parens(node: Node) -> Node:
    """Return ``node`` without any parentheses wrapped around it."""
    while isinstance(node, Paren):
        node = node.inner
    return node


def is_bar(node: Node) -> bool:
    """True if ``node`` is a random-effects bar ``a | b`` or ``a || b`` (parenthesized or not)."""
    inner = strip_parens(node)
    return isinstance(inner, Binary) and inner.op in BARS


def children(node: Node) -> Iterator[Node]:
    """Yield the direct sub-expressions of ``node`` in source order."""
    if isinstance(node, Call):
        for arg in node.args:
            yield arg.value
    elif isinstance(node, Unary):
        yield node.operand
    elif isinstance(node, Binary):
        yield node.left
        yield node.right
    elif isinstance(node, Paren):
        yield node.inner


def walk(node: Node) -> Iterator[Node]:
    """Yield ``node`` and every node below it, in source (pre-order, left-to-right) order."""
    yield node
    for child in children(node):
        yield from walk(child)


__all__ = [
    "BARS",
    "CONSTANTS",
    "FORMULA_OPERATORS",
    "KEYWORDS",
    "Arg",
    "Binary",
    "Call",
    "Constant",
    "FormulaTree",
    "Name",
    "Node",
    "Number",
    "Paren",
    "String",
    "Unary",
    "children",
    "is_bar",
    "strip_parens",
    "walk",
]
