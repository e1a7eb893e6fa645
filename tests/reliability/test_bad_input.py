"""The bad-input battery: each awkward input gets the right error (or warning) naming the problem.

One test per case of issue 9. Errors are asserted by type and by the words of the message that
name the problem; cases that are fitted (numeric grouping factor, collinear columns, a slope
constant within groups, an observation-level effect in a GLMM) are asserted by what the result
and its warnings say. Huge and tiny scales are in ``test_scales.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import ConvergenceError, DataWarning
from multilevel.glmm.result import GLMMResult

from .conftest import quiet_fit

SLEEP = "Reaction ~ Days + (1 | Subject)"


def messages_of(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, ml.MultilevelWarning)]


# -- data and formula ------------------------------------------------------------------------
def test_empty_data(sleep):
    with pytest.raises(ml.DataError, match="no rows"):
        ml.fit(SLEEP, sleep.iloc[:0])
    with pytest.raises(ml.DataError, match="no rows"):
        ml.fit(SLEEP, pd.DataFrame())


def test_data_that_is_not_a_frame():
    with pytest.raises(ml.DataError, match="pandas or polars DataFrame, not list"):
        ml.fit(SLEEP, [1, 2, 3])


def test_formula_without_random_effects_points_to_ols(sleep):
    with pytest.raises(ml.ModelError, match=r"no random-effects term.*ml\.ols"):
        ml.fit("Reaction ~ Days", sleep)


@pytest.mark.parametrize(
    ("formula", "missing", "suggested"),
    [
        ("Reaction ~ Dayz + (1 | Subject)", "Dayz", "Days"),
        ("Reaction ~ Days + (1 | Subjct)", "Subjct", "Subject"),
        ("Reactoin ~ Days + (1 | Subject)", "Reactoin", "Reaction"),
        ("Reaction ~ Days + (nope | Subject)", "nope", None),
    ],
)
def test_unknown_columns(sleep, formula, missing, suggested):
    with pytest.raises(ml.DataError, match="not in the data") as info:
        ml.fit(formula, sleep)
    text = str(info.value)
    assert repr(missing) in text
    if suggested is not None:
        assert f"did you mean {suggested!r}" in text


@pytest.mark.parametrize(
    ("formula", "name", "suggested"),
    [
        ("Reaction ~ lgo(Days) + (1 | Subject)", "lgo", "log"),
        ("Reaction ~ ploy(Days, 2) + (1 | Subject)", "ploy", "poly"),
        ("sqr(Reaction) ~ Days + (1 | Subject)", "sqr", "sqrt"),
        ("Reaction ~ Days + (1 + lgo(Days) | Subject)", "lgo", "log"),
    ],
)
def test_misspelled_functions(sleep, formula, name, suggested):
    with pytest.raises(ml.FormulaError, match=f"unknown function '{name}'") as info:
        ml.fit(formula, sleep)
    assert f"did you mean '{suggested}'" in str(info.value)


@pytest.mark.parametrize(
    ("formula", "words", "position"),
    [
        ("Reaction ~ Days + (1 | Subject", "'(' at position 18 is never closed", 18),
        ("Reaction ~ Days + 1 | Subject)", "')' at position 29 has no matching '('", 29),
        ("Reaction ~ log(Days + 1 + (1 | Subject)", "'(' at position 14 is never closed", 14),
    ],
)
def test_unbalanced_parentheses(sleep, formula, words, position):
    with pytest.raises(ml.FormulaError, match="unbalanced parenthesis") as info:
        ml.fit(formula, sleep)
    assert words in str(info.value)
    assert info.value.position == position
    assert str(info.value).splitlines()[-1] == "    " + " " * position + "^"


@pytest.mark.parametrize("formula", ["Reaction ~ Days + (1 | )", "Reaction ~ Days + (Days || )"])
def test_bar_without_grouping_factor(sleep, formula):
    with pytest.raises(ml.FormulaError, match="needs a grouping factor"):
        ml.fit(formula, sleep)


# -- missing and infinite values -------------------------------------------------------------
# Every kind of used column: response, fixed effect, grouping factor, random slope only,
# weights column, offset column.
NA_FORMULA = "Reaction ~ Days + (1 | Subject) + (0 + x | Subject)"
NA_CASES = [
    ("Reaction", np.nan), ("Reaction", np.inf), ("Days", -np.inf), ("Days", np.nan),
    ("Subject", None), ("x", np.inf), ("x", np.nan), ("w", np.nan), ("w", np.inf),
    ("o", -np.inf), ("o", np.nan),
]  # fmt: skip


@pytest.fixture(scope="module")
def na_data(sleep) -> pd.DataFrame:
    return sleep.assign(x=sleep["Days"] / 10 + 1, o=np.linspace(-1, 1, len(sleep)))


def _with_bad_value(data: pd.DataFrame, column: str, value: object) -> pd.DataFrame:
    d = data.copy()
    if column == "Subject":
        d[column] = d[column].astype(object)
    d.loc[3, column] = value
    return d


@pytest.fixture(scope="module")
def na_reference(na_data):
    return quiet_fit(NA_FORMULA, na_data.drop(index=3), weights="w", offset="o")


@pytest.mark.parametrize(("column", "value"), NA_CASES)
def test_na_and_inf_refused_with_na_action_raise(na_data, column, value):
    d = _with_bad_value(na_data, column, value)
    with pytest.raises(ml.DataError, match=rf"missing or infinite values .*\({column}: 1\)"):
        ml.fit(NA_FORMULA, d, weights="w", offset="o", na_action="raise")


@pytest.mark.parametrize(("column", "value"), NA_CASES[::2])
def test_na_and_inf_rows_dropped_by_default(na_data, na_reference, column, value):
    d = _with_bad_value(na_data, column, value)
    with pytest.warns(DataWarning, match="1 rows with missing or infinite values were dropped"):
        m = ml.fit(NA_FORMULA, d, weights="w", offset="o")
    assert m.nobs == len(na_data) - 1 and 3 not in m.fitted.index
    assert m.objective == pytest.approx(na_reference.objective, rel=1e-10)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_inf_from_a_transformation(sleep):
    with pytest.raises(ml.DataError, match=r"infinite values after evaluating 'log\(Days\)'"):
        ml.fit("Reaction ~ log(Days) + (1 | Subject)", sleep)
    with pytest.raises(ml.DataError, match=r"'I\(1/Days\)' \(18 rows\)"):
        ml.fit("Reaction ~ 1 + (I(1/Days) | Subject)", sleep)
    with pytest.raises(ml.DataError, match=r"'log\(Reaction - 300\)' has missing or infinite"):
        ml.fit("log(Reaction - 300) ~ Days + (1 | Subject)", sleep)


def test_na_in_weights_or_offset_arrays(sleep):
    bad = np.r_[np.nan, np.ones(len(sleep) - 1)]
    with pytest.raises(ml.DataError, match="weights contain missing or infinite"):
        ml.fit(SLEEP, sleep, weights=bad)
    with pytest.raises(ml.DataError, match="offset contain missing or infinite"):
        ml.fit(SLEEP, sleep, offset=bad)


# -- responses -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "response",
    [
        pd.Series(["fast", "slow"] * 90),
        pd.Series(np.arange(180) % 2 == 0),
        pd.Series(pd.Categorical(["a", "b", "c"] * 60)),
    ],
    ids=["string", "boolean", "factor"],
)
def test_non_numeric_response_for_gaussian_model(sleep, response):
    with pytest.raises(ml.DataError, match="response 'r' is not numeric") as info:
        ml.fit("r ~ Days + (1 | Subject)", sleep.assign(r=response.to_numpy()))
    assert "family='binomial'" in str(info.value)


@pytest.mark.parametrize(
    ("formula", "data"),
    [
        ("Reaction ~ Days + (1 | Subject)", {"Reaction": 300.0}),
        ("Reaction ~ Days + (1 | Subject)", {"Reaction": 0.0}),
        ("Reaction ~ Days + Reaction + (1 | Subject)", {}),
        ("I(-Reaction) ~ Days + Reaction + (1 | Subject)", {}),
    ],
    ids=["constant", "zero", "response-as-predictor", "copy-as-predictor"],
)
def test_response_fitted_exactly_by_the_fixed_effects(sleep, formula, data):
    with pytest.raises(ml.ModelError, match="fitted exactly by the fixed effects") as info:
        ml.fit(formula, sleep.assign(**data))
    assert "constant" in str(info.value) and "also a predictor" in str(info.value)


@pytest.mark.parametrize("family", ["poisson", "negative.binomial"])
def test_negative_counts(cbpp, family):
    with pytest.raises(ml.DataError, match=f"'y' has negative values: {family} counts"):
        ml.fit("y ~ period + (1 | herd)", cbpp.assign(y=cbpp["incidence"] - 1), family=family)


@pytest.mark.parametrize(
    ("formula", "column", "words"),
    [
        ("incidence ~ period + (1 | herd)", None, r"'incidence' has values outside \[0, 1\]"),
        ("p ~ period + (1 | herd)", -0.1, r"'p' has values outside \[0, 1\]"),
        ("p ~ period + (1 | herd)", 1.5, r"'p' has values outside \[0, 1\]"),
        ("cbind(incidence, size - 2 * incidence) ~ period + (1 | herd)", None,
         "must be >= 0"),
    ],
)  # fmt: skip
def test_binomial_proportions_outside_unit_interval(cbpp, formula, column, words):
    data = cbpp.assign(p=cbpp["incidence"] / cbpp["size"])
    if column is not None:
        data.loc[5, "p"] = column
    with pytest.raises(ml.DataError, match=words):
        ml.fit(formula, data, family="binomial")


# -- weights ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("weights", "error", "words"),
    [
        (-np.ones(180), ml.DataError, "weights must be positive"),
        (np.r_[0.0, np.ones(179)], ml.DataError, "weights must be positive"),
        (np.ones(3), ml.DataError, "weights has length 3, but the data have 180 rows"),
        (np.ones(181), ml.DataError, "weights has length 181"),
        (["heavy"] * 180, ml.DataError, "weights must be numbers"),
        ("nowhere", ml.DataError, "weights uses column not in the data: 'nowhere'"),
    ],
    ids=["negative", "zero", "short", "long", "strings", "unknown-column"],
)
def test_bad_weights(sleep, weights, error, words):
    with pytest.raises(error, match=words):
        ml.fit(SLEEP, sleep, weights=weights)


def test_negative_weights_column(sleep):
    with pytest.raises(ml.DataError, match="weights must be positive"):
        ml.fit(SLEEP, sleep.assign(w=-sleep["w"]), weights="w")


# -- grouping factors and random effects -----------------------------------------------------
def test_numeric_grouping_factor_is_converted_with_a_note(sleep):
    codes = sleep["Subject"].cat.codes.astype("int64") * 10
    numeric = sleep.assign(sid=codes, x=sleep["Days"] / 10)
    levels = [str(10 * k) for k in range(18)]
    as_factor = numeric.assign(sid=pd.Categorical(codes.astype(str), categories=levels))
    formula = "Reaction ~ Days + (1 | sid) + (0 + x | sid)"
    m = quiet_fit(formula, numeric)
    notes = [t for t in m.design.notes if "'sid'" in t and "converted to a factor" in t]
    assert len(notes) == 1, m.design.notes
    ref = quiet_fit(formula, as_factor)
    assert not ref.design.notes
    assert m.objective == pytest.approx(ref.objective, rel=1e-12)
    assert m.ranef["sid"].index.tolist() == levels


def test_grouping_factor_with_one_level(sleep):
    with pytest.raises(ml.DataError, match=r"'g' of \(1 \| g\) has only 1 level"):
        ml.fit("Reaction ~ Days + (1 | g)", sleep.assign(g="only"))


def test_grouping_factor_with_one_level_left_after_dropping_na(sleep):
    d = sleep.assign(g=np.where(np.arange(len(sleep)) < 10, "a", None))
    with pytest.raises(ml.DataError, match="only 1 level"):
        quiet_fit("Reaction ~ Days + (1 | g)", d)


def test_more_random_effects_than_observations(sleep):
    pairs = sleep.assign(pair=np.arange(len(sleep)) // 2)
    with pytest.raises(ml.ModelError, match=r"number of observations \(180\) <= number of random"):
        ml.fit("Reaction ~ Days + (Days | pair)", pairs)


def test_perfectly_collinear_fixed_effects_dropped_with_warning(sleep):
    d = sleep.assign(D2=2 * sleep["Days"] + 1)
    with pytest.warns(DataWarning, match="rank deficient so dropping 1 column / coefficient: D2"):
        m = ml.fit("Reaction ~ Days + D2 + (1 | Subject)", d)
    assert m.fixef.index.tolist() == ["(Intercept)", "Days"]
    assert m.design.dropped_columns == ("D2",)
    ref = quiet_fit(SLEEP, sleep)
    assert m.objective == pytest.approx(ref.objective, rel=1e-12)


def test_slope_constant_within_groups_is_fitted_with_a_warning(sleep):
    subject = sleep["Subject"].cat.codes.to_numpy()
    d = sleep.assign(c=(subject % 3).astype(float))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        m = ml.fit("Reaction ~ Days + c + (c | Subject)", d)
    texts = messages_of(record)
    assert any("'c'" in t and "confounded with the random intercept" in t for t in texts), texts
    assert m.singular
    assert any("singular" in t for t in texts)


def test_random_effects_column_that_is_zero_everywhere_is_warned(sleep):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ml.fit("Reaction ~ Days + (1 | Subject) + (0 + I(0 * Days) | Subject)", sleep)
    assert any("'I(0 * Days)'" in t and "zero in every row" in t for t in messages_of(record))


def test_fixed_effects_that_fit_the_data_exactly():
    x = np.linspace(0.0, 1.0, 12)
    d = pd.DataFrame({"y": np.sin(7 * x), "x": x, "g": np.repeat(["a", "b", "c"], 4)})
    with pytest.raises(ml.ModelError, match="12 linearly independent columns for 12 obs"):
        quiet_fit("y ~ poly(x, 11) + (1 | g)", d)


def test_ordinary_random_slope_has_no_confounding_warning(sleep):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ml.fit("Reaction ~ Days + (Days | Subject)", sleep)
    assert not any("confounded" in t for t in messages_of(record))


# -- a 10,000-level factor with one observation per level -------------------------------------
@pytest.fixture(scope="module")
def one_per_level() -> pd.DataFrame:
    rng = np.random.default_rng(10)
    n = 10_000
    eta = 0.5 + rng.normal(0.0, 0.5, n)
    return pd.DataFrame(
        {"y": rng.poisson(np.exp(eta)).astype(float), "obs": [f"o{k}" for k in range(n)]}
    )


def test_observation_level_factor_refused_for_gaussian_model(one_per_level):
    with pytest.raises(ml.ModelError, match="'obs' has 10000 levels for 10000 observations") as e:
        ml.fit("y ~ 1 + (1 | obs)", one_per_level)
    assert "not identifiable" in str(e.value)


def test_observation_level_factor_allowed_in_glmm(one_per_level):
    m = quiet_fit("y ~ 1 + (1 | obs)", one_per_level, family="poisson")
    assert isinstance(m, GLMMResult) and m.nobs == 10_000
    assert m.ngroups == {"obs": 10_000}
    assert m.optsummary.converged
    assert 0.3 < m.theta[0] < 0.7
    assert m.fixef["(Intercept)"] == pytest.approx(0.5, abs=0.1)


# -- optimizer settings ----------------------------------------------------------------------
def test_unknown_optimizer_name(dyestuff):
    with pytest.raises(ml.ModelError, match="unknown optimizer 'lbfgs'") as e:
        ml.fit("Yield ~ 1 + (1 | Batch)", dyestuff, control={"optimizer": "lbfgs"})
    assert all(name in str(e.value) for name in ("bobyqa", "newuoa", "neldermead", "cobyla"))
    with pytest.raises(ml.ModelError, match="unknown optimizer 'lbfgs'"):
        ml.OptimizerControl(optimizer="lbfgs")


def test_unknown_control_setting(dyestuff):
    with pytest.raises(ml.ModelError, match="unknown control setting 'foo'") as e:
        ml.fit("Yield ~ 1 + (1 | Batch)", dyestuff, control={"foo": 1})
    assert all(k in str(e.value) for k in ("optimizer", "ftol_rel", "maxeval", "restart"))
    with pytest.raises(ml.ModelError, match="control must be an OptimizerControl or a dict"):
        ml.fit("Yield ~ 1 + (1 | Batch)", dyestuff, control=["bobyqa"])


def test_update_with_a_formula_without_tilde(dyestuff):
    m = quiet_fit("Yield ~ 1 + (1 | Batch)", dyestuff)
    with pytest.raises(ml.FormulaError, match="has no '~'"):
        m.update("x + z")


def test_newuoa_on_a_one_parameter_model(dyestuff):
    ref = quiet_fit("Yield ~ 1 + (1 | Batch)", dyestuff)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        m = ml.fit("Yield ~ 1 + (1 | Batch)", dyestuff, control={"optimizer": "newuoa"})
    note = "NEWUOA needs at least 2 parameters: BOBYQA was used"
    assert any(note in t for t in messages_of(record))
    assert any(note in t for t in m.optsummary.notes)
    assert m.objective == ref.objective
    assert np.array_equal(m.theta, ref.theta)
    assert m.converged


def test_newuoa_on_a_one_parameter_glmm_stage(counts):
    ref = quiet_fit("y ~ x + (1 | g)", counts, family="poisson")
    m = quiet_fit("y ~ x + (1 | g)", counts, family="poisson", control={"optimizer": "newuoa"})
    assert any("NEWUOA needs at least 2" in t for t in m.optsummary.notes)
    assert m.objective == pytest.approx(ref.objective, abs=1e-6)


def test_nlopt_errors_become_library_errors(monkeypatch):
    import nlopt

    from multilevel import optimize

    def refuse(*args, **kwargs):
        raise nlopt.invalid_argument("bad")

    monkeypatch.setattr(optimize.nlopt.opt, "optimize", refuse)
    with pytest.raises(ml.ModelError, match="the optimizer 'bobyqa' refused this problem"):
        optimize.minimize(lambda x: float(x @ x), np.ones(2), np.full(2, -np.inf))

    def fail(*args, **kwargs):
        raise nlopt.runtime_error("out of luck")

    monkeypatch.setattr(optimize.nlopt.opt, "optimize", fail)
    with pytest.raises(ConvergenceError, match="failed before finding a finite objective"):
        optimize.minimize(lambda x: float(x @ x), np.ones(2), np.full(2, -np.inf))
