"""Scale benchmark: synthetic crossed designs, time and peak memory against rows and levels.

Each size draws ``y ~ 1 + x + (1 + x | user) + (1 | item)`` data: users and items crossed
(each row a random user and item), a random intercept and slope on the larger factor (user)
and a random intercept on the smaller (item), fitted by ML. Every size runs in a fresh
subprocess, so its peak resident memory (``ru_maxrss``) is its own; the time is the fit alone
(data generation excluded, formula processing included), as wall-clock seconds and as the CPU
seconds of the process (less sensitive to other load on the machine than the wall clock).

Run:  .venv/bin/python benchmarks/scale.py [--sizes 100000:5000:200,1000000:50000:2000]
      [--out benchmarks/results/scale.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_SIZES = "100000:5000:200,300000:15000:600,1000000:50000:2000"


def simulate(rows: int, users: int, items: int, seed: int = 1) -> object:
    """The synthetic data set (a pandas DataFrame) of one size."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    user = rng.integers(0, users, rows)
    item = rng.integers(0, items, rows)
    user[:users] = np.arange(users)  # every level observed
    item[:items] = np.arange(items)
    x = rng.normal(size=rows)
    b0 = rng.normal(scale=0.8, size=users)
    b1 = rng.normal(scale=0.3, size=users)
    c0 = rng.normal(scale=0.5, size=items)
    y = 1.0 + 0.5 * x + b0[user] + b1[user] * x + c0[item] + rng.normal(size=rows)
    return pd.DataFrame({
        "y": y,
        "x": x,
        "user": pd.Categorical.from_codes(user, [f"u{i}" for i in range(users)]),
        "item": pd.Categorical.from_codes(item, [f"i{i}" for i in range(items)]),
    })


def one(rows: int, users: int, items: int) -> dict[str, object]:
    """Fit one size in this process and return its measurements."""
    import resource
    import warnings

    import multilevel as ml

    data = simulate(rows, users, items)
    start = time.perf_counter()
    cpu_start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.fit("y ~ 1 + x + (1 + x | user) + (1 | item)", data, reml=False)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    vc = m.varcorr
    sd = vc[vc["var2"].isna()].set_index(["grp", "var1"])["sdcor"]
    return {
        "rows": rows, "users": users, "items": items, "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "evaluations": int(m.optsummary.feval), "converged": bool(m.optsummary.converged),
        "peak_mb": round(peak_mb, 1), "objective": float(m.objective),
        "sd_user": float(sd[("user", "(Intercept)")]),
        "sd_item": float(sd[("item", "(Intercept)")]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="rows:users:items,...")
    parser.add_argument("--out", default="benchmarks/results/scale.json")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        rows, users, items = (int(v) for v in args.one.split(":"))
        print(json.dumps(one(rows, users, items)))
        return
    results = []
    print(f"{'rows':>10} {'users':>8} {'items':>6} {'fit s':>8} {'cpu s':>8} {'evals':>6} "
          f"{'peak MB':>8}  sd_user sd_item (true 0.8, 0.5)")
    for size in args.sizes.split(","):
        out = subprocess.run([sys.executable, __file__, "--one", size], capture_output=True,
                             text=True, check=True, env=os.environ.copy())
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{r['rows']:>10,} {r['users']:>8,} {r['items']:>6,} {r['seconds']:>8.2f} "
              f"{r['cpu_seconds']:>8.2f} {r['evaluations']:>6} {r['peak_mb']:>8.0f}  "
              f"{r['sd_user']:.3f}   "
              f"{r['sd_item']:.3f}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"formula": "y ~ 1 + x + (1 + x | user) + (1 | item)",
                                          "cpus": os.cpu_count(), "results": results}, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
