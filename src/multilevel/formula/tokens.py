"""Tokenizer for R model formulas.

Splits formula text into :class:`Token` values the way R's lexer does for the subset of R that
appears in model formulas: names (plain and backquoted), numbers, strings and operators. Every
token records its zero-based offset in the text so later stages can point at it in errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from multilevel.errors import FormulaError


class Kind(Enum):
    """The kind of a :class:`Token`."""

    NAME = "name"
    """An identifier, possibly backquoted (``quoted`` is then true)."""
    NUMBER = "number"
    """A numeric literal such as ``1``, ``2.5``, ``1e-3`` or ``2L``."""
    STRING = "string"
    """A quoted string; ``value`` holds the decoded characters."""
    OP = "operator"
    """An operator or punctuation mark; ``value`` is its canonical spelling."""
    END = "end"
    """The end of the text."""


@dataclass(frozen=True)
class Token:
    """One lexical token of a formula.

    Attributes
    ----------
    kind
        What the token is.
    value
        The name (without backquotes), the number literal, the decoded string, or the operator.
    pos
        Zero-based offset of the token's first character in the formula text.
    end
        Offset just past the token's last character.
    quoted
        True for a backquoted name.
    """

    kind: Kind
    value: str
    pos: int
    end: int
    quoted: bool = False

    def describe(self) -> str:
        """Describe the token for an error message, e.g. ``"operator '+'"``."""
        if self.kind is Kind.END:
            return "the end of the formula"
        if self.kind is Kind.NAME:
            return f"name '{self.value}'"
        if self.kind is Kind.NUMBER:
            return f"number {self.value}"
        if self.kind is Kind.STRING:
            return f'string "{self.value}"'
        if self.value in ("(", ")", ","):
            return f"'{self.value}'"
        return f"operator '{self.value}'"


# Longest first, so that "||" wins over "|", "<=" over "<", and so on.
_OPERATORS: tuple[str, ...] = (
    "::",
    "**",
    "||",
    "&&",
    "==",
    "!=",
    "<=",
    ">=",
    "<-",
    "~",
    "+",
    "-",
    "*",
    "/",
    ":",
    "^",
    "|",
    "&",
    "!",
    "<",
    ">",
    "=",
    "(",
    ")",
    ",",
    "$",
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'", "`": "`"}


def _is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch == "."


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "._"


def tokenize(text: str) -> list[Token]:
    """Split formula text into tokens.

    Parameters
    ----------
    text
        The formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.

    Returns
    -------
    list of Token
        The tokens in order, ending with one token of kind :attr:`Kind.END`.

    Raises
    ------
    FormulaError
        For a character that cannot start a token, an unterminated string, backquoted name or
        ``%op%``, or a malformed number.
    """
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            tokens.append(_number(text, i))
            i = tokens[-1].end
        elif _is_name_start(ch):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            tokens.append(Token(Kind.NAME, text[i:j], i, j))
            i = j
        elif ch in "`'\"":
            tokens.append(_quoted(text, i))
            i = tokens[-1].end
        elif ch == "%":
            j = text.find("%", i + 1)
            newline = text.find("\n", i + 1)
            if j < 0 or (0 <= newline < j):
                raise FormulaError(
                    "unterminated operator: this '%' starts an operator such as %in% that is "
                    "never closed",
                    formula=text,
                    position=i,
                )
            tokens.append(Token(Kind.OP, text[i : j + 1], i, j + 1))
            i = j + 1
        else:
            for op in _OPERATORS:
                if text.startswith(op, i):
                    # R's lexer reads "**" as "^".
                    tokens.append(Token(Kind.OP, "^" if op == "**" else op, i, i + len(op)))
                    i += len(op)
                    break
            else:
                raise FormulaError(
                    f"unexpected character {ch!r} at position {i}: it has no meaning in a formula",
                    formula=text,
                    position=i,
                )
    tokens.append(Token(Kind.END, "", n, n))
    return tokens


def _number(text: str, start: int) -> Token:
    """Read a numeric literal starting at ``start``."""
    n = len(text)
    i = start
    if text.startswith(("0x", "0X"), i):
        i += 2
        j = i
        while j < n and text[j] in "0123456789abcdefABCDEF":
            j += 1
        if j == i:
            raise FormulaError("malformed hexadecimal number", formula=text, position=start)
        i = j
    else:
        while i < n and text[i].isdigit():
            i += 1
        if i < n and text[i] == ".":
            i += 1
            while i < n and text[i].isdigit():
                i += 1
        if i < n and text[i] in "eE":
            j = i + 1
            if j < n and text[j] in "+-":
                j += 1
            if j >= n or not text[j].isdigit():
                raise FormulaError(
                    "malformed number: the exponent after 'e' has no digits",
                    formula=text,
                    position=start,
                )
            while j < n and text[j].isdigit():
                j += 1
            i = j
    if i < n and text[i] == "L":
        i += 1
    return Token(Kind.NUMBER, text[start:i], start, i)


def _quoted(text: str, start: int) -> Token:
    """Read a string or backquoted name starting at the quote at ``start``."""
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    n = len(text)
    while i < n and text[i] != quote:
        if text[i] == "\\" and i + 1 < n:
            chars.append(_ESCAPES.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            chars.append(text[i])
            i += 1
    what = "backquoted name" if quote == "`" else "string"
    if i >= n:
        raise FormulaError(
            f"unterminated {what}: the {quote} at position {start} is never closed",
            formula=text,
            position=start,
        )
    value = "".join(chars)
    if quote == "`":
        if not value:
            raise FormulaError("empty backquoted name ``", formula=text, position=start)
        return Token(Kind.NAME, value, start, i + 1, quoted=True)
    return Token(Kind.STRING, value, start, i + 1)


__all__ = ["Kind", "Token", "tokenize"]
