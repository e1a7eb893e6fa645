"""Benchmark: the fixed cost of a small fit, split into the pipeline's phases.

Usage: python benchmarks/small_fits.py [--reps N] [--models name,name] [--cold] [--out FILE]

Each model is fitted ``--reps`` times from scratch with ``ml.fit`` (formula processing
included; the cache of parsed formulas is warm after the first fit, as in any session that
fits more than once). Timers around the pipeline's pieces split every fit into

- design: formula and data to y, X and the random-effects terms (``multilevel.fit._design``);
- system: the PLS structure (``pls_system``);
- optimize: the objective and the optimizer (``make_objective``, ``minimize``);
- convergence: the gradient and Hessian checks at the optimum (``check_convergence``);
- result: the rest (factor and estimates at the optimum, warnings, the result object),

and the table shows the median and the minimum of each over the repetitions, in milliseconds.
``props`` is the time to read the usual accessors of a fresh result afterwards (fixef, se,
varcorr, ranef, fitted; not part of ``total``). Run it with ``OPENBLAS_NUM_THREADS=1`` on a
shared machine; the minimum is the steadier number there. ``--cold`` adds the import time and
the first fit in a fresh process. For sleepstudy and Penicillin a last line times a refit on a
new response (``multilevel.inference.refit.refit``, as the bootstrap and simulation studies
use it).
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import multilevel as ml

# the module, not the function ``multilevel.fit`` that shadows it as an attribute
fit_module = importlib.import_module("multilevel.fit")

MODELS: dict[str, tuple[str, str]] = {
    "sleepstudy": ("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
    "Dyestuff": ("Dyestuff", "Yield ~ 1 + (1|Batch)"),
    "Penicillin": ("Penicillin", "diameter ~ 1 + (1|plate) + (1|sample)"),
    "Pastes": ("Pastes", "strength ~ 1 + (1|batch/cask)"),
    "Hsb82": ("Hsb82", "mAch ~ meanses*cses + sector*cses + (1 + cses|school)"),
}

# phase -> names in multilevel.fit that the fit calls through the module's globals
PHASES: dict[str, tuple[str, ...]] = {
    "design": ("_design",),
    "system": ("pls_system",),
    "optimize": ("make_objective", "minimize"),
    "convergence": ("check_convergence",),
}
COLUMNS = ("design", "system", "optimize", "convergence", "result", "total", "props")


@contextmanager
def phase_timers(clock: dict[str, float]) -> Iterator[None]:
    """Wrap the pipeline's pieces so that each call adds its time to ``clock[phase]``."""
    saved: dict[str, Any] = {}

    def timed(phase: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                clock[phase] = clock.get(phase, 0.0) + time.perf_counter() - start

        return wrapper

    for phase, names in PHASES.items():
        for name in names:
            func = getattr(fit_module, name, None)
            if callable(func):
                saved[name] = func
                setattr(fit_module, name, timed(phase, func))
    try:
        yield
    finally:
        for name, func in saved.items():
            setattr(fit_module, name, func)


def read_accessors(result: Any) -> None:
    """What a user reads first from a fit."""
    _ = (result.fixef, result.se, result.varcorr, result.ranef, result.fitted)


def time_model(dataset: str, formula: str, reps: int) -> dict[str, list[float]]:
    """Phase times (seconds) of ``reps`` fresh fits of one model."""
    data = ml.datasets.load(dataset)
    out: dict[str, list[float]] = {c: [] for c in COLUMNS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_accessors(ml.fit(formula, data))  # warm-up: imports, caches, compiled kernels
        with phase_timers(clock := {}):
            for _ in range(reps):
                clock.clear()
                start = time.perf_counter()
                result = ml.fit(formula, data)
                total = time.perf_counter() - start
                start = time.perf_counter()
                read_accessors(result)
                props = time.perf_counter() - start
                for phase in PHASES:
                    out[phase].append(clock.get(phase, 0.0))
                out["result"].append(total - sum(clock.values()))
                out["total"].append(total)
                out["props"].append(props)
    return out


def time_refit(dataset: str, formula: str, reps: int) -> list[float]:
    """Seconds of ``reps`` refits on new responses (simulated from the fit), as a bootstrap
    does them: the design and the symbolic structure are reused, only y changes."""
    from multilevel.inference.refit import refit

    data = ml.datasets.load(dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ml.fit(formula, data)
        ys = result.simulate(reps + 1, seed=1).to_numpy()
        refit(result, y=ys[:, 0])  # warm-up
        out = []
        for k in range(1, reps + 1):
            start = time.perf_counter()
            refit(result, y=ys[:, k])
            out.append(time.perf_counter() - start)
    return out


def cold_start(dataset: str, formula: str) -> dict[str, float]:
    """Import time and first-fit time in a fresh interpreter."""
    code = (
        "import time, warnings, json\n"
        "t0 = time.perf_counter()\n"
        "import multilevel as ml\n"
        "t1 = time.perf_counter()\n"
        f"data = ml.datasets.load({dataset!r})\n"
        "warnings.simplefilter('ignore')\n"
        "t2 = time.perf_counter()\n"
        f"ml.fit({formula!r}, data)\n"
        "t3 = time.perf_counter()\n"
        "print(json.dumps({'import': t1 - t0, 'first_fit': t3 - t2}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {k: float(v) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="fits per model (default 200)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated names")
    parser.add_argument("--cold", action="store_true", help="also time a fresh process")
    parser.add_argument("--out", type=Path, help="write the numbers as JSON")
    args = parser.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(MODELS)}")
    print(f"ms per fresh fit, {args.reps} fits each: median / min")
    print(f"{'model':<11}" + "".join(f"{c:>15}" for c in COLUMNS))
    table: dict[str, Any] = {}
    for name in names:
        dataset, formula = MODELS[name]
        reps = max(1, args.reps // 10) if name == "Hsb82" else args.reps
        times = time_model(dataset, formula, reps)
        row = {
            c: {"median_ms": 1e3 * statistics.median(v), "min_ms": 1e3 * min(v)}
            for c, v in times.items()
        }
        cells = "".join(f"{row[c]['median_ms']:7.2f} /{row[c]['min_ms']:6.2f}" for c in COLUMNS)
        print(f"{name:<11}{cells}")
        table[name] = {"formula": formula, "reps": reps, "phases": row}
        if args.cold:
            cold = cold_start(dataset, formula)
            table[name]["cold_s"] = cold
            print(
                f"{'':<11}cold process: import {cold['import']:.2f} s, "
                f"first fit {1e3 * cold['first_fit']:.1f} ms"
            )
    for name in ("sleepstudy", "Penicillin"):
        if name in names:
            dataset, formula = MODELS[name]
            ts = time_refit(dataset, formula, args.reps)
            med, low = 1e3 * statistics.median(ts), 1e3 * min(ts)
            print(f"{name:<11}refit on a new response: {med:.2f} / {low:.2f} ms (median / min)")
            table[name]["refit_ms"] = {"median_ms": med, "min_ms": low}
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(table, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
