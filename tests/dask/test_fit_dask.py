"""Fits on Dask DataFrames (LocalCluster, two worker processes) equal the in-memory fits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.dask import DaskLMMResult
from multilevel.fit import pls_system
from tests.dask.conftest import assert_equal_fits, dd, quiet_fit

REFERENCE = Path(__file__).parents[1] / "reference"

SLEEP = "Reaction ~ Days + (Days | Subject)"
PENICILLIN = "diameter ~ 1 + (1|plate) + (1|sample)"


@pytest.mark.parametrize("npartitions", [1, 3, 7])
@pytest.mark.parametrize("reml", [True, False])
def test_sleepstudy(client, npartitions, reml) -> None:
    data = ml.datasets.load("sleepstudy")
    ddf = dd.from_pandas(data, npartitions=npartitions)
    res = quiet_fit(SLEEP, ddf, reml=reml)
    assert isinstance(res, DaskLMMResult)
    assert_equal_fits(res, quiet_fit(SLEEP, data, reml=reml))


@pytest.mark.parametrize(
    ("formula", "weights"),
    [
        ("Reaction ~ Days + (Days || Subject)", None),
        (SLEEP, "w"),
        ("Reaction ~ 1 + (1 | Subject) + (0 + Days | Subject)", None),
    ],
)
def test_sleepstudy_variants(client, formula, weights) -> None:
    data = ml.datasets.load("sleepstudy")
    ddf = dd.from_pandas(data, npartitions=4)
    assert_equal_fits(quiet_fit(formula, ddf, weights=weights),
                      quiet_fit(formula, data, weights=weights))


@pytest.mark.parametrize("reml", [True, False])
def test_penicillin_crossed(client, reml) -> None:
    data = ml.datasets.load("Penicillin")
    ddf = dd.from_pandas(data, npartitions=5)
    assert_equal_fits(quiet_fit(PENICILLIN, ddf, reml=reml),
                      quiet_fit(PENICILLIN, data, reml=reml))


def test_pastes_nested(client) -> None:
    formula = "strength ~ 1 + (1|batch/cask)"
    data = ml.datasets.load("Pastes")
    assert_equal_fits(quiet_fit(formula, dd.from_pandas(data, npartitions=3)),
                      quiet_fit(formula, data))


def test_partitions_sorted_by_group(client) -> None:
    """Each partition holds a few levels only (and one partition is empty)."""
    data = ml.datasets.load("Penicillin").sort_values(["sample", "plate"]).reset_index(drop=True)
    ddf = dd.from_pandas(data, npartitions=6)
    ddf = ddf[~((ddf["sample"] == "A") | (ddf["sample"] == "B"))]
    expected = data[~data["sample"].isin(["A", "B"])]
    assert_equal_fits(quiet_fit(PENICILLIN, ddf), quiet_fit(PENICILLIN, expected))


def test_insteval_crossed_in_partitions(client) -> None:
    """73 421 ratings, students crossed with department × service, fixed factors."""
    formula = "y ~ 1 + service + lectage + (1|s) + (1|dept:service)"
    data = ml.datasets.load("InstEval")
    ddf = dd.from_pandas(data, npartitions=4)
    assert_equal_fits(quiet_fit(formula, ddf, reml=False), quiet_fit(formula, data, reml=False))


def test_insteval_reference_system(client) -> None:
    """lme4's InstEval model (students × lecturers, service × dept): the reduced PLS system is
    the in-memory one, and gives lme4's objective at lme4's θ."""
    from multilevel.dask.encode import build_encoder, level_plan
    from multilevel.dask.fit import _first_pass
    from multilevel.dask.graph import compute_one, map_partitions_delayed, tree_reduce
    from multilevel.dask.levels import resolve_levels
    from multilevel.dask.stats import combine_stats, final_system, partition_stats
    from multilevel.design import build_design
    from multilevel.fit import parsed_formula
    from multilevel.lmm import objective

    ref = json.loads((REFERENCE / "insteval_ml.json").read_text())
    formula = parsed_formula("y ~ 1 + service*dept + (1|s) + (1|d)")
    data = ml.datasets.load("InstEval")
    ddf = dd.from_pandas(data, npartitions=3)
    columns = tuple(formula.variables)
    plan, summary = _first_pass(ddf, formula, columns, "omit")
    assert level_plan(formula, columns, ddf._meta) == plan
    levels = resolve_levels(summary, ddf._meta, plan)
    encoder = build_encoder(formula, plan, levels, summary, None, None, None)
    tasks = map_partitions_delayed(ddf, columns, partition_stats, encoder)
    stats = compute_one(tree_reduce(tasks, combine_stats))
    system = final_system(stats, np.arange(len(encoder.xnames)))
    memory = pls_system(build_design(formula, data))
    assert system.nobs == memory.nobs
    np.testing.assert_allclose(system.a11, memory.a11, rtol=1e-12)
    np.testing.assert_allclose(system.zz_csr[0].toarray(), memory.zz_csr[0].toarray(),
                               rtol=1e-12)
    np.testing.assert_allclose(system.zz_dense[(1, 1)], memory.zz_dense[(1, 1)], rtol=1e-12)
    for a, b in zip(system.xyz, memory.xyz, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(system.xyxy, memory.xyxy, rtol=1e-12)
    theta = np.asarray(ref["theta"], dtype=float)
    value = objective(system, theta, reml=False)
    assert value == pytest.approx(objective(memory, theta, reml=False), rel=1e-12)
    assert value == pytest.approx(ref["objective"], rel=1e-9)


def test_rank_deficient_and_factors(client) -> None:
    """A dependent column is dropped as in memory; string, logical and numeric-as-factor
    predictors and a numeric grouping factor are coded as in memory."""
    rng = np.random.default_rng(3)
    n = 400
    data = pd.DataFrame({
        "g": rng.integers(0, 12, n),
        "h": rng.choice(["u", "v", "w", "x"], n),
        "x": rng.standard_normal(n),
        "b": rng.random(n) > 0.5,
        "k": rng.integers(1, 4, n),
    })
    data["x2"] = 2.0 * data["x"]
    data["y"] = data["x"] + (data["h"] == "v") + rng.standard_normal(n) + data["g"] * 0.1
    data.loc[[5, 77], "x"] = np.nan
    formula = "y ~ x + x2 + h*b + factor(k) + (1 + x | g) + (1 | h:k)"
    expected = quiet_fit(formula, data)
    assert expected.design.dropped_columns
    got = quiet_fit(formula, dd.from_pandas(data, npartitions=5))
    assert_equal_fits(got, expected)


def test_local_scheduler_and_parquet(tmp_path) -> None:
    """No cluster: the threaded scheduler; data read from Parquet files."""
    import dask

    data = ml.datasets.load("Penicillin")
    data["plate"] = data["plate"].astype(str)
    path = tmp_path / "penicillin"
    dd.from_pandas(data, npartitions=4).to_parquet(str(path))
    with dask.config.set(scheduler="threads"):
        res = quiet_fit(PENICILLIN, dd.read_parquet(str(path)))
    assert_equal_fits(res, quiet_fit(PENICILLIN, data))


def test_update_refits_on_dask(client) -> None:
    data = ml.datasets.load("sleepstudy")
    res = quiet_fit(SLEEP, dd.from_pandas(data, npartitions=3))
    smaller = res.update(". ~ . - Days", reml=False)
    assert isinstance(smaller, DaskLMMResult)
    assert_equal_fits(smaller, quiet_fit("Reaction ~ (Days | Subject)", data, reml=False))


def test_client_by_address(client) -> None:
    """A client connected by the scheduler's address, as to a remote cluster, runs the fit."""
    from distributed import Client, get_task_stream

    data = ml.datasets.load("sleepstudy")
    with Client(client.scheduler.address, set_as_default=True) as remote:
        with get_task_stream(remote) as stream:
            res = quiet_fit(SLEEP, dd.from_pandas(data, npartitions=3))
        assert any("partition_stats" in str(rec["key"]) for rec in stream.data)
    assert_equal_fits(res, quiet_fit(SLEEP, data))
