"""Benchmark: a crossed model on millions of rows, fitted through Dask on 2 workers × 2 GB.

Usage: python benchmarks/dask_scale.py [--rows N] [--users N] [--items N] [--files N]
       [--path DIR] [--keep] [--workers N] [--memory-limit 2GB] [--out FILE]

It writes a synthetic Parquet data set (ratings: ``y ~ x + (1 | user) + (1 | item)``, users and
items crossed, every user rating about ten items; by default 20 million rows, 2 million users,
1000 items, in files of 500 000 rows under /tmp), starts a ``distributed.LocalCluster`` whose
worker processes are each limited to 2 GB, and fits the model with ``ml.fit(formula,
dd.read_parquet(path))``. ``--rows 2000000`` runs the same case at a tenth of the size (200 000
users) in a few minutes.

For every phase of the fit (levels pass, statistics pass, the client's assembly of the system,
optimization of θ) it reports the wall time, the CPU time of the client and of all workers
(robust to other load on a shared machine), and the peak resident memory so far of the client
and of the workers (``getrusage`` maxrss of each process, sampled at the end of each phase, so
nothing between two samples is missed); then the number of evaluations of the objective and the
estimates next to the values the data were simulated from. The data are written in a separate
process so that the client's peak is the fit's; the free space is checked first, and the data
are deleted afterwards unless ``--keep`` is given (or they were there already). Results are
printed as a table and written as JSON (default ``benchmarks/results/dask_scale.json``). Not
run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import re
import resource
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FORMULA = "y ~ x + (1 | user) + (1 | item)"
TRUTH = {"(Intercept)": 1.0, "x": 0.5, "sd_user": 0.8, "sd_item": 0.5, "sigma": 1.0}
#: Parquet bytes per row of the synthetic data (measured: 455 MB for 20 million rows), with a
#: margin.
BYTES_PER_ROW = 30
ROWS_PER_FILE = 500_000


def write_dataset(path: str, rows: int, users: int, items: int, files: int, seed: int) -> None:
    """Write the synthetic ratings as ``files`` Parquet files (one chunk in memory at a time)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a_user = TRUTH["sd_user"] * rng.standard_normal(users)
    b_item = TRUTH["sd_item"] * rng.standard_normal(items)
    per_file = -(-rows // files)
    done = 0
    for k in range(files):
        m = min(per_file, rows - done)
        if m <= 0:
            break
        user = rng.integers(0, users, m)
        item = rng.integers(0, items, m)
        x = rng.standard_normal(m)
        y = (TRUTH["(Intercept)"] + TRUTH["x"] * x + a_user[user] + b_item[item]
             + TRUTH["sigma"] * rng.standard_normal(m))
        table = pa.table({"user": user, "item": item, "x": x, "y": y})
        pq.write_table(table, out / f"part-{k:04d}.parquet", row_group_size=m)
        done += m


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _import_multilevel() -> None:
    import multilevel.dask  # noqa: F401


def _cpu_seconds() -> float:
    """CPU time of this process (all threads), in seconds."""
    return time.process_time()


class _Phases(logging.Handler):
    """Collects the fit's phase records and samples CPU and memory at the end of each."""

    def __init__(self, client: Any) -> None:
        super().__init__(logging.INFO)
        self.client = client
        self.rows: list[dict[str, Any]] = []
        self.last = self._sample()

    def _sample(self) -> dict[str, Any]:
        return {
            "client_cpu": _cpu_seconds(),
            "worker_cpu": self.client.run(_cpu_seconds),
            "client_peak": _peak_rss_mb(),
            "worker_peak": self.client.run(_peak_rss_mb),
        }

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        phase = getattr(record, "phase", None)
        seconds = getattr(record, "seconds", None)
        match = re.match(r"([a-z ]+): ([0-9.]+) s", message)
        if phase is None and match is not None:  # a version that logs text only
            phase, seconds = match.group(1), float(match.group(2))
        if phase is None:
            return
        self.add(str(phase), float("nan") if seconds is None else float(seconds), message)

    def add(self, phase: str, seconds: float, message: str) -> None:
        """Record a phase that just ended, with its wall time."""
        now = self._sample()
        workers = now["worker_cpu"]
        self.rows.append({
            "phase": phase,
            "wall_s": round(seconds, 2),
            "client_cpu_s": round(now["client_cpu"] - self.last["client_cpu"], 2),
            "workers_cpu_s": round(
                sum(v - self.last["worker_cpu"].get(k, 0.0) for k, v in workers.items()), 2
            ),
            "client_peak_mb": round(now["client_peak"], 1),
            "worker_peak_mb": round(max(now["worker_peak"].values()), 1),
            "message": message,
        })
        self.last = now
        print("  " + message, flush=True)


def _write(args: argparse.Namespace, path: Path) -> None:
    need = args.rows * BYTES_PER_ROW
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(parent).free
    if free < 2 * need:
        raise SystemExit(
            f"not enough free space under {parent}: {free / 2**30:.1f} GiB free, the data need "
            f"about {need / 2**30:.1f} GiB (twice that is required); use --path"
        )
    print(f"writing {args.rows:,} rows to {path} (about {need / 2**20:.0f} MB) ...", flush=True)
    start = time.perf_counter()
    proc = multiprocessing.get_context("spawn").Process(
        target=write_dataset,
        args=(str(path), args.rows, args.users, args.items, args.files, args.seed),
    )
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"writing the data failed (exit code {proc.exitcode})")
    print(f"  written in {time.perf_counter() - start:.1f} s", flush=True)


def fit_on_cluster(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """Fit the model on a LocalCluster; returns the measurements."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import multilevel as ml

    logger = logging.getLogger("multilevel.dask")
    logger.setLevel(logging.INFO)
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=args.memory_limit,
        dashboard_address=":0",
    )
    with cluster, Client(cluster) as client:
        phases = _Phases(client)
        start = time.perf_counter()
        client.run(_import_multilevel)  # what a first fit pays once per worker process
        phases.add("worker start-up", time.perf_counter() - start,
                   "worker start-up: import multilevel on every worker")
        logger.addHandler(phases)
        try:
            ddf = dd.read_parquet(str(path))
            print(f"fitting {FORMULA!r} on {ddf.npartitions} partitions, {args.workers} "
                  f"workers x {args.memory_limit} ...", flush=True)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ml.MultilevelWarning)
                res = ml.fit(FORMULA, ddf, reml=False)
            elapsed = time.perf_counter() - start
        finally:
            logger.removeHandler(phases)
        info = client.scheduler_info()["workers"]
        spilled = {
            addr: w.get("metrics", {}).get("spilled_bytes", {}) for addr, w in info.items()
        }
        workers = client.run(_peak_rss_mb)
    vc = res.varcorr
    estimates = {
        "(Intercept)": float(res.fixef["(Intercept)"]),
        "x": float(res.fixef["x"]),
        "sd_user": float(vc.loc[vc["grp"] == "user", "sdcor"].iloc[0]),
        "sd_item": float(vc.loc[vc["grp"] == "item", "sdcor"].iloc[0]),
        "sigma": float(res.sigma),
    }
    return {
        "formula": FORMULA,
        "rows": res.nobs,
        "groups": res.ngroups,
        "pairs": int(getattr(res.system.zz_sparse[0], "nnz", 0)),
        "partitions": int(ddf.npartitions),
        "workers": args.workers,
        "memory_limit": args.memory_limit,
        "fit_seconds": round(elapsed, 1),
        "phases": phases.rows,
        "evaluations": res.optsummary.feval,
        "converged": bool(res.converged),
        "objective": res.objective,
        "client_peak_rss_mb": round(_peak_rss_mb(), 1),
        "worker_peak_rss_mb": {k: round(v, 1) for k, v in workers.items()},
        "worker_spilled": spilled,
        "estimates": estimates,
        "truth": TRUTH,
    }


def table(report: dict[str, Any]) -> str:
    """The per-phase measurements as a text table."""
    head = ("phase", "wall s", "client CPU s", "workers CPU s", "client peak MB",
            "worker peak MB")
    rows = [head] + [
        (r["phase"], f"{r['wall_s']:.1f}", f"{r['client_cpu_s']:.1f}",
         f"{r['workers_cpu_s']:.1f}", f"{r['client_peak_mb']:.0f}", f"{r['worker_peak_mb']:.0f}")
        for r in report["phases"]
    ]
    widths = [max(len(r[k]) for r in rows) for k in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in
                  enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    est = report["estimates"]
    lines += [
        "",
        f"{report['rows']:,} rows, {report['groups']}, {report['pairs']:,} (user, item) pairs, "
        f"{report['partitions']} partitions; fit {report['fit_seconds']:.1f} s, "
        f"{report['evaluations']} evaluations, converged: {report['converged']}",
        "estimates: " + ", ".join(f"{k} {v:.4f} ({report['truth'][k]})" for k, v in est.items()),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--users", type=int, default=None, help="default: rows / 10")
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--files", type=int, default=None,
                        help=f"default: one per {ROWS_PER_FILE:,} rows")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--path", default=None,
                        help="data directory (default /tmp/multilevel-dask-bench/ratings-ROWS)")
    parser.add_argument("--keep", action="store_true", help="keep the data written")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dask_scale.json"))
    args = parser.parse_args()
    args.users = args.users or max(args.rows // 10, 2)
    args.files = args.files or max(-(-args.rows // ROWS_PER_FILE), 1)
    path = Path(args.path or f"/tmp/multilevel-dask-bench/ratings-{args.rows}")
    written = not path.exists()
    if written:
        _write(args, path)
    size_mb = sum(f.stat().st_size for f in path.glob("*.parquet")) / 2**20
    try:
        report = fit_on_cluster(args, path)
    finally:
        if written and not args.keep:
            shutil.rmtree(path, ignore_errors=True)
    report["parquet_path"] = str(path)
    report["parquet_mb"] = round(size_mb, 1)
    print()
    print(table(report))
    text = json.dumps(report, indent=2, default=str)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
