"""Time and check the Bayesian sleepstudy fit of issue 6 in a fresh process.

``Reaction ~ Days + (Days | Subject)`` with the defaults (4 chains × 1000 draws after 1000
warmup, sequential chains, float64): wall-clock time from before ``import multilevel`` to the
result (imports and JAX compilation included), then the posterior medians against the REML fit
(fixed effects within 2%, SDs within 15%), the largest R-hat (< 1.01) and the divergences (0).

Run:  .venv/bin/python benchmarks/bayes_sleepstudy.py [--seed 1] [--chain-method sequential]
"""

from __future__ import annotations

import argparse
import os
import time

START = time.perf_counter()

import multilevel as ml  # noqa: E402  (timed from the import on)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chain-method", default="sequential")
    args = parser.parse_args()
    data = ml.datasets.load("sleepstudy")
    formula = "Reaction ~ Days + (Days | Subject)"
    bayes = ml.fit(formula, data, method="bayes", seed=args.seed, progress=False,
                   chain_method=args.chain_method)
    total = time.perf_counter() - START
    reml = ml.fit(formula, data)
    med = bayes.draws.median()
    print(f"sleepstudy, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}: "
          f"{total:.1f} s from import to result (sampler {bayes.sampler.seconds:.1f} s), "
          f"chain_method={args.chain_method!r}")
    for name in reml.fixef.index:
        print(f"  {name:<24} median {med[name]:9.3f}  REML {reml.fixef[name]:9.3f}  "
              f"rel. diff {med[name] / reml.fixef[name] - 1:+.2%}")
    vc = reml.varcorr
    for name in ("(Intercept)", "Days"):
        target = float(vc[(vc.var1 == name) & vc.var2.isna()].sdcor.iloc[0])
        key = f"sd_Subject__{name}"
        print(f"  {key:<24} median {med[key]:9.3f}  REML {target:9.3f}  "
              f"rel. diff {med[key] / target - 1:+.2%}")
    print(f"  sigma                    median {med['sigma']:9.3f}  REML {reml.sigma:9.3f}")
    print(f"  max R-hat {bayes.diagnostics['r_hat'].max():.4f}, min bulk ESS "
          f"{bayes.diagnostics['ess_bulk'].min():.0f}, divergences {bayes.divergences}, mean "
          f"leapfrog steps {bayes.sampler.num_steps.mean():.0f}")


if __name__ == "__main__":
    main()
