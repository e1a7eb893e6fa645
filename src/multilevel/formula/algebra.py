"""R's term algebra: expand a formula's right side into terms as ``terms.formula`` does.

* ``a + b`` is the union, ``a - b`` removes b's terms, ``a:b`` multiplies every pair of terms,
  ``a * b`` is ``a + b + a:b``, ``a / b`` is ``a + (all factors of a):b``, ``a %in% b`` is
  every term of a times all factors of b, ``(a + b)^2`` is every product up to degree 2;
* ``1`` and ``0`` switch the intercept on and off (their meaning flips on the right of a ``-``);
  the last one seen wins;
* variables are numbered in order of first appearance (the response first); each term's factors
  follow that order, and terms are sorted by degree, keeping their order of appearance within a
  degree. Duplicate terms collapse and ``x:x`` is ``x``;
* ``offset(expr)`` terms are taken out of the fixed part and returned separately.
"""

from __future__ import annotations

from multilevel.errors import FormulaError
from multilevel.formula.ast import (
    BARS,
    Binary,
    Call,
    Constant,
    Name,
    Node,
    Number,
    Paren,
    String,
    Unary,
)
from multilevel.formula.render import deparse
from multilevel.formula.terms import Factor, ModelTerms, Term, make_factor


def is_offset(node: Node) -> bool:
    """True for a call ``offset(...)``."""
    return isinstance(node, Call) and node.func == "offset"


class _Encoder:
    """R's ``EncodeVars``: expands term algebra into bit-set terms over numbered variables."""

    def __init__(self, formula: str, context: str) -> None:
        self.formula = formula
        self.context = context  # "fixed", "bar" or "terms"
        self.factors: list[Factor] = []
        self.nodes: list[Node] = []
        self.index: dict[str, int] = {}
        self.intercept = True
        self.parity = True

    def error(self, message: str, node: Node) -> FormulaError:
        return FormulaError(message, formula=self.formula, position=_position(node))

    def install(self, node: Node) -> int:
        factor = make_factor(node, self.formula)
        if factor.text not in self.index:
            self.index[factor.text] = len(self.factors)
            self.factors.append(factor)
            self.nodes.append(node)
        return self.index[factor.text]

    def encode(self, node: Node) -> list[frozenset[int]]:
        if isinstance(node, Paren):
            return self.encode(node.inner)
        if isinstance(node, Number):
            return self.number(node)
        if isinstance(node, Unary) and node.op in "+-":
            if node.op == "+":
                return self.encode(node.operand)
            self.parity = not self.parity
            self.encode(node.operand)
            self.parity = not self.parity
            return []
        if isinstance(node, Binary) and node.op in BARS:
            raise self.bar_error(node)
        if isinstance(node, Binary) and node.op in ("+", "-", "*", "/", ":", "^", "%in%"):
            return self.binary(node)
        if isinstance(node, Name) and node.name == "." and not node.quoted:
            raise self.error(
                "'.' (all other columns) is not supported in formulas; list the columns", node
            )
        if isinstance(node, String | Constant):
            raise self.error(
                f"{deparse(node)} cannot be a model term; only variables, expressions, 0 and 1 can",
                node,
            )
        return [frozenset({self.install(node)})]

    def bar_error(self, node: Binary) -> FormulaError:
        if self.context == "bar":
            return self.error(
                f"nested random-effects bar '{node.op}': a bar cannot appear inside another "
                "random-effects term",
                node,
            )
        if self.context == "terms":
            return self.error(
                f"random-effects bar '{node.op}' is not allowed here: only fixed-effects terms are",
                node,
            )
        return self.error(
            f"misplaced random-effects bar '{node.op}': write random effects in parentheses "
            "and add them to the model with '+', as in y ~ x + (1 | g)",
            node,
        )

    def number(self, node: Number) -> list[frozenset[int]]:
        value = node.value
        if value not in (0.0, 1.0):
            raise self.error(
                f"the number {node.literal} cannot be a model term: only 1 (intercept) and 0 "
                f"(no intercept) can; write arithmetic inside I(), e.g. I(x + {node.literal})",
                node,
            )
        self.intercept = (value == 1.0) == self.parity
        return []

    def binary(self, node: Binary) -> list[frozenset[int]]:
        op = node.op
        if op == "^":
            return self.power(node)
        left = self.encode(node.left)
        if op == "-":
            self.parity = not self.parity
            right = self.encode(node.right)
            self.parity = not self.parity
            return [t for t in left if t not in right]
        right = self.encode(node.right)
        if op == "+":
            return _trim(left + right)
        if op == ":":
            return _trim([a | b for a in left for b in right])
        if op == "*":
            return _trim(left + right + [a | b for a in left for b in right])
        if op == "/":
            whole = frozenset().union(*left)
            return _trim(left + [whole | b for b in right])
        whole = frozenset().union(*right)  # %in%
        return _trim([a | whole for a in left])

    def power(self, node: Binary) -> list[frozenset[int]]:
        left = self.encode(node.left)
        exponent = node.right
        if not isinstance(exponent, Number) or not exponent.value.is_integer():
            raise self.error(
                f"invalid power in formula: the exponent of '^' must be a whole number, "
                f"not {deparse(exponent)}; write arithmetic powers inside I(), e.g. I(x^2)",
                node,
            )
        power = int(exponent.value)
        if power < 2:
            raise self.error(
                f"invalid power in formula: (terms)^{power}; the power must be at least 2",
                node,
            )
        result = left
        for _ in range(power - 1):
            result = _trim([a | b for a in left for b in result])
        return result

    def terms(self, encoded: list[frozenset[int]]) -> tuple[Term, ...]:
        ordered = sorted(_trim(encoded), key=len)
        return tuple(Term(tuple(self.factors[i] for i in sorted(bits))) for bits in ordered if bits)


def _trim(terms: list[frozenset[int]]) -> list[frozenset[int]]:
    """R's ``TrimRepeats``: drop repeated terms, keeping the first of each."""
    return list(dict.fromkeys(terms))


def _position(node: Node) -> int:
    return node.pos


def encode_terms(
    node: Node | None,
    formula: str,
    *,
    response: Node | None = None,
    context: str = "fixed",
) -> tuple[ModelTerms, tuple[Factor, ...]]:
    """Expand a right-hand side into R's terms.

    Parameters
    ----------
    node
        The right-hand side (bars already removed), or None for an empty one (intercept only).
    formula
        The formula text, for error messages.
    response
        The response expression; it is numbered first, which affects the order of factors.
    context
        ``"fixed"`` for a model's fixed part (``offset()`` terms allowed), ``"bar"`` for the
        left side of a random-effects bar, ``"terms"`` for a bare right-hand side.

    Returns
    -------
    tuple
        The :class:`ModelTerms` and the inner expressions of the ``offset()`` terms.

    Raises
    ------
    FormulaError
        For anything R's ``terms.formula`` rejects (numbers other than 0 and 1, bad powers),
        misplaced bars, and ``offset()`` outside the fixed part or inside an interaction.
    """
    encoder = _Encoder(formula, context)
    if response is not None:
        encoder.install(response)
    encoded = encoder.encode(node) if node is not None else []
    offsets: list[Factor] = []
    offset_ids: set[int] = set()
    for i, sub in enumerate(encoder.nodes):
        if i == 0 and response is not None:
            continue
        if not isinstance(sub, Call) or not is_offset(sub):
            continue
        if context != "fixed":
            raise encoder.error(
                "offset() is only allowed in the fixed part of a model formula", sub
            )
        if len(sub.args) != 1 or sub.args[0].name not in (None, "object"):
            raise encoder.error("offset() takes exactly one expression, as in offset(log(n))", sub)
        offset_ids.add(i)
        offsets.append(make_factor(sub.args[0].value, formula))
    kept = []
    for bits in encoded:
        if bits & offset_ids:
            if len(bits) > 1:
                raise encoder.error(
                    "offset() cannot be part of an interaction; add it on its own",
                    encoder.nodes[min(bits & offset_ids)],
                )
            continue
        kept.append(bits)
    return ModelTerms(encoder.intercept, encoder.terms(kept)), tuple(offsets)


__all__ = ["encode_terms", "is_offset"]
