"""lme4-style formulas parse to R's exact terms, names and order."""

from __future__ import annotations

import pytest

from multilevel.formula import Factor, ModelTerms, ParsedFormula, RandomTerm, Term, parse_formula


def labels(f: ParsedFormula) -> tuple[str, ...]:
    return f.fixed.labels


def bars(f: ParsedFormula) -> list[str]:
    return [r.text for r in f.random]


def test_sleepstudy_correlated() -> None:
    f = parse_formula("Reaction ~ 1 + Days + (1 + Days|Subject)")
    assert f.text == "Reaction ~ 1 + Days + (1 + Days|Subject)"
    assert f.response == Factor("Reaction", "Reaction", ("Reaction",))
    assert f.fixed == ModelTerms(True, (Term((Factor("Days", "Days", ("Days",)),)),))
    assert f.offsets == ()
    (r,) = f.random
    assert r.correlated
    assert r.effects.intercept
    assert r.effects.labels == ("Days",)
    assert r.group == (Factor("Subject", "Subject", ("Subject",)),)
    assert r.name == "Subject"
    assert r.text == "1 + Days | Subject"
    assert f.variables == ("Reaction", "Days", "Subject")


def test_sleepstudy_uncorrelated() -> None:
    f = parse_formula("Reaction ~ Days + (Days||Subject)")
    assert labels(f) == ("Days",)
    assert f.fixed.intercept
    assert bars(f) == ["1 | Subject", "0 + Days | Subject"]
    assert [r.correlated for r in f.random] == [False, False]
    assert f.random[0].effects == ModelTerms(True, ())
    assert f.random[1].effects.intercept is False
    assert f.random[1].effects.labels == ("Days",)


def test_pastes_nested() -> None:
    f = parse_formula("strength ~ 1 + (1|batch/cask)")
    assert labels(f) == ()
    assert f.fixed.intercept
    assert [r.name for r in f.random] == ["cask:batch", "batch"]
    assert [tuple(g.text for g in r.group) for r in f.random] == [("cask", "batch"), ("batch",)]
    assert bars(f) == ["1 | cask:batch", "1 | batch"]
    assert all(r.correlated for r in f.random)
    assert f.variables == ("strength", "batch", "cask")


def test_penicillin_crossed() -> None:
    f = parse_formula("diameter ~ 1 + (1|plate) + (1|sample)")
    assert labels(f) == ()
    assert [r.name for r in f.random] == ["plate", "sample"]
    assert bars(f) == ["1 | plate", "1 | sample"]


def test_hsb_interaction_order() -> None:
    f = parse_formula("mAch ~ meanses*cses + sector*cses + (1 + cses|school)")
    assert labels(f) == ("meanses", "cses", "sector", "meanses:cses", "cses:sector")
    assert bars(f) == ["1 + cses | school"]
    assert f.variables == ("mAch", "meanses", "cses", "sector", "school")


def test_insteval() -> None:
    f = parse_formula("y ~ 1 + service*dept + (1|s) + (1|d)")
    assert labels(f) == ("service", "dept", "service:dept")
    assert [r.name for r in f.random] == ["s", "d"]


def test_cbpp_binomial_response() -> None:
    f = parse_formula("cbind(incidence, size - incidence) ~ period + (1|herd)")
    assert f.response is not None
    assert f.response.text == "cbind(incidence, size - incidence)"
    assert f.response.python == "cbind(incidence, size - incidence)"
    assert f.response.variables == ("incidence", "size")
    assert labels(f) == ("period",)
    assert bars(f) == ["1 | herd"]
    assert f.variables == ("incidence", "size", "period", "herd")


def test_verbagg() -> None:
    f = parse_formula("r2 ~ Anger + Gender + btype + situ + (1|id) + (1|item)")
    assert labels(f) == ("Anger", "Gender", "btype", "situ")
    assert [r.name for r in f.random] == ["id", "item"]


@pytest.mark.parametrize("text", ["y ~ 0 + x", "y ~ x - 1", "y ~ -1 + x", "y ~ x + 0"])
def test_no_intercept(text: str) -> None:
    f = parse_formula(text)
    assert f.fixed.intercept is False
    assert labels(f) == ("x",)
    assert f.fixed.text == "0 + x"


def test_power() -> None:
    f = parse_formula("y ~ (a+b+c)^2")
    assert labels(f) == ("a", "b", "c", "a:b", "a:c", "b:c")


def test_nesting_slash() -> None:
    assert labels(parse_formula("y ~ a/b")) == ("a", "a:b")
    assert labels(parse_formula("y ~ (a + b)/c")) == ("a", "b", "a:b:c")


def test_functions_and_offset() -> None:
    f = parse_formula("y ~ I(x^2) + log(x) + poly(x, 2) + scale(x) + offset(log(z))")
    assert labels(f) == ("I(x^2)", "log(x)", "poly(x, 2)", "scale(x)")
    assert [fa.python for t in f.fixed.terms for fa in t.factors] == [
        "I(x**2)",
        "np.log(x)",
        "poly(x, 2)",
        "scale(x)",
    ]
    assert f.offsets == (Factor("log(z)", "np.log(z)", ("z",)),)
    assert f.variables == ("y", "x", "z")


def test_slope_without_intercept_and_interaction_group() -> None:
    f = parse_formula("y ~ x + (0 + x | g) + (1 | a:b)")
    assert labels(f) == ("x",)
    first, second = f.random
    assert first.text == "0 + x | g"
    assert first.effects == ModelTerms(False, (Term((Factor("x", "x", ("x",)),)),))
    assert second.name == "a:b"
    assert [g.text for g in second.group] == ["a", "b"]
    assert f.variables == ("y", "x", "g", "a", "b")


def test_three_level_nesting() -> None:
    f = parse_formula("y ~ x + (1|a/b/c)")
    groups = [tuple(g.text for g in r.group) for r in f.random]
    assert groups == [("c", "b", "a"), ("b", "a"), ("a",)]
    # lme4 deparses the constructed interaction c:(b:a) with parentheses.
    assert [r.name for r in f.random] == ["c:(b:a)", "b:a", "a"]
    assert f.variables == ("y", "x", "a", "b", "c")


def test_double_bar_with_nesting() -> None:
    f = parse_formula("y ~ (1 + x || a/b)")
    assert bars(f) == ["1 | b:a", "1 | a", "0 + x | b:a", "0 + x | a"]
    assert not any(r.correlated for r in f.random)


def test_double_bar_without_intercept() -> None:
    f = parse_formula("y ~ (0 + x + z || g)")
    assert bars(f) == ["0 + x | g", "0 + z | g"]


def test_bar_left_side_uses_term_algebra() -> None:
    f = parse_formula("y ~ (x*z | g)")
    assert f.random[0].effects.labels == ("x", "z", "x:z")
    assert f.random[0].effects.intercept
    assert parse_formula("y ~ (x | g)").random[0].text == "1 + x | g"
    assert parse_formula("y ~ (x - 1 | g)").random[0].text == "0 + x | g"
    # the order of factors inside a bar follows the bar's own left side
    assert parse_formula("y ~ b + (a:b | g)").random[0].effects.labels == ("a:b",)


def test_random_effect_types() -> None:
    f = parse_formula("y ~ (1 | g)")
    assert isinstance(f.random[0], RandomTerm)
    assert f.fixed == ModelTerms(True, ())
    assert str(f.random[0]) == "(1 | g)"


def test_one_sided_formula() -> None:
    f = parse_formula("~ x + (1 | g)")
    assert f.response is None
    assert labels(f) == ("x",)
    assert f.variables == ("x", "g")
