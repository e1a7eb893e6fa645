"""Parametric bootstrap of a linear mixed model (lme4's ``bootMer``), percentile intervals.

Responses are simulated from the fit (seeded ``numpy.random.default_rng``; all draws are made
up front, so results do not depend on ``n_jobs``), and the model is refitted to each by reusing
its design: only the response rows of the PLS system change and the optimizer starts from the
fitted θ. GLMMs are refitted the same way (:func:`~multilevel.inference.glmm_refit.refit_glmm`:
the fitted problem with the simulated response, the optimizer starting from the fitted (θ, β)).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.errors import ModelError, MultilevelWarning
from multilevel.inference._common import (
    result_kind,
    variance_parameter_names,
    variance_parameter_values,
)
from multilevel.inference.refit import refit
from multilevel.inference.simulate import simulate_responses
from multilevel.optimize import OptimizerControl
from multilevel.progress import Progress

FloatArray = NDArray[np.float64]


def default_statistic(result: Any) -> pd.Series:
    """sd/cor of each random-effects term, σ (if the model has one), then the fixed effects
    (lme4's names)."""
    values = pd.Series(variance_parameter_values(result), index=variance_parameter_names(result))
    return pd.concat([values, result.fixef.rename(None)])


def refit_response(result: Any, y: FloatArray, control: OptimizerControl) -> Any:
    """The model refitted to response ``y`` (an LMM or a GLMM)."""
    if result_kind(result) == "glmm":
        from multilevel.inference.glmm_refit import refit_glmm

        return refit_glmm(result, y=y, control=control)
    return refit(result, y=y, control=control)


def _as_series(value: Any) -> pd.Series:
    if isinstance(value, pd.Series):
        return value.astype(float)
    if isinstance(value, dict):
        return pd.Series(value, dtype=float)
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    return pd.Series(arr, index=[f"t{i + 1}" for i in range(arr.size)])


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap replicates of a statistic.

    Attributes
    ----------
    t0
        The statistic on the fitted model.
    replicates
        One row per bootstrap sample (NaN where a refit failed).
    nfailed
        Number of refits that failed.
    """

    t0: pd.Series
    replicates: pd.DataFrame
    nfailed: int = 0

    @property
    def nsim(self) -> int:
        """Number of bootstrap samples."""
        return len(self.replicates)

    @property
    def se(self) -> pd.Series:
        """Bootstrap standard errors."""
        return self.replicates.std(ddof=1)

    @property
    def bias(self) -> pd.Series:
        """Mean of the replicates minus the estimate."""
        return self.replicates.mean() - self.t0

    def confint(self, level: float = 0.95, type: str = "perc") -> pd.DataFrame:
        """Bootstrap intervals: "perc" (percentile, default), "basic" or "norm".

        Percentiles use R's ``boot`` convention: the ((nsim + 1) α)-th order statistic, with
        linear interpolation on the normal-quantile scale between order statistics.
        """
        if not 0.0 < level < 1.0:
            raise ModelError(f"level must be between 0 and 1, got {level}")
        alpha = (1.0 - level) / 2.0
        rows = {}
        for name in self.replicates.columns:
            t = self.replicates[name].dropna().to_numpy()
            est = float(self.t0[name])
            if type == "norm":
                from scipy import stats

                half = stats.norm.ppf(1 - alpha) * float(np.std(t, ddof=1))
                center = est - (float(np.mean(t)) - est)
                rows[name] = (center - half, center + half)
                continue
            lo, hi = _boot_quantiles(t, (alpha, 1.0 - alpha))
            if type == "perc":
                rows[name] = (lo, hi)
            elif type == "basic":
                rows[name] = (2 * est - hi, 2 * est - lo)
            else:
                raise ModelError(f"type must be 'perc', 'basic' or 'norm', not {type!r}")
        out = pd.DataFrame.from_dict(rows, orient="index", columns=["lower", "upper"])
        out.index.name = "parameter"
        return out

    def __repr__(self) -> str:
        return (f"<BootstrapResult nsim={self.nsim}, statistics={list(self.t0.index)}, "
                f"failed={self.nfailed}>")


def _boot_quantiles(t: FloatArray, probs: tuple[float, float]) -> tuple[float, float]:
    """R boot's ``norm.inter``: order statistics at (R + 1)p, interpolated on the normal scale."""
    from scipy import stats

    t = np.sort(t)
    r = t.size
    if r == 0:
        return math.nan, math.nan
    out = []
    for p in probs:
        rk = (r + 1) * p
        k = math.floor(rk)
        if k == rk and 1 <= k <= r:
            out.append(float(t[k - 1]))
        elif k == 0:
            out.append(float(t[0]))
        elif k >= r:
            out.append(float(t[-1]))
        else:
            q = stats.norm.ppf
            w = (q(p) - q(k / (r + 1))) / (q((k + 1) / (r + 1)) - q(k / (r + 1)))
            out.append(float(t[k - 1] + w * (t[k] - t[k - 1])))
    return out[0], out[1]


_WORKER: dict[str, Any] = {}

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def worker_pool(n_jobs: int, initializer: Callable[..., None] | None = None,
                initargs: tuple[Any, ...] = ()) -> Iterator[ProcessPoolExecutor]:
    """A pool of fresh ("spawn") worker processes with single-threaded BLAS.

    Refits multiply tiny matrices, for which BLAS threads only contend with the other
    workers; the thread-count variables are set while the workers start and then restored.
    """
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    for k in _THREAD_VARS:
        os.environ.setdefault(k, "1")
    try:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(n_jobs, mp_context=ctx, initializer=initializer,
                                 initargs=initargs) as pool:
            yield pool
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _init_worker(result: Any, statistic: Callable[[Any], Any]) -> None:
    _WORKER["result"] = result
    _WORKER["statistic"] = statistic
    _WORKER["control"] = refit_control(result)


def refit_control(result: Any) -> OptimizerControl:
    """The fit's optimizer settings, relaxed for bootstrap refits (which start at θ̂): a
    relative tolerance of 1e-10 on the objective and no restart."""
    ctrl = result.options.control
    changes: dict[str, Any] = {"ftol_rel": max(ctrl.ftol_rel, 1e-10)}
    for name in ("restart", "restart_edge"):
        if any(f.name == name for f in dataclasses.fields(ctrl)):
            changes[name] = False
    return dataclasses.replace(ctrl, **changes)


def _one(result: Any, statistic: Callable[[Any], Any], y: FloatArray,
         control: OptimizerControl) -> pd.Series | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _as_series(statistic(refit_response(result, y, control)))
    except (ArithmeticError, ValueError, np.linalg.LinAlgError):
        return None


def _chunk(ys: FloatArray) -> list[pd.Series | None]:
    return [_one(_WORKER["result"], _WORKER["statistic"], y, _WORKER["control"]) for y in ys]


def bootstrap(
    result: Any,
    nsim: int = 1000,
    statistic: Callable[[Any], Any] | None = None,
    seed: Any = None,
    n_jobs: int = 1,
    re_form: Any = "~0",
    progress: bool = True,
) -> BootstrapResult:
    """Parametric bootstrap: simulate from the fit, refit, collect a statistic.

    Parameters
    ----------
    result
        A fitted linear or generalized linear mixed model. A GLMM's responses are drawn from
        its family (binomial with its trials, Poisson, negative binomial with θ̂, Gamma and
        inverse Gaussian with dispersion σ̂²) and each refit re-estimates (θ, β) (and the
        negative binomial's θ) from the fitted values; the refit's covariance of β̂ is
        computed only if the statistic uses it.
    nsim
        Number of bootstrap samples.
    statistic
        Function of a fitted model returning a number, array, dict or Series (default: the
        sd/cor parameters, σ and the fixed effects, named as lme4's ``confint`` names them).
        With ``n_jobs > 1`` it must be picklable (a module-level function).
    seed
        Seed (or Generator) for ``numpy.random.default_rng``.
    n_jobs
        Number of worker processes for the refits.
    re_form
        Random effects to condition on when simulating (see :func:`simulate`); "~0" (default)
        draws all of them anew, as ``bootMer``'s default.
    progress
        Show a progress bar on stderr.

    Returns
    -------
    BootstrapResult
        ``.replicates``, ``.t0``, ``.confint(level)``, ``.se``, ``.bias``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
    >>> b = ml.bootstrap(m, nsim=20, seed=1, progress=False)
    >>> b.replicates.shape
    (20, 4)
    """
    result_kind(result)
    stat = default_statistic if statistic is None else statistic
    rng = np.random.default_rng(seed)
    ys = simulate_responses(result, int(nsim), rng, re_form)
    t0 = _as_series(stat(result))
    out: list[pd.Series | None] = []
    with Progress(nsim, "bootstrap", enabled=progress) as bar:
        if n_jobs is None or n_jobs <= 1:
            control = refit_control(result)
            for y in ys:
                out.append(_one(result, stat, y, control))
                bar.update()
        else:
            size = max(1, min(25, math.ceil(nsim / (4 * n_jobs))))
            chunks = [ys[i : i + size] for i in range(0, nsim, size)]
            with worker_pool(n_jobs, _init_worker, (result, stat)) as pool:
                for part in pool.map(_chunk, chunks):
                    out.extend(part)
                    bar.update(len(part))
    nfailed = sum(v is None for v in out)
    if nfailed:
        warnings.warn(f"{nfailed} of {nsim} bootstrap refits failed (NaN rows)",
                      MultilevelWarning, stacklevel=2)
    rows = [v.reindex(t0.index) if v is not None else pd.Series(np.nan, index=t0.index)
            for v in out]
    reps = pd.DataFrame([r.to_numpy() for r in rows], columns=t0.index)
    return BootstrapResult(t0=t0, replicates=reps, nfailed=nfailed)
