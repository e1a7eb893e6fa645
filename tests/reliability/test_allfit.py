"""``allfit``: refit with every optimizer and tabulate objectives and estimates (lme4's allFit)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import multilevel as ml
from multilevel.allfit import OPTIMIZERS, allfit, theta_names

from .conftest import quiet_fit


@pytest.fixture(scope="module")
def slopes(sleep):
    return quiet_fit("Reaction ~ Days + (Days | Subject)", sleep)


@pytest.fixture(scope="module")
def slopes_table(slopes):
    return allfit(slopes)


def test_one_row_per_optimizer_with_objective_estimates_and_time(slopes_table):
    t = slopes_table
    assert t.index.name == "optimizer"
    assert t.index.tolist() == list(OPTIMIZERS) == ["bobyqa", "newuoa", "neldermead", "cobyla"]
    assert t.columns.tolist() == [
        "objective", "delta_objective", "converged", "seconds", "feval", "sigma",
        "theta:Subject.(Intercept)", "theta:Subject.Days.(Intercept)", "theta:Subject.Days",
        "fixef:(Intercept)", "fixef:Days", "warnings", "error",
    ]  # fmt: skip
    assert (t["seconds"] > 0).all() and (t["feval"] > 0).all()
    assert (t["error"] == "").all()


def test_optimizers_agree_on_a_well_posed_model(slopes, slopes_table):
    t = slopes_table
    assert t["converged"].all()
    assert t["delta_objective"].min() == 0.0
    assert t["delta_objective"].max() < 1e-6
    np.testing.assert_allclose(t["objective"], slopes.objective, rtol=1e-9)
    theta = t.filter(like="theta:").to_numpy()
    np.testing.assert_allclose(theta, np.tile(slopes.theta, (4, 1)), rtol=1e-3)
    fixef = t.filter(like="fixef:").to_numpy()
    np.testing.assert_allclose(fixef, np.tile(slopes.fixef.to_numpy(), (4, 1)), rtol=1e-6)
    np.testing.assert_allclose(t["sigma"], slopes.sigma, rtol=1e-5)


def test_bobyqa_row_reproduces_the_default_fit(slopes, slopes_table):
    row = slopes_table.loc["bobyqa"]
    assert row["objective"] == slopes.objective
    assert row.filter(like="theta:").tolist() == slopes.theta.tolist()


def test_theta_names_as_lme4(penicillin, sleep):
    crossed = quiet_fit("diameter ~ 1 + (1 | plate) + (1 | sample)", penicillin)
    assert theta_names(crossed) == ["plate.(Intercept)", "sample.(Intercept)"]
    uncorrelated = quiet_fit("Reaction ~ Days + (Days || Subject)", sleep)
    assert theta_names(uncorrelated) == ["Subject.(Intercept)", "Subject.1.Days"]


def test_subset_of_optimizers_and_unknown_names(slopes):
    t = allfit(slopes, ["neldermead"])
    assert t.index.tolist() == ["neldermead"]
    assert t["delta_objective"].iloc[0] == 0.0
    with pytest.raises(ml.ModelError, match="unknown optimizer 'lbfgs'; choose from bobyqa"):
        allfit(slopes, ["bobyqa", "lbfgs"])
    with pytest.raises(ml.ModelError, match="no optimizers"):
        allfit(slopes, [])


def test_refit_warnings_are_recorded_not_emitted():
    singular = quiet_fit("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff2"))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        t = allfit(singular, ["bobyqa", "cobyla"])
    assert not [w for w in record if issubclass(w.category, ml.MultilevelWarning)]
    assert t["warnings"].str.contains("singular").all()
    assert (t["objective"] - singular.objective).abs().max() < 1e-6


def test_one_parameter_model_every_optimizer_agrees_or_records_its_failure(dyestuff):
    m = quiet_fit("Yield ~ 1 + (1 | Batch)", dyestuff)
    t = allfit(m)
    assert t.index.tolist() == list(OPTIMIZERS)
    ok = t["error"] == ""
    assert ok["bobyqa"] and ok.sum() >= 3
    np.testing.assert_allclose(t.loc[ok, "objective"], m.objective, rtol=1e-9)
    assert t.loc[~ok, "objective"].isna().all()
    assert not t.loc[~ok, "converged"].any()


def test_glmm(counts):
    m = quiet_fit("y ~ x + (1 | g)", counts, family="poisson")
    t = allfit(m, ["bobyqa", "neldermead"])
    assert t.columns[6:9].tolist() == ["theta:g.(Intercept)", "fixef:(Intercept)", "fixef:x"]
    assert t["delta_objective"].max() < 1e-6
    np.testing.assert_allclose(t["fixef:x"], m.fixef["x"], rtol=1e-4)
    assert (t["sigma"] == 1.0).all()
