"""Recursive-descent parser from formula tokens to an expression tree.

The grammar follows R's operator precedence (from lowest to highest binding)::

    ~                   (formula; only at the top)
    |  ||               (random-effects bars; logical or elsewhere)
    &  &&
    !                   (unary)
    == != < > <= >=     (non-associative)
    +  -                (binary)
    *  /
    %in%  %any%
    :
    -  +                (unary)
    ^                   (right-associative; R also reads ** as ^)
    $
    f(args)  (expr)  names  numbers  strings

so that ``-a:b`` is ``(-a):b``, ``-x^2`` is ``-(x^2)`` and ``1 + x | g`` is ``(1 + x) | g``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from multilevel.errors import FormulaError
from multilevel.formula.ast import (
    CONSTANTS,
    KEYWORDS,
    Arg,
    Binary,
    Call,
    Constant,
    FormulaTree,
    Name,
    Node,
    Number,
    Paren,
    String,
    Unary,
)
from multilevel.formula.tokens import Kind, Token, tokenize

_COMPARISONS = frozenset({"==", "!=", "<", ">", "<=", ">="})
_PREFIX = frozenset({"-", "+", "!"})


def parse_tree(text: str) -> FormulaTree:
    """Parse a whole formula ``lhs ~ rhs`` (or one-sided ``~ rhs``).

    Parameters
    ----------
    text
        The formula text.

    Returns
    -------
    FormulaTree
        The response and right-hand side expressions.

    Raises
    ------
    FormulaError
        If the text is empty, has no ``~`` or more than one, has unbalanced parentheses, an
        operator without an operand, or any other syntax error.
    """
    parser = _Parser(text)
    return parser.formula()


def parse_expression(text: str) -> Node:
    """Parse a one-sided right-hand side such as ``"1 + x*z"``; a leading ``~`` is allowed.

    Raises
    ------
    FormulaError
        On a syntax error, or if the text has a response (``y ~ x``).
    """
    parser = _Parser(text)
    tree = parser.formula(require_tilde=False)
    if tree.lhs is not None:
        raise FormulaError(
            "expected only a right-hand side, but this formula has a response before '~'",
            formula=text,
            position=tree.tilde,
        )
    return tree.rhs


class _Parser:
    """State of one parse: the tokens and the index of the next one."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self._check_parentheses()

    # -- helpers ------------------------------------------------------------------------------

    def error(self, message: str, position: int) -> FormulaError:
        return FormulaError(message, formula=self.text, position=position)

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        token = self.tokens[self.i]
        if token.kind is not Kind.END:
            self.i += 1
        return token

    def at_op(self, *ops: str) -> bool:
        token = self.peek()
        return token.kind is Kind.OP and token.value in ops

    def _check_parentheses(self) -> None:
        """Report unbalanced parentheses before parsing, pointing at the unmatched one."""
        stack: list[Token] = []
        for token in self.tokens:
            if token.kind is not Kind.OP:
                continue
            if token.value == "(":
                stack.append(token)
            elif token.value == ")":
                if not stack:
                    raise self.error(
                        f"unbalanced parenthesis: ')' at position {token.pos} has no matching '('",
                        token.pos,
                    )
                stack.pop()
        if stack:
            token = stack[-1]
            raise self.error(
                f"unbalanced parenthesis: '(' at position {token.pos} is never closed", token.pos
            )

    def _starts_operand(self, token: Token) -> bool:
        if token.kind in (Kind.NAME, Kind.NUMBER, Kind.STRING):
            return True
        return token.kind is Kind.OP and (token.value == "(" or token.value in _PREFIX)

    def operand_after(self, op: Token) -> None:
        """Raise if the token after operator ``op`` cannot start its right operand."""
        token = self.peek()
        if self._starts_operand(token):
            return
        if op.value in ("|", "||"):
            raise self.error(
                f"random-effects bar '{op.value}' at position {op.pos} has nothing on its right: "
                "it needs a grouping factor, as in (1 | group)",
                op.pos,
            )
        if op.value == "~":
            raise self.error(
                "the formula has nothing after '~': the right-hand side is empty", op.pos
            )
        if token.kind is Kind.END:
            raise self.error(
                f"the formula ends with operator '{op.value}', which is missing its right operand",
                op.pos,
            )
        raise self.error(
            f"operator '{op.value}' at position {op.pos} is missing its right operand "
            f"(found {token.describe()} instead)",
            op.pos,
        )

    # -- grammar ------------------------------------------------------------------------------

    def formula(self, require_tilde: bool = True) -> FormulaTree:
        first = self.peek()
        if first.kind is Kind.END:
            raise self.error("empty formula: expected something like 'y ~ x'", 0)
        lhs: Node | None = None
        if not (first.kind is Kind.OP and first.value == "~"):
            lhs = self.expression()
            if not self.at_op("~"):
                if self.peek().kind is Kind.END:
                    if not require_tilde:
                        return FormulaTree(None, lhs, -1)
                    raise self.error(
                        "the formula has no '~': write it as 'response ~ terms' (or '~ terms')",
                        0,
                    )
                self.unexpected()
        tilde = self.next()
        self.operand_after(tilde)
        rhs = self.expression()
        if self.at_op("~"):
            second = self.peek()
            raise self.error(
                f"the formula has more than one '~' (the second is at position {second.pos})",
                second.pos,
            )
        if self.peek().kind is not Kind.END:
            self.unexpected()
        return FormulaTree(lhs, rhs, tilde.pos)

    def unexpected(self, closing: Token | None = None) -> NoReturn:
        """Raise for a token that cannot follow a complete expression."""
        token = self.peek()
        where = f" at position {token.pos}"
        if token.kind in (Kind.NAME, Kind.NUMBER, Kind.STRING) or (
            token.kind is Kind.OP and token.value == "("
        ):
            message = (
                f"unexpected {token.describe()}{where}: an operator (such as '+') is missing "
                "before it"
            )
        elif token.kind is Kind.OP and token.value == "=":
            message = (
                f"unexpected '='{where}: '=' is only allowed for named arguments inside a "
                "function call, as in poly(x, degree = 2); use '==' to compare"
            )
        elif token.kind is Kind.OP and token.value == "<-":
            message = f"unexpected assignment '<-'{where}: assignments are not allowed in formulas"
        elif token.kind is Kind.OP and token.value == "::":
            message = (
                f"unexpected '::'{where}: package-qualified names (pkg::f) are not supported; "
                "use the function name alone"
            )
        elif token.kind is Kind.OP and token.value == ",":
            message = f"unexpected ','{where}: commas only separate arguments of a function call"
        else:
            message = f"unexpected {token.describe()}{where}"
        if closing is not None:
            message += f"; expected ')' to close the '(' at position {closing.pos}"
        raise self.error(message, token.pos)

    def expression(self) -> Node:
        return self._or()

    def _binary_left(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        left = operand()
        while self.at_op(*ops):
            op = self.next()
            self.operand_after(op)
            right = operand()
            left = Binary(op.value, left, right, op.pos)
        return left

    def _or(self) -> Node:
        return self._binary_left(("|", "||"), self._and)

    def _and(self) -> Node:
        return self._binary_left(("&", "&&"), self._not)

    def _not(self) -> Node:
        if self.at_op("!"):
            op = self.next()
            self.operand_after(op)
            return Unary("!", self._not(), op.pos)
        return self._comparison()

    def _comparison(self) -> Node:
        left = self._sum()
        if self.at_op(*_COMPARISONS):
            op = self.next()
            self.operand_after(op)
            left = Binary(op.value, left, self._sum(), op.pos)
            if self.at_op(*_COMPARISONS):
                token = self.peek()
                raise self.error(
                    f"comparisons cannot be chained: '{token.value}' at position {token.pos} "
                    "follows another comparison; add parentheses",
                    token.pos,
                )
        return left

    def _sum(self) -> Node:
        return self._binary_left(("+", "-"), self._product)

    def _product(self) -> Node:
        return self._binary_left(("*", "/"), self._special)

    def _special(self) -> Node:
        left = self._colon()
        while self.peek().kind is Kind.OP and self.peek().value.startswith("%"):
            op = self.next()
            self.operand_after(op)
            left = Binary(op.value, left, self._colon(), op.pos)
        return left

    def _colon(self) -> Node:
        return self._binary_left((":",), self._unary)

    def _unary(self) -> Node:
        if self.at_op("-", "+"):
            op = self.next()
            self.operand_after(op)
            return Unary(op.value, self._unary(), op.pos)
        return self._power()

    def _power(self) -> Node:
        base = self._postfix()
        if self.at_op("^"):
            op = self.next()
            self.operand_after(op)
            # Right-associative, and the exponent may carry a sign: a^-b, a^b^c = a^(b^c).
            return Binary("^", base, self._unary(), op.pos)
        return base

    def _postfix(self) -> Node:
        node = self._primary()
        while True:
            if self.at_op("$"):
                op = self.next()
                member = self.peek()
                if member.kind not in (Kind.NAME, Kind.STRING):
                    raise self.error(f"'$' at position {op.pos} must be followed by a name", op.pos)
                self.next()
                node = Binary("$", node, Name(member.value, member.pos, member.quoted), op.pos)
            elif self.at_op("("):
                paren = self.peek()
                if not isinstance(node, Name):
                    raise self.error(
                        f"'(' at position {paren.pos} follows an expression that is not a "
                        "function name; an operator may be missing before it",
                        paren.pos,
                    )
                node = self._call(node)
            else:
                return node

    def _call(self, func: Name) -> Call:
        opening = self.next()
        args: list[Arg] = []
        if self.at_op(")"):
            self.next()
            return Call(func.name, (), func.pos, func.quoted)
        while True:
            token = self.peek()
            if token.kind is Kind.OP and token.value in (",", ")"):
                raise self.error(
                    f"missing argument in the call to '{func.name}': nothing before the "
                    f"'{token.value}' at position {token.pos}",
                    token.pos,
                )
            name: str | None = None
            after = self.tokens[self.i + 1]
            if (
                token.kind in (Kind.NAME, Kind.STRING)
                and after.kind is Kind.OP
                and after.value == "="
            ):
                name = token.value
                self.next()
                equals = self.next()
                self.operand_after(equals)
            args.append(Arg(self.expression(), name))
            if self.at_op(","):
                self.next()
                continue
            if self.at_op(")"):
                self.next()
                return Call(func.name, tuple(args), func.pos, func.quoted)
            token = self.peek()
            raise self.error(
                f"expected ',' or ')' after argument {len(args)} in the call to '{func.name}' "
                f"(opened at position {opening.pos}), found {token.describe()}",
                token.pos,
            )

    def _primary(self) -> Node:
        token = self.peek()
        if token.kind is Kind.NAME:
            self.next()
            if not token.quoted and token.value in KEYWORDS:
                raise self.error(
                    f"R keyword '{token.value}' at position {token.pos} cannot be used in a "
                    "formula",
                    token.pos,
                )
            if not token.quoted and token.value in CONSTANTS:
                return Constant(token.value, token.pos)
            return Name(token.value, token.pos, token.quoted)
        if token.kind is Kind.NUMBER:
            self.next()
            return Number(token.value, token.pos)
        if token.kind is Kind.STRING:
            self.next()
            return String(token.value, token.pos)
        if token.kind is Kind.OP and token.value == "(":
            self.next()
            if self.at_op(")"):
                raise self.error(f"empty parentheses '()' at position {token.pos}", token.pos)
            inner = self.expression()
            if not self.at_op(")"):
                self.unexpected(closing=token)
            self.next()
            return Paren(inner, token.pos)
        if token.kind is Kind.OP and token.value in ("|", "||"):
            raise self.error(
                f"random-effects bar '{token.value}' at position {token.pos} has nothing on "
                "its left: write the effects before it, as in (1 | group)",
                token.pos,
            )
        if token.kind is Kind.OP and token.value == "~":
            raise self.error(
                f"unexpected '~' at position {token.pos}: a formula has exactly one '~'",
                token.pos,
            )
        if token.kind is Kind.OP and token.value not in ("(", ")", ",", "="):
            raise self.error(
                f"operator '{token.value}' at position {token.pos} is missing its left operand",
                token.pos,
            )
        self.unexpected()


__all__ = ["parse_expression", "parse_tree"]
