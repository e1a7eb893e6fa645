"""Convergence diagnostics of MCMC draws: rank-normalized split R-hat and bulk ESS.

As Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), the definitions of Stan, posterior
and ArviZ: chains are split in halves, the draws replaced by the normal scores of their ranks
(pooled over chains), and R-hat is the larger of the R-hats of those scores and of the scores of
the folded draws |x - median|; the bulk effective sample size is the ESS of the rank-normalized
split chains. The R-hat and ESS estimators themselves are NumPyro's (``gelman_rubin``,
``effective_sample_size``: Geyer's initial monotone sequence).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from multilevel.lazy import stats

FloatArray = NDArray[np.float64]

#: R-hat above this is reported (Vehtari et al. 2021).
RHAT_MAX = 1.01
#: Bulk ESS below this per chain is reported.
ESS_PER_CHAIN_MIN = 100


def split_chains(x: FloatArray) -> FloatArray:
    """(chains, draws) → (2 chains, draws // 2): each chain cut in halves (middle draw of an
    odd-length chain dropped)."""
    x = np.asarray(x, dtype=float)
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)


def z_scale(x: FloatArray) -> FloatArray:
    """Normal scores of the pooled ranks: Φ⁻¹((r - 3/8) / (S + 1/4)), ties averaged."""
    x = np.asarray(x, dtype=float)
    ranks = stats.rankdata(x, method="average").reshape(x.shape)
    return np.asarray(stats.norm.ppf((ranks - 0.375) / (x.size + 0.25)))


def _usable(x: FloatArray) -> bool:
    return bool(np.all(np.isfinite(x)) and np.ptp(x) > 0 and x.shape[1] >= 4)


def rhat(x: FloatArray) -> float:
    """Rank-normalized split R-hat of one scalar's draws (chains, draws); NaN if constant."""
    from numpyro.diagnostics import gelman_rubin

    x = np.asarray(x, dtype=float)
    if not _usable(x):
        return float("nan")
    bulk = float(gelman_rubin(z_scale(split_chains(x))))
    folded = np.abs(x - np.median(x))
    tail = float(gelman_rubin(z_scale(split_chains(folded)))) if np.ptp(folded) > 0 else bulk
    return max(bulk, tail)


def ess_bulk(x: FloatArray) -> float:
    """Bulk effective sample size of one scalar's draws (chains, draws); NaN if constant."""
    from numpyro.diagnostics import effective_sample_size

    x = np.asarray(x, dtype=float)
    if not _usable(x):
        return float("nan")
    ess = float(effective_sample_size(z_scale(split_chains(x))))
    # Geyer's estimator can return a non-positive value for very short chains: no estimate.
    return ess if np.isfinite(ess) and ess > 0 else float("nan")


def sampler_messages(
    diverging: NDArray[np.bool_],
    num_steps: NDArray[np.int64],
    max_tree_depth: int,
    rhats: dict[str, float],
    ess: dict[str, float],
) -> list[str]:
    """Messages about divergences, saturated trees, high R-hat and low ESS (empty if none).

    Parameters
    ----------
    diverging, num_steps
        Per iteration after warmup (chains, draws).
    max_tree_depth
        The sampler's limit (trees of ``2**depth - 1`` steps hit it).
    rhats, ess
        R-hat and bulk ESS of each parameter.
    """
    out = []
    chains, draws = diverging.shape
    ndiv = int(diverging.sum())
    if ndiv:
        out.append(
            f"{ndiv} divergent transition{'s' if ndiv > 1 else ''} after warmup (of "
            f"{chains * draws}): the draws may be biased; increase target_accept (e.g. 0.99) "
            "or tighten the priors"
        )
    full = int(np.sum(num_steps >= 2**max_tree_depth - 1))
    if full:
        out.append(
            f"{full} iteration{'s' if full > 1 else ''} reached the maximum tree depth "
            f"({max_tree_depth}): sampling is inefficient; increase max_tree_depth"
        )
    high = sorted(k for k, v in rhats.items() if np.isfinite(v) and v > RHAT_MAX)
    if high:
        worst = max(rhats[k] for k in high)
        out.append(
            f"R-hat above {RHAT_MAX} (up to {worst:.3f}) for {', '.join(high[:5])}"
            f"{' ...' if len(high) > 5 else ''}: the chains have not mixed; run more draws"
        )
    low = sorted(k for k, v in ess.items() if np.isfinite(v) and v < ESS_PER_CHAIN_MIN * chains)
    if low:
        worst = min(ess[k] for k in low)
        out.append(
            f"bulk effective sample size below {ESS_PER_CHAIN_MIN * chains} "
            f"({ESS_PER_CHAIN_MIN} per chain; down to {worst:.0f}) for {', '.join(low[:5])}"
            f"{' ...' if len(low) > 5 else ''}: run more draws"
        )
    return out


__all__ = ["ess_bulk", "rhat", "sampler_messages", "split_chains", "z_scale"]
