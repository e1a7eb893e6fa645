"""Few groups: does the Bayesian fit cover the true group SD where REML puts it at zero?

Replicates the few-groups check of issue 6 over many seeds. Each replicate draws 5 groups of 8
observations from ``y = 1 + x/2 + u_group + e`` with ``u ~ N(0, 0.5²)`` and ``e ~ N(0, 1)``,
fits REML and the Bayesian model (4 chains × 1000 draws after 1000 warmup, default priors,
``target_accept=0.99`` as the docs advise for few groups), and records whether REML's SD is
zero (a singular fit), the Bayesian posterior median of the SD, its 90% and 95% equal-tailed
intervals, divergences and the largest R-hat. It
reports the coverage of the true SD (0.5) by the intervals over all replicates and over the
singular ones, next to how often REML's estimate is exactly zero.

Run:  .venv/bin/python benchmarks/bayes_few_groups.py [--seeds 100] [--chains 4] ...
(the first fit compiles the sampler; the others reuse it, a few seconds each).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import multilevel as ml

TRUE_SD = 0.5


def few_groups(seed: int, groups: int = 5, per: int = 8, tau: float = TRUE_SD) -> pd.DataFrame:
    """The benchmark's data (the same generator as the unit test's seeded case)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=g.size)
    y = 1.0 + 0.5 * x + rng.normal(0.0, tau, groups)[g] + rng.normal(0.0, 1.0, g.size)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical([f"g{k}" for k in g])})


def replicate(seed: int, args: argparse.Namespace) -> dict[str, float]:
    """One replicate: REML and Bayesian fits of one data set."""
    data = few_groups(seed, groups=args.groups, per=args.per)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reml = ml.fit("y ~ x + (1 | g)", data)
        bayes = ml.fit("y ~ x + (1 | g)", data, method="bayes", chains=args.chains,
                       draws=args.draws, warmup=args.warmup, seed=seed, progress=False,
                       target_accept=args.target_accept)
    sd = bayes.draws["sd_g__(Intercept)"].to_numpy()
    q = np.quantile(sd, [0.025, 0.05, 0.5, 0.95, 0.975])
    return {
        "seed": seed,
        "reml_sd": float(reml.varcorr.sdcor.iloc[0]),
        "singular": bool(reml.singular),
        "median": q[2],
        "cover90": bool(q[1] <= TRUE_SD <= q[3]),
        "cover95": bool(q[0] <= TRUE_SD <= q[4]),
        "width95": q[4] - q[0],
        "divergences": bayes.divergences,
        "max_rhat": float(bayes.diagnostics["r_hat"].max()),
        "seconds": bayes.sampler.seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--per", type=int, default=8)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--target-accept", type=float, default=0.99)
    args = parser.parse_args()
    start = time.perf_counter()
    rows = [replicate(seed, args) for seed in range(args.seeds)]
    out = pd.DataFrame(rows)
    single = out[out.singular]
    print(f"few groups: {args.groups} groups × {args.per}, true SD {TRUE_SD}, "
          f"{args.seeds} seeds, {args.chains} chains × {args.draws} draws "
          f"(warmup {args.warmup}), target_accept {args.target_accept}")
    print(f"REML SD exactly zero (singular): {len(single)} of {len(out)}")
    for name, part in (("all replicates", out), ("REML-singular replicates", single)):
        if not len(part):
            continue
        print(f"{name} ({len(part)}): coverage of the true SD: 90% interval "
              f"{part.cover90.mean():.2f}, 95% interval {part.cover95.mean():.2f}; posterior "
              f"median SD: median {part['median'].median():.3f}, min {part['median'].min():.3f}"
              f"; 95% width {part.width95.median():.2f}")
    print(f"fits with divergences: {(out.divergences > 0).sum()} of {len(out)} "
          f"(total {out.divergences.sum()}); R-hat > 1.01: {(out.max_rhat > 1.01).sum()}")
    print(f"seconds per fit: median {out.seconds.median():.1f} (first, compiling: "
          f"{out.seconds.iloc[0]:.1f}); total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
