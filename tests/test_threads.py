"""BLAS threads during optimization: one by default, configurable, restored afterwards."""

from __future__ import annotations

import pytest

from multilevel.threads import blas_threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_counts() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_one_thread_inside_and_restored(monkeypatch):
    monkeypatch.delenv("MULTILEVEL_BLAS_THREADS", raising=False)
    before = blas_counts()
    with blas_threads():
        assert all(n == 1 for n in blas_counts())
    assert blas_counts() == before


@pytest.mark.parametrize("setting", ["auto", "none", "", "nonsense"])
def test_left_alone_when_asked(monkeypatch, setting):
    monkeypatch.setenv("MULTILEVEL_BLAS_THREADS", setting)
    before = blas_counts()
    with blas_threads():
        assert blas_counts() == before


def test_explicit_count(monkeypatch):
    monkeypatch.setenv("MULTILEVEL_BLAS_THREADS", "2")
    with blas_threads():
        assert all(n <= 2 for n in blas_counts())


def test_nested_contexts_limit_once_and_restore(monkeypatch):
    import multilevel.threads as threads

    monkeypatch.delenv("MULTILEVEL_BLAS_THREADS", raising=False)
    calls = []
    real = threads._limit
    monkeypatch.setattr(threads, "_limit", lambda: calls.append(1) or real())
    before = blas_counts()
    with blas_threads():
        with blas_threads():
            assert all(n == 1 for n in blas_counts())
        assert all(n == 1 for n in blas_counts())  # the inner exit does not restore early
    assert blas_counts() == before
    assert len(calls) == 1
    with pytest.raises(RuntimeError), blas_threads():
        raise RuntimeError("boom")
    assert blas_counts() == before
    with blas_threads():  # the failed context left no nesting behind
        pass
    assert len(calls) == 3


def test_large_factorizations_use_the_cores_then_one_again(monkeypatch):
    import multilevel.threads as threads

    monkeypatch.delenv("MULTILEVEL_BLAS_THREADS", raising=False)
    before = blas_counts()
    want = min(threads._usable_cpus(), threads.MAX_LARGE_THREADS)
    with blas_threads():
        with threads.large_blas(threads.LARGE_ORDER):
            assert all(n == want for n in blas_counts())
        assert all(n == 1 for n in blas_counts())
        with threads.large_blas(threads.LARGE_ORDER - 1):  # small: stays on one thread
            assert all(n == 1 for n in blas_counts())
    assert blas_counts() == before


def test_large_factorizations_leave_explicit_settings_and_outside_alone(monkeypatch):
    import multilevel.threads as threads

    before = blas_counts()
    with threads.large_blas(10_000):  # outside a fit nothing is changed
        assert blas_counts() == before
    monkeypatch.setenv("MULTILEVEL_BLAS_THREADS", "1")
    with blas_threads(), threads.large_blas(10_000):
        assert all(n == 1 for n in blas_counts())
    monkeypatch.setenv("MULTILEVEL_BLAS_THREADS", "auto")
    with blas_threads(), threads.large_blas(10_000):
        assert blas_counts() == before
