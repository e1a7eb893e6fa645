"""MRP: the simulated survey, poststratification of likelihood and Bayesian fits (issue 6)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.datasets import simulated_survey
from multilevel.mrp import poststratify

FORMULA = "y ~ x_state + age + edu + (1 | state)"


def quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(*args, **kwargs)


def rmse(estimate: pd.Series, truth: pd.Series) -> float:
    return float(np.sqrt(np.mean((estimate - truth.reindex(estimate.index)) ** 2)))


@pytest.fixture(scope="module")
def survey():
    return simulated_survey(1)


@pytest.fixture(scope="module")
def glmm(survey):
    return quiet(FORMULA, survey.poll, family="binomial")


def test_simulated_survey_is_the_documented_model():
    poll, population, truth = simulated_survey(7)
    assert poll.shape == (2000, 5) and population.shape == (800, 5) and truth.shape == (50,)
    assert list(poll.columns) == ["state", "age", "edu", "x_state", "y"]
    assert set(poll.y.unique()) <= {0, 1}
    assert list(poll.age.cat.categories) == ["18-29", "30-44", "45-64", "65+"]
    sizes = population.groupby("state", observed=True).N.sum()
    assert sizes.iloc[0] == pytest.approx(200_000, rel=1e-3)
    assert sizes.iloc[-1] == pytest.approx(200_000 * 1.08**49, rel=1e-3)
    counts = poll.state.value_counts().reindex(truth.index, fill_value=0)
    assert (counts < 10).sum() >= 5 and counts.max() > 100  # unequal: some states under 10
    assert truth.between(0, 1).all() and truth.std() > 0.05
    old = poll.age.isin(["45-64", "65+"]).mean()
    assert old > 0.6  # over-represented (they are 54% of the population)
    again = simulated_survey(7)
    pd.testing.assert_frame_equal(again.poll, poll)
    assert not simulated_survey(8).poll.equals(poll)


def test_mrp_beats_raw_means_and_complete_pooling(survey, glmm):
    poll, population, truth = survey
    est = poststratify(glmm, population, weight="N", by="state", level=0.9, seed=1)
    raw = poll.groupby("state", observed=True)["y"].mean()
    pooled = pd.Series(poll["y"].mean(), index=truth.index)
    assert rmse(est["estimate"], truth) < rmse(raw, truth)
    assert rmse(est["estimate"], truth) < rmse(pooled, truth)
    assert rmse(est["estimate"], truth) < 0.6 * rmse(raw, truth)
    cover = ((est.lower <= truth) & (truth <= est.upper)).mean()
    assert cover > 0.75
    assert list(est.columns) == ["estimate", "sd", "lower", "upper", "weight"]
    assert est.index.name == "state" and len(est) == 50
    assert np.all((est.lower < est.estimate) & (est.estimate < est.upper))
    assert est["weight"].sum() == population["N"].sum()


def test_poststratify_options(survey, glmm):
    _, population, truth = survey
    a = poststratify(glmm, population, by="state", seed=3, nsim=200)
    b = poststratify(glmm, population, by="state", seed=3, nsim=200)
    pd.testing.assert_frame_equal(a, b)
    both = poststratify(glmm, population, by=["state", "age"], seed=3, nsim=200)
    assert both.index.names == ["state", "age"] and len(both) == 200
    overall = poststratify(glmm, population, by=None, seed=3, nsim=200)
    assert overall.index.tolist() == ["all"]
    national = float(np.average(truth, weights=population.groupby("state", observed=True).N.sum()))
    assert overall["lower"].iloc[0] < national < overall["upper"].iloc[0]
    fixed_only = poststratify(glmm, population, by="state", re_form="~0", seed=3, nsim=200)
    assert fixed_only["sd"].mean() < a["sd"].mean()
    with pytest.raises(ml.DataError, match="lacks the columns"):
        poststratify(glmm, population, weight="pop")
    with pytest.raises(ml.DataError, match="non-negative"):
        poststratify(glmm, population.assign(N=-population.N))
    with pytest.raises(ml.ModelError, match="level"):
        poststratify(glmm, population, level=90)
    with pytest.raises(TypeError):
        poststratify("not a fit", population)


def test_states_missing_from_the_poll_get_estimates(survey):
    poll, population, _ = survey
    dropped = ["S01", "S02", "S03"]
    fit = quiet(FORMULA, poll[~poll.state.isin(dropped)], family="binomial")
    est = poststratify(fit, population, by="state", seed=2, nsim=300)
    assert set(dropped) <= set(est.index)
    seen = est.drop(dropped)
    assert (est.loc[dropped, "sd"].to_numpy() > seen["sd"].median()).all()
    with pytest.raises(ml.DataError, match="allow_new_levels"):
        poststratify(fit, population, by="state", allow_new_levels=False)


def test_linear_mixed_model_poststratifies():
    sleep = ml.datasets.load("sleepstudy")
    fit = quiet("Reaction ~ Days + (Days | Subject)", sleep)
    frame = sleep.assign(N=1.0)
    est = poststratify(fit, frame, by="Subject", seed=1, nsim=500)
    means = sleep.assign(f=fit.fitted).groupby("Subject", observed=True).f.mean()
    assert np.allclose(est["estimate"], means.reindex(est.index), atol=1.5)
    assert (est["sd"] > 0).all()


def test_bayesian_mrp_beats_raw_means_and_complete_pooling(survey):
    pytest.importorskip("numpyro")
    poll, population, truth = survey
    bayes = quiet(FORMULA, poll, family="binomial", method="bayes", chains=2, draws=500,
                  warmup=500, seed=4, progress=False)
    assert bayes.divergences == 0
    est = poststratify(bayes, population, weight="N", by="state", level=0.9, seed=1)
    raw = poll.groupby("state", observed=True)["y"].mean()
    pooled = pd.Series(poll["y"].mean(), index=truth.index)
    assert rmse(est["estimate"], truth) < rmse(raw, truth)
    assert rmse(est["estimate"], truth) < rmse(pooled, truth)
    assert ((est.lower <= truth) & (truth <= est.upper)).mean() > 0.75
    sub = poststratify(bayes, population, by="state", ndraws=100, seed=1)
    assert np.allclose(sub["estimate"], est["estimate"], atol=0.03)
