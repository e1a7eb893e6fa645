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
