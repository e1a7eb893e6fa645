"""Parametric bootstrap: reproducibility, parallel equality, coverage of percentile intervals."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.inference.bootstrap import worker_pool
from tests.inference._coverage import one_dataset, slope
from tests.inference.conftest import quiet_fit


def test_bootstrap_default_statistic_and_seed(sleep):
    m = quiet_fit("Reaction ~ Days + (1 | Subject)", sleep)
    a = ml.bootstrap(m, 30, seed=5, progress=False)
    b = ml.bootstrap(m, 30, seed=5, progress=False)
    assert list(a.replicates.columns) == ["sd_(Intercept)|Subject", "sigma", "(Intercept)",
                                          "Days"]
    assert a.replicates.equals(b.replicates)
    assert a.t0["Days"] == pytest.approx(m.fixef["Days"])
    ci = a.confint()
    assert list(ci.columns) == ["lower", "upper"]
    assert np.all(ci["lower"] < ci["upper"])
    assert a.se.shape == (4,)
    assert not ml.bootstrap(m, 30, seed=6, progress=False).replicates.equals(a.replicates)


def test_bootstrap_parallel_matches_serial(sleep):
    m = quiet_fit("Reaction ~ Days + (1 | Subject)", sleep)
    a = ml.bootstrap(m, 16, statistic=slope, seed=3, progress=False)
    b = ml.bootstrap(m, 16, statistic=slope, seed=3, progress=False, n_jobs=2)
    np.testing.assert_allclose(a.replicates.to_numpy(), b.replicates.to_numpy(), rtol=1e-12)


def test_confint_boot_method(sleep):
    m = quiet_fit("Reaction ~ Days + (1 | Subject)", sleep)
    ci = m.confint(method="boot", nsim=40, seed=1, progress=False, parm="beta_")
    assert list(ci.index) == ["(Intercept)", "Days"]


def test_percentile_coverage():
    """50 data sets from a known model, 200 replicates each: the 95% percentile intervals of
    the slope cover the true value in 85%-100% of them, and are not trivially wide."""
    with worker_pool(2) as pool:
        results = list(pool.map(one_dataset, range(1000, 1050)))
    covered = np.array([r[0] for r in results])
    widths = np.array([r[1] for r in results])
    wald = np.array([r[2] for r in results])
    assert 0.85 <= covered.mean() <= 1.0
    ratio = widths.mean() / wald.mean()
    assert 0.7 < ratio < 1.3, ratio
