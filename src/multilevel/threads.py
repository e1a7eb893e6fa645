"""How many BLAS threads the optimizer's objective evaluations use.

Each evaluation of a profiled objective interleaves a few BLAS/LAPACK calls (the dense Cholesky
factor of a Schur complement, products of [X y] rows) with compiled and NumPy work. Measured on
a 2-core machine, a multi-threaded OpenBLAS made the InstEval fit 3.4 times slower than one
thread (5.65 s against 1.66 s, on an otherwise idle machine): its threads keep spinning between
calls and take the core the next step needs, although a lone 1128 × 1128 Cholesky is faster on
two threads (15 ms against 19 ms). So the optimizer runs with one BLAS thread by default.
``MULTILEVEL_BLAS_THREADS`` changes that: a number of threads, or ``auto`` to leave BLAS as it
is. Without threadpoolctl (a dependency; absent only on odd installs) nothing is changed.

By default (the variable unset) one call kind is the exception: a dense factorization or inverse
of order at least :data:`LARGE_ORDER` runs on up to :data:`MAX_LARGE_THREADS` threads
(:func:`large_blas`), and the limit goes back to one thread after it. Measured on the 2-core
machine, the 1128 × 1128 Cholesky factor of InstEval's Schur complement takes 11 ms on two
threads against 16 on one, its inverse (dpotri) 19 against 32, and the whole InstEval fit
0.83–0.91 s against 1.02–1.14 s. Below about 768 two threads gain nothing (512: 3.1 ms on one
thread, 4.0 on two).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

_BLAS_LIBS: list[Any] | None = None  # threadpoolctl controllers of the BLAS libraries
_ACTIVE = threading.local()

#: Order from which a dense factorization runs on several BLAS threads (:func:`large_blas`).
LARGE_ORDER = 768
#: At most this many threads for one large factorization.
MAX_LARGE_THREADS = 8


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


def large_blas(order: int) -> AbstractContextManager[Any]:
    """A context for one dense factorization (or inverse) of the given order.

    Inside :func:`blas_threads` with the default setting, an order of at least
    :data:`LARGE_ORDER` runs on as many threads as the process may use (at most
    :data:`MAX_LARGE_THREADS`); elsewhere, or for smaller orders, nothing changes.

    Parameters
    ----------
    order
        The order of the matrix.

    Returns
    -------
    context manager
        Raises the BLAS libraries' thread count while it is active.
    """
    threads = getattr(_ACTIVE, "large", 1)
    if order < LARGE_ORDER or threads <= 1 or getattr(_ACTIVE, "depth", 0) == 0:
        return nullcontext()
    assert _BLAS_LIBS is not None
    return _set_threads(_BLAS_LIBS, threads)


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not on Linux)
        return os.cpu_count() or 1


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
        default = os.environ.get("MULTILEVEL_BLAS_THREADS") is None and _BLAS_LIBS
        _ACTIVE.large = min(_usable_cpus(), MAX_LARGE_THREADS) if default else 1
        try:
            yield
        finally:
            _ACTIVE.depth = 0
            _ACTIVE.large = 1


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


__all__ = ["LARGE_ORDER", "MAX_LARGE_THREADS", "blas_threads", "large_blas"]
