"""R deparse text and Python translations of factors."""

from __future__ import annotations

import pytest

from multilevel.formula import Factor, parse_expression, parse_formula
from multilevel.formula.render import deparse, r_number, to_python
from multilevel.formula.terms import make_factor


def factor(expr: str) -> Factor:
    return make_factor(parse_expression(expr), expr)


@pytest.mark.parametrize(
    ("written", "text"),
    [
        ("I(x ^2)", "I(x^2)"),
        ("I(x^2)", "I(x^2)"),
        ("log( z )", "log(z)"),
        ("poly(x,2)", "poly(x, 2)"),
        ("poly(x,degree=2)", "poly(x, degree = 2)"),
        ("cbind(incidence,size-incidence)", "cbind(incidence, size - incidence)"),
        ("I((x+1)^2)", "I((x + 1)^2)"),
        ("I(-x)", "I(-x)"),
        ("I(x/2)", "I(x/2)"),
        ("I(a*b)", "I(a * b)"),
        ("I(x %% 2)", "I(x%%2)"),
        ("I(x %/% 2)", "I(x%/%2)"),
        ("I(x %in% y)", "I(x %in% y)"),
        ("I(a==b & !c)", "I(a == b & !c)"),
        ("I(x**2)", "I(x^2)"),
        ("f('a')", 'f("a")'),
        ("`a b`", "`a b`"),
        ("`x`", "x"),
        ("log(`my var`)", "log(`my var`)"),
        ("my.var", "my.var"),
        ("scale(x, center = TRUE)", "scale(x, center = TRUE)"),
        ("I(1e-3 * x)", "I(0.001 * x)"),
        ("I(100000 * x)", "I(1e+05 * x)"),
        ("I(2.50 * x)", "I(2.5 * x)"),
        ("I(2L * x)", "I(2L * x)"),
        ("I(a$b)", "I(a$b)"),
    ],
)
def test_text_is_r_deparse(written: str, text: str) -> None:
    assert factor(written).text == text


@pytest.mark.parametrize(
    ("literal", "text"),
    [
        ("1", "1"),
        ("2.5", "2.5"),
        ("1e-3", "0.001"),
        ("1e-4", "1e-04"),
        ("0.0001", "1e-04"),
        ("100000", "1e+05"),
        ("123456", "123456"),
        ("1e5", "1e+05"),
        ("0.1", "0.1"),
        ("1.5e-8", "1.5e-08"),
        ("0x10", "16"),
        ("10L", "10L"),
        ("0.333333333333333333", "0.333333333333333"),
        (".5", "0.5"),
    ],
)
def test_r_number(literal: str, text: str) -> None:
    assert r_number(literal) == text


@pytest.mark.parametrize(
    ("written", "python"),
    [
        ("I(x^2)", "I(x**2)"),
        ("I(x ^ -1)", "I(x**-1)"),
        ("I(-x^2)", "I(-x**2)"),
        ("log(x)", "np.log(x)"),
        ("log10(x)", "np.log10(x)"),
        ("log2(x)", "np.log2(x)"),
        ("exp(x)", "np.exp(x)"),
        ("sqrt(x)", "np.sqrt(x)"),
        ("abs(x)", "np.abs(x)"),
        ("sin(x)", "np.sin(x)"),
        ("cos(x)", "np.cos(x)"),
        ("tan(x)", "np.tan(x)"),
        ("factor(x)", "C(x)"),
        ("as.numeric(x)", "np.asarray(x, dtype=float)"),
        ("poly(x, 2)", "poly(x, 2)"),
        ("poly(x, degree = 2, raw = TRUE)", "poly(x, degree=2, raw=True)"),
        ("poly(x, 2, raw = T)", "poly(x, 2, raw=True)"),
        ("scale(x)", "scale(x)"),
        ("center(x)", "center(x)"),
        ("C(x)", "C(x)"),
        ("I(x %% 2)", "I(x % 2)"),
        ("I(x %/% 2)", "I(x // 2)"),
        ("I(a * b %% c)", "I(a * (b % c))"),
        ("I(a == 1 & b == 2)", "I((a == 1) & (b == 2))"),
        ("I(!a)", "I(~a)"),
        ("my.var", "`my.var`"),
        ("`a b`", "`a b`"),
        ("log(my.var + 1)", "np.log(`my.var` + 1)"),
        ("log(x, 2)", "(np.log(x) / np.log(2))"),
        ("I((x + 1)^2)", "I((x + 1)**2)"),
        ("I(x %in% c('a', 'b'))", 'I(np.isin(x, ["a", "b"]))'),
        ("I(1e-3 * x)", "I(1e-3 * x)"),
        ("I(2L * x)", "I(2 * x)"),
        ("I(x + 007)", "I(x + 7)"),
    ],
)
def test_python(written: str, python: str) -> None:
    assert factor(written).python == python


@pytest.mark.parametrize(
    ("written", "variables"),
    [
        ("cbind(incidence, size - incidence)", ("incidence", "size")),
        ("poly(x, degree = 2)", ("x",)),
        ("poly(x, 2, raw = T)", ("x",)),
        ("I(b * a + b)", ("b", "a")),
        ("log(`a b`)", ("a b",)),
        ("I(x > TRUE)", ("x",)),
        ("d$col", ("d",)),
        ("f('s')", ()),
    ],
)
def test_variables(written: str, variables: tuple[str, ...]) -> None:
    assert factor(written).variables == variables


def test_python_is_valid_python_syntax() -> None:
    import ast

    for expr in ["I(x^2)", "log(x + 1)", "poly(x, 2, raw = TRUE)", "I(a * b %% c - -d)"]:
        ast.parse(factor(expr).python, mode="eval")


def test_python_evaluates_like_r() -> None:
    import numpy as np

    env = {"np": np, "I": lambda v: v, "a": 7.0, "b": 5.0, "c": 3.0, "x": 2.0}
    # R: a * b %% c = 7 * (5 %% 3) = 14; -x^2 = -4; 2^3^2 = 512; a %/% c = 2
    assert eval(factor("I(a * b %% c)").python, env) == 14.0
    assert eval(factor("I(-x^2)").python, env) == -4.0
    assert eval(factor("I(x^3^2)").python, env) == 512.0
    assert eval(factor("I(a %/% c)").python, env) == 2.0
    assert eval(factor("I(a - b - c)").python, env) == -1.0


def test_response_translation() -> None:
    f = parse_formula("log(y) ~ x")
    assert f.response == Factor("log(y)", "np.log(y)", ("y",))


def test_deparse_and_to_python_on_trees() -> None:
    node = parse_expression("I(x ^2) + poly(x,2)")
    assert deparse(node) == "I(x^2) + poly(x, 2)"
    assert to_python(node) == "I(x**2) + poly(x, 2)"
