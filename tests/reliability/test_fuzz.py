"""The parser, the design and ``ml.fit`` fuzzed with hypothesis-generated formulas over a small
data frame: every call returns a result or raises a ``MultilevelError`` subclass, never another
exception.

Formulas are drawn from a grammar of the pieces lme4 users write (transformations, interactions,
nesting, ``||``, misspellings, unknown columns, columns of every type in every role) and from a
soup of formula tokens. The fit fuzz caps the optimizer's evaluations: it checks what the
library raises, not how well it converges.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import multilevel as ml
from multilevel.design import Design, build_design
from multilevel.errors import MultilevelError
from multilevel.formula import parse_formula
from multilevel.glmm.result import GLMMResult
from multilevel.result import LMMResult


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 24
    return pd.DataFrame(
        {
            "y": rng.normal(size=n) + np.repeat(rng.normal(size=6), 4),
            "x": rng.normal(size=n),
            "z": rng.uniform(1.0, 2.0, size=n),
            "g": pd.Categorical(np.repeat(list("abcdef"), 4)),
            "h": np.tile(["p", "q", "r"], 8),
            "k": np.tile([1, 2], 12),
            "b": np.tile([True, False, False], 8),
            "c": rng.poisson(2.0, size=n).astype(float),
            "p": rng.uniform(size=n),
            "m": np.r_[np.nan, rng.normal(size=n - 1)],
            "s": np.repeat(["u", "v", "w", "t"], 6),
        }
    )


FRAME = _frame()

FIXED = [
    "x", "z", "g", "h", "k", "b", "c", "p", "y", "m", "s", "1", "0", "-1", "nope", "log(z)",
    "log(x)", "I(x^2)", "poly(x, 2)", "poly(x, 30)", "factor(k)", "offset(z)", "offset(log(c))",
    "scale(x)", "exp(x)", "sqrt(z)", "lgo(x)", "ns(x)", "x:g", "x*h", "(x + z)^2", "g/h",
    "I(x > 0)", "x %in% g", "I(1/x)", "b:x", "h:s", "I(z - z)", "C(h)", "as.numeric(k)",
]  # fmt: skip
EFFECTS = ["1", "0", "x", "1 + x", "0 + x", "h", "b", "x + z", "poly(x, 2)", "g", "c", "m",
           "I(x * 0)", "z + I(2 * z)", "nope"]  # fmt: skip
GROUPS = ["g", "h", "k", "b", "s", "g:h", "g/h", "h/s", "factor(k)", "x", "y", "m", "nope", "1",
          "log(z)", "g:s"]  # fmt: skip
RESPONSES = ["y", "c", "p", "b", "h", "g", "m", "log(z)", "log(x)", "cbind(c, 5 - c)",
             "cbind(c, 1 - c)", "nope", "y + x", "I(-y)", "I(y > 0)", "exp(y)"]  # fmt: skip
FAMILIES = [None, None, None, "gaussian", "binomial", "poisson"]

bars = st.tuples(
    st.sampled_from(EFFECTS), st.sampled_from(["|", "||"]), st.sampled_from(GROUPS)
).map(lambda t: f"({t[0]} {t[1]} {t[2]})")

formulas = st.tuples(
    st.sampled_from(RESPONSES),
    st.lists(st.sampled_from(FIXED), max_size=3),
    st.lists(bars, max_size=2),
).map(lambda t: f"{t[0]} ~ " + " + ".join([*t[1], *t[2]] or ["1"]))

TOKENS = [
    "y", "x", "g", "h", "b", "c", "z", "nope", "log", "I", "poly", "offset", "factor", "cbind",
    "TRUE", "0", "1", "2", "1e-3", "'s'", "~", "~", "+", "-", "*", "/", ":", "^", "|", "||",
    "%in%", "(", ")", "(", ")", ",", "=", ">", "!", "$", " ", "`", "`x y`", "#",
]  # fmt: skip
soup = st.lists(st.sampled_from(TOKENS), max_size=14).map("".join)

CHEAP = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
FITS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow],
)
CONTROL = ml.OptimizerControl(maxeval=150, restart=False)


def _fit_or_multilevel_error(formula: str, **kwargs: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = ml.fit(formula, FRAME, control=CONTROL, **kwargs)
        except MultilevelError:
            return
    assert isinstance(result, LMMResult | GLMMResult)
    assert 0 < result.nobs <= len(FRAME)


@CHEAP
@given(formula=st.one_of(formulas, soup), gaussian=st.booleans())
def test_parse_and_design_raise_only_multilevel_errors(formula, gaussian):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            design = build_design(parse_formula(formula), FRAME, gaussian=gaussian)
        except MultilevelError:
            return
    assert isinstance(design, Design)
    assert design.X.shape[0] == design.y.shape[0] == design.nobs
    assert all(t.z.shape[0] == design.nobs for t in design.terms)
    assert np.isfinite(design.X).all() and np.isfinite(design.y).all()


@FITS
@given(formula=formulas, family=st.sampled_from(FAMILIES), reml=st.booleans())
def test_fit_returns_a_result_or_raises_a_multilevel_error(formula, family, reml):
    if family is None:
        _fit_or_multilevel_error(formula, reml=reml)
    else:
        _fit_or_multilevel_error(formula, family=family)


@CHEAP
@given(formula=soup)
def test_fit_of_token_soup_raises_only_multilevel_errors(formula):
    _fit_or_multilevel_error(formula)
