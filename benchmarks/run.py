"""Benchmark: our fit times on every reference model, with lme4, mixedlm and glmm side by side.

Usage: python benchmarks/run.py [--reps N] [--slow-reps N] [--rounds R] [--models id,id]
[--no-peers] [--out FILE]

For every model of ``tests/reference/models.json`` it fits the model repeatedly (formula
processing included) and reports our median time and our objective minus lme4's reference.
When the peers are installed (``shared/peers/install.sh``: R with lme4, and a venv with mixedlm
and glmm at ``PEERS_VENV``, default /opt/peers), it runs them in the same process tree, on the
same data files, right after ours, and prints the ratios. The table is also written as JSON
(default ``benchmarks/results/bench.json``).

This machine's speed drifts by up to 1.5 times within minutes, so one pass of ours and then
the peers' can compare one tool in a slow phase with another in a fast one. The comparison
therefore runs in ``--rounds`` rounds (default 3): each round times every tool on every model,
with the fits split between rounds, and every tool's time is the median of its round medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import multilevel as ml

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"
DATA_DIR = ROOT / "src" / "multilevel" / "datasets" / "data"
PEERS_DIR = ROOT.parent / "shared" / "peers"


def fit_spec(spec: dict[str, Any], data: Any) -> Any:
    """Fit one model spec as lme4_fit.R does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if spec.get("family", "gaussian") == "gaussian":
            return ml.fit(
                spec["formula"],
                data,
                reml=bool(spec.get("REML", False)),
                weights=spec.get("weights"),
            )
        return ml.fit(
            spec["formula"],
            data,
            family=spec["family"],
            link=spec.get("link"),
            nagq=spec.get("nAGQ", 1),
        )


def time_ours(spec: dict[str, Any], reps: int) -> dict[str, Any]:
    """Median and min seconds of repeated fresh fits, after one warm-up fit (one round)."""
    data = ml.datasets.load(spec["dataset"])
    result = fit_spec(spec, data)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fit_spec(spec, data)
        times.append(time.perf_counter() - t0)
    return {
        "objective": result.objective,
        "seconds": statistics.median(times),
        "seconds_min": min(times),
        "reps": reps,
    }


def run_peers(specs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Times of lme4, mixedlm and glmm on the same specs, if installed."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(specs, fh)
        spec_file = fh.name
    commands = []
    if shutil.which("Rscript") and (PEERS_DIR / "lme4_fit.R").exists():
        commands.append(["Rscript", str(PEERS_DIR / "lme4_fit.R"), spec_file, str(DATA_DIR)])
    venv = Path(os.environ.get("PEERS_VENV", "/opt/peers"))
    if (venv / "bin" / "python").exists() and (PEERS_DIR / "python_peers.py").exists():
        commands.append(
            [
                str(venv / "bin" / "python"),
                str(PEERS_DIR / "python_peers.py"),
                spec_file,
                str(DATA_DIR),
            ]
        )
    for cmd in commands:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        for line in proc.stdout.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            peer = rec.get("peer", "?").split()[0]
            out[(rec["id"], peer)] = rec
    os.unlink(spec_file)
    return out


def _combine(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One record from the rounds' records: the median of their medians, the least minimum,
    and every round's median."""
    out = dict(records[-1])
    out["seconds"] = statistics.median(rec["seconds"] for rec in records)
    if all("seconds_min" in rec for rec in records):
        out["seconds_min"] = min(rec["seconds_min"] for rec in records)
    out["round_seconds"] = [rec["seconds"] for rec in records]
    if all("reps" in rec for rec in records):
        out["reps"] = sum(rec["reps"] for rec in records)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=11,
                        help="fits per model (every tool), median reported")
    parser.add_argument("--slow-reps", type=int, default=7,
                        help="fits per model for the slow ones (those models.json gives reps)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of all tools; the fits are split between them")
    parser.add_argument("--models", default="")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench.json"))
    args = parser.parse_args(argv)
    specs = json.loads((REFERENCE / "models.json").read_text())
    if args.models:
        wanted = set(args.models.split(","))
        specs = [s for s in specs if s["id"] in wanted]
    # The same number of fits for every tool: medians over a few more fits resist this
    # machine's drifts (a median over 3 moved by half).
    rounds = max(1, args.rounds)
    specs = [
        {**s, "reps": max(3, -(-(args.slow_reps if "reps" in s else args.reps) // rounds))}
        for s in specs
    ]
    ours_rounds: list[list[dict[str, Any]]] = []
    peer_rounds: list[dict[tuple[str, str], dict[str, Any]]] = []
    for r in range(rounds):
        ours_rounds.append([])
        for spec in specs:
            ours = time_ours(spec, spec["reps"])
            ours_rounds[-1].append(ours)
            print(f"  round {r + 1}: {spec['id']:<22} {ours['seconds'] * 1e3:10.1f} ms",
                  file=sys.stderr, flush=True)
        peer_rounds.append({} if args.no_peers else run_peers(specs))
    rows = []
    for i, spec in enumerate(specs):
        ref = json.loads((REFERENCE / f"{spec['id']}.json").read_text())
        target = ref.get("objective_full", ref["objective"])
        ours = _combine([rnd[i] for rnd in ours_rounds])
        rows.append({"id": spec["id"], "ours": ours, "d_objective": ours["objective"] - target})
    peers: dict[tuple[str, str], dict[str, Any]] = {}
    for key in {k for rnd in peer_rounds for k in rnd}:
        recs = [rnd[key] for rnd in peer_rounds if key in rnd]
        timed = [rec for rec in recs if "seconds" in rec]
        peers[key] = _combine(timed) if timed else recs[0]
    header = f"{'model':<22} {'ours ms':>9} {'obj - lme4':>11}"
    names = ["lme4", "mixedlm", "glmm"]
    for p in names:
        header += f" {p + ' ms':>11} {'x ' + p:>9}"
    print(header)
    for row in rows:
        line = f"{row['id']:<22} {row['ours']['seconds'] * 1e3:9.2f} {row['d_objective']:11.2e}"
        for p in names:
            rec = peers.get((row["id"], p))
            if rec is None or "seconds" not in rec:
                line += f" {'-':>11} {'-':>9}"
                continue
            ratio = row["ours"]["seconds"] / rec["seconds"] if rec["seconds"] > 0 else float("nan")
            line += f" {rec['seconds'] * 1e3:11.2f} {ratio:9.2f}"
            row[p] = rec
        print(line)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows}, indent=1, default=str))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
