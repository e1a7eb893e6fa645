"""A LocalCluster with two worker processes for the Dask tests, and the equality checks."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import multilevel as ml

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def client() -> Iterator[Any]:
    """Two single-threaded worker processes (the default scheduler while it is open)."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GiB",
        dashboard_address=":0",
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


def quiet_fit(*args: Any, **kwargs: Any) -> Any:
    """``ml.fit`` with the library's warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ml.MultilevelWarning)
        return ml.fit(*args, **kwargs)


def _close(a: Any, b: Any, tol: float) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b))))


def assert_equal_fits(dask_fit: Any, memory_fit: Any) -> None:
    """The issue's criterion: objective within 1e-8 relative, parameters within 1e-5, both
    converged; and the same names, counts, levels and messages."""
    assert isinstance(dask_fit, ml.LMMResult)
    assert dask_fit.converged and memory_fit.converged
    rel = abs(dask_fit.objective - memory_fit.objective) / abs(memory_fit.objective)
    assert rel < 1e-8, rel
    assert _close(dask_fit.theta, memory_fit.theta, 1e-5)
    assert _close(dask_fit.fixef, memory_fit.fixef, 1e-5)
    assert _close(dask_fit.sigma, memory_fit.sigma, 1e-5)
    assert _close(dask_fit.se, memory_fit.se, 1e-5)
    assert list(dask_fit.fixef.index) == list(memory_fit.fixef.index)
    assert dask_fit.design.dropped_columns == memory_fit.design.dropped_columns
    assert dask_fit.nobs == memory_fit.nobs
    assert dask_fit.ngroups == memory_fit.ngroups
    assert dask_fit.singular == memory_fit.singular
    assert dask_fit.warnings == memory_fit.warnings
    assert list(dask_fit.varcorr["grp"]) == list(memory_fit.varcorr["grp"])
    for group, frame in memory_fit.ranef.items():
        other = dask_fit.ranef[group]
        assert list(other.index) == list(frame.index)
        assert list(other.columns) == list(frame.columns)
        scale = max(1.0, float(np.max(np.abs(frame.to_numpy()))))
        assert np.max(np.abs(other.to_numpy() - frame.to_numpy())) <= 1e-4 * scale
