"""Invariances a correct fit has, as hypothesis properties.

Each property transforms the data in a way that theory says leaves the model unchanged (or
changes it in a known way) and compares the fit with the fit of the original data:

- permuting rows: nothing changes (results follow their rows);
- relabeling or reordering the levels of a grouping factor: nothing changes but the labels;
- reordering the levels of a fixed-effect factor: a reparametrization of X with |det| = 1, so
  the objective (ML and REML), θ, σ and the fitted values are unchanged;
- renaming columns: nothing changes but the names;
- y → a + b·y: θ unchanged; intercept → a + b·β₀, other β → b·β, σ → |b|·σ; the objective
  changes by 2n log|b| (ML) or 2(n - p) log|b| (REML);
- prior weights → c·w: objective, β and random-effect variances unchanged, σ² → c·σ²,
  θ → θ/√c (as in lme4: weights are precisions, Var(eᵢ) = σ²/wᵢ).

θ is compared at 1e-3 relative (the objective is flat along some directions, and the optimizer
stops within its tolerance of the optimum); objectives are compared tightly.
"""

from __future__ import annotations

import math
import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .conftest import quiet_fit, simulated_counts

# Every example is a fit: few examples, reproducible (derandomized), and no shrinking (it would
# refit hundreds of times; the failing example is reported as drawn).
FEW = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEWER = settings(FEW, max_examples=4)

SLOPES = "Reaction ~ Days + (Days | Subject)"
CROSSED = "diameter ~ 1 + (1 | plate) + (1 | sample)"

seeds = st.integers(min_value=0, max_value=2**32 - 1)


def objective_close(a: float, b: float, tol: float = 1e-9) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


def assert_same_fit(m, ref, *, theta_rtol: float = 1e-3) -> None:
    assert objective_close(m.objective, ref.objective), (m.objective, ref.objective)
    np.testing.assert_allclose(m.theta, ref.theta, rtol=theta_rtol, atol=1e-6)
    np.testing.assert_allclose(m.fixef.to_numpy(), ref.fixef.to_numpy(), rtol=1e-5, atol=1e-8)
    assert m.sigma == pytest.approx(ref.sigma, rel=1e-5)


@pytest.fixture(scope="module")
def slopes_fit(sleep):
    return quiet_fit(SLOPES, sleep)


@pytest.fixture(scope="module")
def slopes_ml_fit(sleep):
    return quiet_fit(SLOPES, sleep, reml=False)


@pytest.fixture(scope="module")
def crossed_fit(penicillin):
    return quiet_fit(CROSSED, penicillin)


# -- permuting rows --------------------------------------------------------------------------
@FEW
@given(seed=seeds)
def test_permuting_rows(sleep, slopes_fit, seed):
    order = np.random.default_rng(seed).permutation(len(sleep))
    m = quiet_fit(SLOPES, sleep.iloc[order])
    assert_same_fit(m, slopes_fit)
    fitted = m.fitted.sort_index().to_numpy()
    np.testing.assert_allclose(fitted, slopes_fit.fitted.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        m.ranef["Subject"].to_numpy(), slopes_fit.ranef["Subject"].to_numpy(), rtol=1e-3,
        atol=1e-3,
    )


@pytest.fixture(scope="module")
def counts_factor() -> pd.DataFrame:
    data = simulated_counts(seed=7)
    return data.assign(f=pd.Categorical(np.array(["lo", "mid", "hi"])[np.arange(len(data)) % 3]))


@pytest.fixture(scope="module")
def counts_fit(counts_factor):
    return quiet_fit("y ~ x + f + (1 | g)", counts_factor, family="poisson")


@FEWER
@given(seed=seeds)
def test_permuting_rows_glmm(counts_factor, counts_fit, seed):
    order = np.random.default_rng(seed).permutation(len(counts_factor))
    m = quiet_fit("y ~ x + f + (1 | g)", counts_factor.iloc[order], family="poisson")
    assert objective_close(m.objective, counts_fit.objective, 1e-8)
    np.testing.assert_allclose(m.theta, counts_fit.theta, rtol=1e-4)
    np.testing.assert_allclose(m.fixef.to_numpy(), counts_fit.fixef.to_numpy(), rtol=1e-4)
    np.testing.assert_allclose(m.se.to_numpy(), counts_fit.se.to_numpy(), rtol=1e-3)


# -- factor levels ---------------------------------------------------------------------------
level_names = st.text(alphabet=string.ascii_letters + string.digits + " ._-", min_size=1,
                      max_size=6)  # fmt: skip


@settings(FEW, max_examples=6)
@given(data=st.data())
def test_relabeling_and_reordering_grouping_levels(penicillin, crossed_fit, data):
    old = list(penicillin["plate"].cat.categories)
    new = data.draw(st.lists(level_names, min_size=len(old), max_size=len(old), unique=True))
    mapping = dict(zip(old, new, strict=True))
    order = data.draw(st.permutations(new))
    labels = penicillin["plate"].astype(str).map(mapping)
    as_strings = data.draw(st.booleans())
    plate = labels.to_numpy() if as_strings else pd.Categorical(labels, categories=order)
    m = quiet_fit(CROSSED, penicillin.assign(plate=plate))
    assert_same_fit(m, crossed_fit)
    expected = sorted(new) if as_strings else order
    assert m.ranef["plate"].index.tolist() == expected
    ref = crossed_fit.ranef["plate"].rename(index=mapping)
    np.testing.assert_allclose(
        m.ranef["plate"].loc[ref.index].to_numpy(), ref.to_numpy(), rtol=1e-3, atol=1e-4
    )


@pytest.fixture(scope="module")
def cbpp_lmm(cbpp):
    return {reml: quiet_fit("incidence ~ period + (1 | herd)", cbpp, reml=reml)
            for reml in (True, False)}  # fmt: skip


@FEW
@given(order=st.permutations(["1", "2", "3", "4"]), reml=st.booleans())
def test_reordering_fixed_factor_levels(cbpp, cbpp_lmm, order, reml):
    ref = cbpp_lmm[reml]
    period = pd.Categorical(cbpp["period"].astype(str), categories=order)
    m = quiet_fit("incidence ~ period + (1 | herd)", cbpp.assign(period=period), reml=reml)
    assert objective_close(m.objective, ref.objective)
    np.testing.assert_allclose(m.theta, ref.theta, rtol=1e-4, atol=1e-6)
    assert m.sigma == pytest.approx(ref.sigma, rel=1e-6)
    np.testing.assert_allclose(m.fitted.to_numpy(), ref.fitted.to_numpy(), rtol=1e-6)
    assert m.fixef.index.tolist() == ["(Intercept)"] + [f"period{k}" for k in order[1:]]
    # the intercept is the mean of the new reference level
    means = ref.fixef["(Intercept)"] + pd.Series(
        {"1": 0.0, **{k: ref.fixef[f"period{k}"] for k in "234"}}
    )
    assert m.fixef["(Intercept)"] == pytest.approx(means[order[0]], rel=1e-6)


@FEWER
@given(order=st.permutations(["lo", "mid", "hi"]))
def test_reordering_fixed_factor_levels_glmm(counts_factor, counts_fit, order):
    f = pd.Categorical(counts_factor["f"].astype(str), categories=order)
    m = quiet_fit("y ~ x + f + (1 | g)", counts_factor.assign(f=f), family="poisson")
    assert objective_close(m.objective, counts_fit.objective, 1e-8)
    np.testing.assert_allclose(m.theta, counts_fit.theta, rtol=1e-4)
    np.testing.assert_allclose(m.fitted.to_numpy(), counts_fit.fitted.to_numpy(), rtol=1e-5)
    assert m.fixef["x"] == pytest.approx(counts_fit.fixef["x"], rel=1e-5)


# -- renaming columns ------------------------------------------------------------------------
syntactic = st.from_regex(r"[A-Za-z][A-Za-z0-9_.]{0,7}", fullmatch=True)
non_syntactic = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,7}", fullmatch=True)
column_names = st.one_of(syntactic, non_syntactic)


def _quoted(name: str) -> str:
    from multilevel.formula.render import r_name

    return r_name(name)


@FEW
@given(names=st.lists(column_names, min_size=3, max_size=3, unique=True))
def test_renaming_columns(sleep, slopes_fit, names):
    y, x, g = names
    data = sleep.rename(columns={"Reaction": y, "Days": x, "Subject": g}).drop(columns="w")
    formula = f"{_quoted(y)} ~ {_quoted(x)} + ({_quoted(x)} | {_quoted(g)})"
    m = quiet_fit(formula, data)
    assert m.objective == slopes_fit.objective
    assert np.array_equal(m.theta, slopes_fit.theta)
    assert np.array_equal(m.fixef.to_numpy(), slopes_fit.fixef.to_numpy())
    assert m.fixef.index.tolist() == ["(Intercept)", _quoted(x)]
    assert list(m.ranef) == [_quoted(g)]
    assert m.ranef[_quoted(g)].columns.tolist() == ["(Intercept)", _quoted(x)]


# -- shifting and scaling the response -------------------------------------------------------
@FEW
@given(
    a=st.floats(min_value=-1e3, max_value=1e3),
    log_b=st.floats(min_value=-2.0, max_value=2.0),
    negative=st.booleans(),
    reml=st.booleans(),
)
def test_shifting_and_scaling_the_response(sleep, slopes_fit, slopes_ml_fit, a, log_b, negative,
                                           reml):  # fmt: skip
    b = (-1.0 if negative else 1.0) * 10.0**log_b
    ref = slopes_fit if reml else slopes_ml_fit
    m = quiet_fit(SLOPES, sleep.assign(Reaction=a + b * sleep["Reaction"]), reml=reml)
    k = ref.nobs - (len(ref.fixef) if reml else 0)
    expected = ref.objective + 2 * k * math.log(abs(b))
    assert objective_close(m.objective, expected), (m.objective, expected)
    np.testing.assert_allclose(m.theta, ref.theta, rtol=1e-3, atol=1e-6)
    beta = ref.fixef.to_numpy()
    np.testing.assert_allclose(m.fixef.to_numpy(), [a + b * beta[0], b * beta[1]], rtol=1e-6,
                               atol=1e-9 * (abs(a) + abs(b) * abs(beta[0])))  # fmt: skip
    assert m.sigma == pytest.approx(abs(b) * ref.sigma, rel=1e-5)
    np.testing.assert_allclose(m.se.to_numpy(), abs(b) * ref.se.to_numpy(), rtol=1e-3)


# -- prior weights times c -------------------------------------------------------------------
@pytest.fixture(scope="module")
def weighted_fit(sleep):
    return quiet_fit(SLOPES, sleep, weights="w")


@FEW
@given(log_c=st.floats(min_value=-3.0, max_value=3.0))
def test_multiplying_prior_weights(sleep, weighted_fit, log_c):
    c = 10.0**log_c
    ref = weighted_fit
    m = quiet_fit(SLOPES, sleep, weights=c * sleep["w"].to_numpy())
    assert objective_close(m.objective, ref.objective)
    np.testing.assert_allclose(m.fixef.to_numpy(), ref.fixef.to_numpy(), rtol=1e-6)
    assert m.sigma**2 == pytest.approx(c * ref.sigma**2, rel=1e-5)
    np.testing.assert_allclose(m.theta * math.sqrt(c), ref.theta, rtol=1e-3, atol=1e-6)
    vc, vr = m.varcorr, ref.varcorr
    var = (vc["grp"] != "Residual") & vc["var2"].isna()
    np.testing.assert_allclose(vc.loc[var, "vcov"], vr.loc[var, "vcov"], rtol=1e-4)
    cor = vc["var2"].notna()
    np.testing.assert_allclose(vc.loc[cor, "sdcor"], vr.loc[cor, "sdcor"], atol=1e-3)
