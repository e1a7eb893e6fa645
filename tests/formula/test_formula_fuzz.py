"""Random strings over the formula alphabet parse or raise FormulaError, nothing else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from multilevel.errors import FormulaError
from multilevel.formula import Factor, ParsedFormula, parse_expression, parse_formula, parse_terms
from multilevel.formula.terms import make_factor

PIECES = [
    "y", "x", "z", "g", "a", "b", "my.var", ".x", "`a b`", "log", "I", "poly", "offset",
    "factor", "cbind", "TRUE", "T", "if", "0", "1", "2", "2.5", "1e-3", "1e", "2L", "'s'", "\"",
    "~", "+", "-", "*", "/", ":", "^", "|", "||", "%in%", "%%", "%/%", "%", "(", ")", "(", ")",
    ",", "=", "==", "!=", "<", ">", "<=", ">=", "&", "!", "$", " ", " ", "`", "#", "::", "**",
]  # fmt: skip

formula_text = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
alphabet_text = st.text(alphabet="yxgab01~+-*/:^|%()[],=<>&!$ .`'\"\\eL_#\n", max_size=24)


def _all_factors(parsed: ParsedFormula) -> list[Factor]:
    factors = [f for t in parsed.fixed.terms for f in t.factors]
    factors += list(parsed.offsets)
    for rt in parsed.random:
        factors += [f for t in rt.effects.terms for f in t.factors]
        factors += list(rt.group)
    if parsed.response is not None:
        factors.append(parsed.response)
    return factors


def _check(text: str) -> None:
    try:
        parsed = parse_formula(text)
    except FormulaError as err:
        assert err.formula == text
        if err.position is not None:
            assert str(err).splitlines()[-1].strip() == "^"
    else:
        assert isinstance(parsed, ParsedFormula)
        assert all(term.factors for term in parsed.fixed.terms)
        assert all(rt.effects.intercept or rt.effects.terms for rt in parsed.random)
        assert set(parsed.variables) == {v for f in _all_factors(parsed) for v in f.variables}
        for factor in _all_factors(parsed):
            # R's deparse text reads back as the same expression
            again = make_factor(parse_expression(factor.text), factor.text)
            assert (again.text, again.variables) == (factor.text, factor.variables)
    try:
        parse_terms(text)
    except FormulaError:
        pass


@settings(max_examples=500, deadline=None)
@given(formula_text)
def test_token_soup(text: str) -> None:
    _check(text)


@settings(max_examples=500, deadline=None)
@given(alphabet_text)
def test_character_soup(text: str) -> None:
    _check(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["x", "z", "g", "1", "0"]), min_size=1, max_size=5),
    st.lists(st.sampled_from(["+", "*", ":", "-", "/"]), min_size=4, max_size=4),
)
def test_well_formed_formulas_parse(names: list[str], ops: list[str]) -> None:
    rhs = names[0]
    for name, op in zip(names[1:], ops, strict=False):
        rhs += f" {op} {name}"
    f = parse_formula(f"y ~ {rhs} + (1 | g)")
    assert f.random[0].name == "g"
    labels = f.fixed.labels
    assert len(labels) == len(set(labels))
    degrees = [t.degree for t in f.fixed.terms]
    assert degrees == sorted(degrees)
