"""The vectorized exp and log kernels against NumPy (the C library), in ulps."""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.glmm.vector_math import exp_into, log_into


def ulps(got, want):
    return np.abs(got - want) / np.spacing(np.maximum(np.abs(want), np.finfo(float).tiny))


def run(kernel, x):
    out = np.empty_like(x)
    kernel(x, out, np.empty_like(x))
    return out


@pytest.mark.parametrize("lo,hi", [(-1e-8, 1e-8), (-1.0, 1.0), (-40.0, 40.0),
                                   (-708.0, 709.78)])
def test_exp_within_one_ulp(lo, hi):
    x = np.random.default_rng(1).uniform(lo, hi, 50_000)
    assert ulps(run(exp_into, x), np.exp(x)).max() <= 1.0


def test_exp_edges():
    x = np.array([0.0, -0.0, 709.78, 709.79, 1e300, -708.0, -708.5, -1e300, np.inf, -np.inf,
                  np.nan, np.log(2.0), -np.log(2.0) / 2])
    got = run(exp_into, x)
    with np.errstate(over="ignore"):
        want = np.exp(x)
    want[(x < -708.0)] = 0.0  # subnormal results are flushed
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    assert np.all(ulps(got[fin], want[fin]) <= 1.0)
    inf = np.isinf(want)
    np.testing.assert_array_equal(got[inf], want[inf])


@pytest.mark.parametrize("lo,hi", [(1.0, 2.0), (0.5, 1.5), (1.0, 1.0 + 1e-9), (1e-300, 1e300)])
def test_log_within_two_ulps(lo, hi):
    rng = np.random.default_rng(2)
    if hi / lo > 100:
        x = np.exp(rng.uniform(np.log(lo), np.log(hi), 50_000))
    else:
        x = rng.uniform(lo, hi, 50_000)
    got, want = run(log_into, x), np.log(x)
    assert ulps(got, want).max() <= 2.0
    assert np.abs(got - want).max() <= 4.5e-16 * max(1.0, np.abs(want).max())


def test_log_edges():
    x = np.array([1.0, 2.0, 0.5, np.sqrt(2.0), 0.0, -1.0, np.inf, np.nan, np.finfo(float).max,
                  np.finfo(float).tiny])
    got = run(log_into, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.log(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    assert np.all(ulps(got[fin], want[fin]) <= 2.0)
    np.testing.assert_array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)])

