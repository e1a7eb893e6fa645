"""Profile intervals by root finding: solve ζ(x) = ±z directly instead of interpolating.

Steps are taken on a scale where ζ is close to linear (log for standard deviations, atanh for
correlations), extrapolating from the last two points until ζ is bracketed, then Brent's method.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize

from multilevel.errors import ModelError
from multilevel.inference.glmm_profiler import AnyProfiler
from multilevel.lazy import stats

FloatArray = NDArray[np.float64]


def _to_u(prof: AnyProfiler, k: int, x: float) -> float:
    if prof.is_variance(k) and prof.sd_mask[k]:
        return math.log(max(x, 1e-300))
    if prof.is_variance(k):
        return math.atanh(max(min(x, 1 - 1e-15), -1 + 1e-15))
    return x


def _from_u(prof: AnyProfiler, k: int, u: float) -> float:
    if prof.is_variance(k) and prof.sd_mask[k]:
        return math.exp(u)
    if prof.is_variance(k):
        return math.tanh(u)
    return u


def _u_scale(prof: AnyProfiler, k: int) -> float:
    """A rough standard error of parameter k on the u scale (to size the first step)."""
    x = prof.estimate(k)
    if not prof.is_variance(k):
        return prof.std_error(k)
    sd = prof.sdcor_hat.copy()
    h = 1e-3 * max(abs(x), 1e-2)
    up, dn = sd.copy(), sd.copy()
    up[k] += h
    dn[k] -= h
    f0, f1, f2 = prof.base, prof.deviance_sdcor(up), prof.deviance_sdcor(dn)
    curv = (f1 - 2 * f0 + f2) / h**2 if math.isfinite(f2) else 2 * (f1 - f0) / h**2
    se = math.sqrt(2.0 / curv) if math.isfinite(curv) and curv > 0 else 0.1 * max(abs(x), 0.1)
    if prof.sd_mask[k]:
        return se / max(x, 1e-8)
    return se / max(1.0 - x * x, 1e-8)


def find_bound(prof: AnyProfiler, k: int, direction: int, target: float) -> float:
    """The value of parameter k where ζ = direction × target, or its bound if ζ stays
    smaller in absolute value all the way there."""
    x_hat = prof.estimate(k)
    lower, upper = prof.bounds(k)
    bound = lower if direction < 0 else upper
    if math.isfinite(bound) and abs(x_hat - bound) < 1e-10:
        return bound
    u_hat = _to_u(prof, k, x_hat)
    step = max(_u_scale(prof, k), 1e-6) * target
    pts: list[tuple[float, float]] = [(u_hat, 0.0)]
    warm: FloatArray | None = None
    u = u_hat + direction * step
    for _ in range(60):
        x = _from_u(prof, k, u)
        if math.isfinite(bound) and (x - bound) * direction >= 0:
            z_b, _ = prof.zeta(k, bound, warm)
            if not abs(z_b) >= target:
                return bound
            x = bound
            u = _to_u(prof, k, bound)
        z, warm = prof.zeta(k, x, warm)
        if abs(z) >= target:
            return _brent(prof, k, pts[-1][0], u, target, warm)
        pts.append((u, abs(z)))
        (u1, z1), (u2, z2) = pts[-2], pts[-1]
        slope = (z2 - z1) / (u2 - u1) if u2 != u1 else 0.0
        if slope * direction > 1e-12:
            jump = abs((target - z2) / slope) * 1.05
            u = u2 + direction * min(max(jump, 0.1 * abs(step)), 4 * abs(u2 - u1))
        else:
            u = u2 + 2 * (u2 - u1)
    raise ModelError(f"the profile of {prof.names[k]} does not reach ζ = {target:.3g}")


def _brent(prof: AnyProfiler, k: int, lo_u: float, hi_u: float, target: float,
           warm: FloatArray | None) -> float:
    state: dict[str, Any] = {"warm": warm}

    def g(u: float) -> float:
        z, w = prof.zeta(k, _from_u(prof, k, u), state["warm"])
        state["warm"] = w
        return abs(z) - target

    root = optimize.brentq(g, lo_u, hi_u, xtol=1e-10, rtol=1e-10, maxiter=100)
    return _from_u(prof, k, float(root))


def exact_bounds(prof: AnyProfiler, level: float, parm: Sequence[str] | str | None
                 ) -> pd.DataFrame:
    """Profile intervals of the selected parameters by root finding."""
    target = float(stats.norm.ppf(0.5 + level / 2.0))
    rows = prof.select(parm)
    out = pd.DataFrame(
        {
            "lower": [find_bound(prof, k, -1, target) for k in rows],
            "upper": [find_bound(prof, k, +1, target) for k in rows],
        },
        index=pd.Index([prof.names[k] for k in rows], name="parameter"),
    )
    return out.astype(np.float64)
