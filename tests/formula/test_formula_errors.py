"""Every malformed formula raises FormulaError naming the problem, with a caret under it."""

from __future__ import annotations

import pytest

from multilevel.errors import FormulaError
from multilevel.formula import parse_formula, parse_terms


def error_for(text: str) -> FormulaError:
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    return info.value


def caret_column(err: FormulaError) -> int:
    """The column of the caret in the message (relative to the formula line)."""
    lines = str(err).splitlines()
    assert len(lines) >= 3, str(err)
    assert lines[-2] == "    " + (err.formula or "")
    assert lines[-1].strip() == "^"
    return len(lines[-1]) - 1 - 4


@pytest.mark.parametrize(
    ("text", "words", "position"),
    [
        ("y ~ log(x + (1 | g)", "'(' at position 7 is never closed", 7),
        ("y ~ (1 + x | g", "'(' at position 4 is never closed", 4),
        ("y ~ x)", "')' at position 5 has no matching '('", 5),
        ("", "empty formula", 0),
        ("   ", "empty formula", 0),
        ("y ~ x +", "missing its right operand", 6),
        ("y ~ x *", "missing its right operand", 6),
        ("y ~", "nothing after '~'", 2),
        ("y ~ x ~ z", "more than one '~'", 6),
        ("y + x", "no '~'", 0),
        ("y ~ x + 1 | g", "outside parentheses", 10),
        ("y ~ (1|)", "nothing on its right", 6),
        ("y ~ (|g)", "nothing on its left", 5),
        ("y ~ (1 | (1 | g))", "nested random-effects bar", 12),
        ("y ~ ((1 | g) | h)", "nested random-effects bar", 8),
        ("y ~ x # z", "unexpected character '#'", 6),
        ("y ~ x + [z]", "unexpected character '['", 8),
        ("y ~ log(x, )", "missing argument", 11),
        ("y ~ log(, x)", "missing argument", 8),
        ("y ~ poly(x 2)", "expected ',' or ')'", 11),
        ("y ~ x z", "operator (such as '+') is missing", 6),
        ("y ~ x + 2", "number 2 cannot be a model term", 8),
        ("y ~ x^z", "invalid power", 5),
        ("y ~ (a + b)^1", "at least 2", 11),
        ("y ~ x * (1 | g)", "misplaced random-effects bar", 11),
        ("y ~ I(a | b)", "inside the expression", 8),
        ("y ~ (0 | g)", "has no effects", 7),
        ("y ~ (1 | a + b)", "invalid grouping factor", 11),
        ("y ~ (1 | a/(b/c))", "unparseable grouping factor", 13),
        ("y ~ 'x'", "cannot be a model term", 4),
        ("y ~ .", "not supported", 4),
        ("y ~ if", "keyword 'if'", 4),
        ("y ~ x = z", "only allowed for named arguments", 6),
        ("y ~ `x", "unterminated backquoted name", 4),
        ("y ~ x %in z", "unterminated operator", 6),
        ("y ~ 1e", "malformed number", 4),
        ("y ~ a < b < c", "cannot be chained", 10),
        ("y ~ ()", "empty parentheses", 4),
        ("y ~ x + * z", "missing its right operand", 6),
        ("~", "nothing after '~'", 0),
        ("y ~ stats::poly(x, 2)", "package-qualified", 9),
        ("y ~ x:offset(z)", "interaction", 6),
        ("y ~ offset(a, b)", "exactly one", 4),
    ],
)
def test_error(text: str, words: str, position: int) -> None:
    err = error_for(text)
    assert words in str(err)
    assert err.formula == text
    assert err.position == position
    assert caret_column(err) == position


def test_error_message_shows_formula_and_caret() -> None:
    err = error_for("y ~ (1 + x | g")
    assert str(err) == (
        "unbalanced parenthesis: '(' at position 4 is never closed\n    y ~ (1 + x | g\n        ^"
    )


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_formula("y ~")


def test_parse_terms_errors() -> None:
    with pytest.raises(FormulaError, match="response"):
        parse_terms("y ~ x")
    with pytest.raises(FormulaError, match="not allowed here"):
        parse_terms("x + (1 | g)")
    with pytest.raises(FormulaError, match="empty formula"):
        parse_terms("")


def test_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_formula(42)  # type: ignore[arg-type]
