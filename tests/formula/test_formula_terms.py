"""R's term algebra (terms.formula): expansion, intercept handling and ordering."""

from __future__ import annotations

import pytest

from multilevel.errors import FormulaError
from multilevel.formula import parse_formula, parse_terms


@pytest.mark.parametrize(
    ("rhs", "expected"),
    [
        ("a + b", ("a", "b")),
        ("a:b + a", ("a", "a:b")),
        ("a*b", ("a", "b", "a:b")),
        ("a*b*c", ("a", "b", "c", "a:b", "a:c", "b:c", "a:b:c")),
        ("a*b - a:b", ("a", "b")),
        ("(a + b + c)^2 - b:c", ("a", "b", "c", "a:b", "a:c")),
        ("(a + b)^3", ("a", "b", "a:b")),
        ("a/b", ("a", "a:b")),
        ("a/(b + c)", ("a", "a:b", "a:c")),
        ("a/b/c", ("a", "a:b", "a:b:c")),
        ("a %in% b", ("a:b",)),
        ("(a + b) %in% c", ("a:c", "b:c")),
        ("a:a", ("a",)),
        ("a + a + a:b + b:a", ("a", "a:b")),
        ("b:a + a", ("a", "b:a")),
        ("x*z", ("x", "z", "x:z")),
        ("a:(b + c)", ("a:b", "a:c")),
        ("(a + b):(c + d)", ("a:c", "a:d", "b:c", "b:d")),
        ("-a + b", ("b",)),
        ("a - b", ("a",)),
        ("poly(x, 2):g + g", ("g", "poly(x, 2):g")),
    ],
)
def test_expansion(rhs: str, expected: tuple[str, ...]) -> None:
    assert parse_terms(rhs).labels == expected
    assert parse_formula(f"~ {rhs}").fixed.labels == expected


def test_response_is_first_in_variable_order() -> None:
    # the response is numbered first, so it precedes b inside the interaction
    assert parse_formula("y ~ b:y").fixed.labels == ("y:b",)
    assert parse_formula("b ~ y:b").fixed.labels == ("b:y",)


def test_removed_variables_still_count_for_order() -> None:
    # R numbers 'a' at its first appearance, even in a removal
    assert parse_formula("y ~ b - a + a:b").fixed.labels == ("b", "b:a")


@pytest.mark.parametrize(
    ("rhs", "intercept"),
    [
        ("x", True),
        ("1 + x", True),
        ("0 + x", False),
        ("x + 0", False),
        ("x - 1", False),
        ("-1 + x", False),
        ("0 + 1 + x", True),
        ("x - 1 + 1", True),
        ("x - 0", True),
        ("x - (z - 1)", True),
        ("1", True),
        ("0", False),
        ("-1", False),
        ("1.0 + x", True),
        ("0L + x", False),
    ],
)
def test_intercept(rhs: str, intercept: bool) -> None:
    assert parse_terms(rhs).intercept is intercept


def test_parse_terms_accepts_leading_tilde_and_text() -> None:
    terms = parse_terms("~ 0 + x*z")
    assert terms.intercept is False
    assert terms.text == "0 + x + z + x:z"
    assert parse_terms("1").text == "1"
    assert parse_terms("0").text == "0"
    assert parse_terms("a + b:c").variables == ("a", "b", "c")


def test_term_properties() -> None:
    term = parse_terms("a:log(b)").terms[0]
    assert term.text == "a:log(b)"
    assert term.python == "a:np.log(b)"
    assert term.degree == 2
    assert [f.text for f in term.factors] == ["a", "log(b)"]


def test_function_arguments_are_arithmetic_not_terms() -> None:
    f = parse_formula("y ~ I(x - 1) + I(a*b) + log(x + 1)")
    assert f.fixed.intercept
    assert f.fixed.labels == ("I(x - 1)", "I(a * b)", "log(x + 1)")


def test_formula_level_non_algebra_operators_are_factors() -> None:
    f = parse_formula("y ~ x == 1 + z")
    assert f.fixed.labels == ("x == 1 + z",)


def test_offsets() -> None:
    f = parse_formula("y ~ x + offset(log(n)) + offset(w)")
    assert [o.text for o in f.offsets] == ["log(n)", "w"]
    assert f.fixed.labels == ("x",)
    assert f.variables == ("y", "x", "n", "w")
    assert parse_formula("y ~ offset(z)").fixed.labels == ()


def test_offset_in_interaction_is_an_error() -> None:
    with pytest.raises(FormulaError, match="interaction"):
        parse_formula("y ~ x:offset(z)")


def test_offset_outside_fixed_part_is_an_error() -> None:
    with pytest.raises(FormulaError, match="fixed part"):
        parse_formula("y ~ x + (offset(z) | g)")
    with pytest.raises(FormulaError, match="fixed part"):
        parse_terms("x + offset(z)")


def test_bars_removed_from_fixed_part_keep_intercept_rules() -> None:
    assert parse_formula("y ~ x + (1|g) - 1").fixed.text == "0 + x"
    assert parse_formula("y ~ 0 + (1|g)").fixed.text == "0"
    assert parse_formula("y ~ ((1|g) + x)").fixed.labels == ("x",)


def test_variables_exclude_unused_and_follow_text_order() -> None:
    f = parse_formula("y ~ a:b + c + (1 + d | g)")
    assert f.fixed.labels == ("c", "a:b")
    assert f.variables == ("y", "a", "b", "c", "d", "g")
    assert parse_formula("y ~ x + z - z").variables == ("y", "x")


def test_values_are_frozen_and_hashable() -> None:
    f = parse_formula("y ~ x + (1 | g)")
    assert hash(f) == hash(parse_formula("y ~ x + (1 | g)"))
    with pytest.raises(AttributeError):
        f.fixed.intercept = False  # type: ignore[misc]
