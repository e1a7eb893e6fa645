"""Building blocks of the Dask graphs: one task per partition, then a tree reduction.

Every pass over the data is a map (a function of one pandas partition) followed by a tree
reduction of the partial results (``split_every`` of them at a time), so no partition is ever
gathered, and the client receives one reduced value. The graph runs on whatever scheduler is
active: the local threaded one, or the ``distributed.Client`` that was created last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: Number of partial results combined by one reduction task.
SPLIT_EVERY = 4


def map_partitions_delayed(
    data: Any, columns: Sequence[str], func: Callable[..., Any], *args: Any
) -> list[Any]:
    """One delayed ``func(partition, *args)`` per partition of the used columns of ``data``.

    Selecting the columns first lets Dask read only those from Parquet. Large arguments (the
    encoder) are put in the graph once, not once per task.
    """
    import dask

    parts = data[list(columns)].to_delayed(optimize_graph=True)
    shared = [a if _small(a) else share(a) for a in args]
    task = dask.delayed(func, pure=True)
    return [task(p, *shared) for p in parts]


def _small(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _active_client() -> Any:
    """The distributed client that will run the next compute, or None."""
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - distributed is optional
        return None
    try:
        client = default_client()
    except ValueError:
        return None
    from dask.base import get_scheduler

    return client if get_scheduler() == client.get else None


def share(value: Any) -> Any:
    """A value for many tasks: scattered once to every worker of an active distributed client
    (so it is not part of the graph), else a single node of the graph."""
    import dask

    client = _active_client()
    if client is not None:
        return client.scatter(value, broadcast=True, hash=False)
    return dask.delayed(value, pure=True)


def tree_reduce(
    items: list[Any], combine: Callable[[list[T]], T], split_every: int = SPLIT_EVERY
) -> Any:
    """Reduce delayed values by ``combine`` (a function of a list) in a tree of fan-in
    ``split_every``; returns one delayed value."""
    import dask

    if not items:
        raise ValueError("nothing to reduce: the data have no partitions")
    task = dask.delayed(_combine_args, pure=True)
    level = list(items)
    while len(level) > 1:
        level = [
            task(combine, *level[i : i + split_every]) for i in range(0, len(level), split_every)
        ]
    if len(items) == 1:
        return task(combine, level[0])
    return level[0]


def _combine_args(combine: Callable[[list[T]], T], *parts: T) -> T:
    return combine(list(parts))


def compute_one(value: Any) -> Any:
    """Compute one delayed value on the active scheduler."""
    import dask

    (out,) = dask.compute(value)
    return out
