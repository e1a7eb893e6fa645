"""Benchmark: a crossed model on 20 million rows, fitted through Dask on 2 workers × 2 GB.

Usage: python benchmarks/dask_scale.py [--rows N] [--users N] [--items N] [--files N]
       [--path DIR] [--workers N] [--memory-limit 2GB] [--rewrite] [--out FILE]

It writes a synthetic Parquet data set (ratings: ``y ~ x + (1 | user) + (1 | item)``, users and
items crossed, every user rating about ten items; by default 20 million rows, 2 million users,
1000 items, in 40 files under /tmp), starts a ``distributed.LocalCluster`` whose worker
processes are each limited to 2 GB, fits the model with ``ml.fit(formula,
dd.read_parquet(path))``, and reports the wall time of each pass and the peak resident memory of
the client and of every worker (``getrusage`` maxrss of each process, so nothing between two
samples is missed), plus the estimates next to the values the data were simulated from. The data
are written in a separate process so that the client's peak is the fit's. Results are printed
and written as JSON (default ``benchmarks/results/dask_scale.json``). Not run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
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


class _Phases(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        print("  " + record.getMessage(), flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Write the data if needed, fit on the cluster, return the measurements."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import multilevel as ml

    path = Path(args.path)
    if args.rewrite and path.exists():
        shutil.rmtree(path)
    if not path.exists():
        print(f"writing {args.rows:,} rows to {path} ...", flush=True)
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
    size_mb = sum(f.stat().st_size for f in path.glob("*.parquet")) / 2**20

    phases = _Phases()
    logging.getLogger("multilevel.dask").addHandler(phases)
    logging.getLogger("multilevel.dask").setLevel(logging.INFO)
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=args.memory_limit,
        dashboard_address=":0",
    )
    with cluster, Client(cluster) as client:
        ddf = dd.read_parquet(str(path))
        print(f"fitting {FORMULA!r} on {ddf.npartitions} partitions, {args.workers} workers "
              f"x {args.memory_limit} ...", flush=True)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ml.MultilevelWarning)
            res = ml.fit(FORMULA, ddf, reml=False)
        elapsed = time.perf_counter() - start
        workers = client.run(_peak_rss_mb)
        info = client.scheduler_info()["workers"]
        spilled = {
            addr: w.get("metrics", {}).get("spilled_bytes", {}) for addr, w in info.items()
        }
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
        "partitions": int(ddf.npartitions),
        "parquet_mb": round(size_mb, 1),
        "workers": args.workers,
        "memory_limit": args.memory_limit,
        "fit_seconds": round(elapsed, 1),
        "phases": phases.lines,
        "evaluations": res.optsummary.feval,
        "converged": bool(res.converged),
        "objective": res.objective,
        "client_peak_rss_mb": round(_peak_rss_mb(), 1),
        "worker_peak_rss_mb": {k: round(v, 1) for k, v in workers.items()},
        "worker_spilled": spilled,
        "estimates": estimates,
        "truth": TRUTH,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--users", type=int, default=2_000_000)
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--path", default="/tmp/multilevel-dask-bench/ratings")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--rewrite", action="store_true", help="write the data again")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dask_scale.json"))
    args = parser.parse_args()
    report = run(args)
    text = json.dumps(report, indent=2, default=str)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
