"""How many BLAS threads the optimizer's objective evaluations use.

Each evaluation of a profiled objective interleaves a few BLAS/LAPACK calls (the dense Cholesky
factor of a Schur complement, products of [X y] rows) with compiled and NumPy work. Measured on
a 2-core machine, a multi-threaded OpenBLAS made the InstEval fit 3.4 times slower than one
thread (5.65 s against 1.66 s, on an otherwise idle machine): its threads keep spinning between
calls and take the core the next step needs, although a lone 1128 × 1128 Cholesky is faster on
two threads (15 ms against 19 ms). So the optimizer runs with one BLAS thread by default.
``MULTILEVEL_BLAS_THREADS`` changes that: a number of threads, or ``auto`` to leave BLAS as it
is. Without threadpoolctl (a dependency; absent only on odd installs) nothing is changed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

_BLAS_LIBS: list[Any] | None = None  # threadpoolctl controllers of the BLAS libraries
_ACTIVE = threading.local()


def blas_threads() -> AbstractContextManager[Any]:
    """A context in which BLAS uses the configured number of threads (default 1).

    Nested uses (a fit that calls the optimizer, which calls it again) set the limit once:
    threadpoolctl's limit costs about 0.1 ms, a noticeable part of a small fit.

    Returns
    -------
    context manager
        Limits the BLAS thread pools of NumPy and SciPy while it is active.
    """
    if getattr(_ACTIVE, "depth", 0) > 0:
        return _nested()
    return _outer(_limit())


@contextmanager
def _nested() -> Iterator[None]:
    _ACTIVE.depth += 1
    try:
        yield
    finally:
        _ACTIVE.depth -= 1


@contextmanager
def _outer(limit: AbstractContextManager[Any]) -> Iterator[None]:
    with limit:
        _ACTIVE.depth = 1
        try:
            yield
        finally:
            _ACTIVE.depth = 0


def _limit() -> AbstractContextManager[Any]:
    global _BLAS_LIBS
    setting = os.environ.get("MULTILEVEL_BLAS_THREADS", "1").strip().lower()
    if setting in ("", "auto", "none"):
        return nullcontext()
    try:
        n = max(1, int(setting))
    except ValueError:
        return nullcontext()
    if _BLAS_LIBS is None:
        try:
            import threadpoolctl
        except ImportError:  # pragma: no cover
            return nullcontext()
        import scipy.linalg  # noqa: F401  (load SciPy's BLAS before the libraries are listed)

        _BLAS_LIBS = [
            lib
            for lib in threadpoolctl.ThreadpoolController().lib_controllers
            if lib.user_api == "blas"
        ]
    return _set_threads(_BLAS_LIBS, n)


@contextmanager
def _set_threads(libs: list[Any], n: int) -> Iterator[None]:
    """Set every BLAS library to n threads and restore those it changed (a few µs, where
    threadpoolctl's ``limit`` re-reads every library's state: about 25 µs)."""
    changed = []
    for lib in libs:
        old = lib.num_threads
        if old != n:
            lib.set_num_threads(n)
            changed.append((lib, old))
    try:
        yield
    finally:
        for lib, old in reversed(changed):
            lib.set_num_threads(old)


__all__ = ["blas_threads"]
