"""Running NUTS with NumPyro: float64, explicit chain methods, seeds, JAX left as found.

Float64 without touching JAX's global configuration: the chains run inside JAX's scoped
``jax.enable_x64(True)`` context (``jax.experimental.enable_x64()`` on older JAX), which turns
64-bit types on for the sampling only and restores the caller's setting afterwards. If the
caller has already enabled x64 globally (``jax.config.update("jax_enable_x64", True)`` or
``numpyro.enable_x64()`` at start-up) nothing changes. ``enable_x64=True`` asks the library to
make that global call itself (once, as the caller's explicit choice); on a JAX without the
scoped context that is the only way, and the error says so.

Chains: ``chain_method="sequential"`` (default: one after another on one device),
``"vectorized"`` (all chains at once, vectorized with ``vmap``) or ``"parallel"`` (one chain
per device, in rounds when there are more chains than devices). On a CPU JAX sees one device
unless told otherwise *before it is first used*: call ``numpyro.set_host_device_count(4)`` at
the top of the program (or set ``XLA_FLAGS=--xla_force_host_platform_device_count=4``); the
library never does it for you.

A chain's random numbers (its NUTS key and its starting point) depend only on the seed and the
chain's number, so chain c of a fit is the same whatever the number of chains and the chain
method.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.bayes.density import Site, Structure
from multilevel.bayes.model import Standardized
from multilevel.bayes.resolve import ResolvedPriors
from multilevel.errors import ModelError, NotSupportedError

FloatArray = NDArray[np.float64]

CHAIN_METHODS = ("sequential", "vectorized", "parallel")
#: NUTS iterations per compiled call (the last call's extra iterations are discarded).
BLOCK = 50
INSTALL_HINT = 'pip install "multilevel[bayes]"'


def require_numpyro() -> None:
    """Raise :class:`NotSupportedError` naming the extra when NumPyro or JAX is missing."""
    try:
        import jax  # noqa: F401
        import numpyro  # noqa: F401
    except ImportError as exc:
        raise NotSupportedError(
            f"method='bayes' needs NumPyro and JAX, which are not installed ({exc.name}): "
            f"install the extra with  {INSTALL_HINT}"
        ) from exc


def x64_enabled() -> bool:
    """True when JAX's 64-bit mode is on in the current context."""
    import jax.numpy as jnp

    return bool(jnp.zeros(()).dtype == np.float64)


def _scoped_x64() -> Callable[[], contextlib.AbstractContextManager[Any]] | None:
    """JAX's scoped x64 switch: ``jax.enable_x64`` (new JAX) or ``jax.experimental``'s."""
    import jax

    state = getattr(jax, "enable_x64", None)
    if state is not None:
        return lambda: state(True)
    import importlib

    experimental = getattr(importlib.import_module("jax.experimental"), "enable_x64", None)
    if experimental is None:
        return None
    return lambda: experimental(True)


@contextlib.contextmanager
def float64(enable_x64: bool = False) -> Iterator[None]:
    """A context in which JAX computes in float64 (see the module docstring).

    Parameters
    ----------
    enable_x64
        Turn x64 on globally (``numpyro.enable_x64()``) instead of in a scope.

    Raises
    ------
    ModelError
        When no scoped switch exists and ``enable_x64`` is False.
    """
    if x64_enabled():
        yield
        return
    if enable_x64:
        import numpyro

        numpyro.enable_x64()
        yield
        return
    scoped = _scoped_x64()
    if scoped is None:
        raise ModelError(
            "sampling needs JAX's 64-bit mode, and this JAX has no scoped switch for it: call "
            'jax.config.update("jax_enable_x64", True) (or numpyro.enable_x64()) at the start '
            "of your program, or pass enable_x64=True to let multilevel do it"
        )
    with scoped():
        if not x64_enabled():  # pragma: no cover - a JAX whose scoped switch does nothing
            raise ModelError(
                'JAX did not switch to float64; call jax.config.update("jax_enable_x64", '
                "True) at the start of your program or pass enable_x64=True"
            )
        yield


def check_chain_method(chain_method: str, chains: int) -> int:
    """Refuse an unknown chain method, or "parallel" on a single device; return the number of
    chains run at once ("parallel" runs rounds of one chain per device)."""
    if chain_method not in CHAIN_METHODS:
        raise ModelError(
            f"chain_method={chain_method!r}: use one of {', '.join(map(repr, CHAIN_METHODS))}"
        )
    if chain_method == "sequential":
        return 1
    if chain_method == "vectorized":
        return chains
    import jax

    devices = jax.local_device_count()
    if devices < 2 and chains > 1:
        raise ModelError(
            f"chain_method='parallel' runs one chain per device, but JAX sees {devices} "
            f"device. On a CPU, call numpyro.set_host_device_count({chains}) at the very start "
            "of the program, before JAX is first used (or set the environment variable "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={chains}); or use "
            "chain_method='sequential' or 'vectorized'"
        )
    return min(devices, chains)


@dataclass(frozen=True)
class SamplerStats:
    """What NUTS did, besides the draws.

    Attributes
    ----------
    diverging
        Divergent transitions after warmup (chains, draws).
    num_steps
        Leapfrog steps per iteration (chains, draws).
    accept_prob
        Mean acceptance probability per iteration (chains, draws).
    step_size
        Step size after adaptation, per chain.
    seconds
        Wall-clock time of warmup and sampling (compilation included).
    max_tree_depth
        The sampler's limit on tree depth.
    """

    diverging: NDArray[np.bool_]
    num_steps: NDArray[np.int64]
    accept_prob: FloatArray
    step_size: FloatArray
    seconds: float
    max_tree_depth: int

    @property
    def divergences(self) -> int:
        """Number of divergent transitions after warmup."""
        return int(self.diverging.sum())


def _valid_start(
    energy: Callable[[dict[str, Any], dict[str, Any]], Any], args: dict[str, Any],
    all_sites: tuple[Site, ...], chains: int, seed: int,
) -> dict[str, FloatArray]:
    """Starting points of the chains (leading axis: chain), each redrawn closer to zero until
    its potential energy is finite."""
    from multilevel.bayes.density import initial_values

    starts = []
    for c in range(chains):
        radius = 1.0
        for _ in range(50):
            init = initial_values(all_sites, c, seed, radius)
            if np.isfinite(float(energy(init, args))):
                break
            radius /= 2.0
        else:
            raise ModelError(
                "no starting point with a finite log density was found: check the link "
                "(identity and inverse links need a positive mean) and the priors"
            )
        starts.append(init)
    return {s.name: np.stack([st[s.name] for st in starts]) for s in all_sites}


@functools.lru_cache(maxsize=16)
def _compiled(
    structure: Structure, warmup: int, block: int, target_accept: float, max_tree_depth: int,
    chain_method: str,
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """Compiled ``energy(free, args)``, ``init(params, key, args) -> state`` and
    ``advance(state, args) -> (state, trace)`` (``block`` NUTS iterations) for a structure,
    mapped over chains for the vectorized and parallel methods. Cached: models of one structure
    (replications, simulation studies) reuse the compiled sampler (JAX's own cache keys the
    compiled programs on array shapes and dtypes).

    NumPyro's functional NUTS (``numpyro.infer.hmc.hmc``) with its warmup adaptation (step size
    and diagonal mass matrix, Stan's windows) is compiled once and reused for every chain and
    block, where ``MCMC`` would recompile its loop for each sequential chain.
    """
    import jax
    from jax import lax
    from numpyro.infer.hmc import hmc

    from multilevel.bayes.density import log_density

    logp = log_density(structure)

    def energy(free: dict[str, Any], args: dict[str, Any]) -> Any:
        return -logp(free, args)

    init_kernel, sample_kernel = hmc(
        potential_fn_gen=lambda args: (lambda free: energy(free, args)), algo="NUTS"
    )

    def init(params: dict[str, Any], key: Any, args: dict[str, Any]) -> Any:
        return init_kernel(
            params, num_warmup=warmup, target_accept_prob=target_accept,
            max_tree_depth=max_tree_depth, model_args=(args,), rng_key=key,
        )

    def advance(state: Any, args: dict[str, Any]) -> Any:
        def step(current: Any, _: Any) -> Any:
            new = sample_kernel(current, model_args=(args,))
            keep = (new.z, new.diverging, new.num_steps, new.accept_prob,
                    new.adapt_state.step_size)
            return new, keep

        return lax.scan(step, state, None, length=block)

    if chain_method == "sequential":
        return jax.jit(energy), jax.jit(init), jax.jit(advance)
    if chain_method == "vectorized":
        return (jax.jit(energy), jax.jit(jax.vmap(init, in_axes=(0, 0, None))),
                jax.jit(jax.vmap(advance, in_axes=(0, None))))
    return (jax.jit(energy), jax.pmap(init, in_axes=(0, 0, None)),
            jax.pmap(advance, in_axes=(0, None)))


def run_nuts(
    std: Standardized,
    priors: ResolvedPriors,
    *,
    draws: int,
    warmup: int,
    chains: int,
    seed: int,
    chain_method: str,
    target_accept: float,
    max_tree_depth: int,
    progress: bool,
    enable_x64: bool = False,
) -> tuple[dict[str, FloatArray], SamplerStats]:
    """Sample the model's posterior with NUTS.

    Parameters
    ----------
    std, priors
        The standardized data and the resolved priors (see :mod:`multilevel.bayes.density`).
    draws, warmup, chains
        Draws kept per chain, warmup iterations per chain, number of chains.
    seed
        Seed of ``jax.random.PRNGKey`` and of the starting points.
    chain_method
        "sequential", "vectorized" or "parallel".
    target_accept
        Target acceptance probability of the step-size adaptation.
    max_tree_depth
        Maximum depth of the NUTS trees.
    progress
        Show a progress bar (:class:`multilevel.progress.Progress`) while sampling.
    enable_x64
        Enable x64 globally rather than in a scope (see :func:`float64`).

    Returns
    -------
    samples, stats
        Site name → float64 array (chains, draws, ...) of the constrained values, and the
        sampler's statistics.
    """
    require_numpyro()
    import jax

    from multilevel.bayes.density import arguments, constrain, sites, structure
    from multilevel.progress import Progress

    width = check_chain_method(chain_method, chains)
    for name, value in (("draws", draws), ("warmup", warmup), ("chains", chains)):
        if not (isinstance(value, int | np.integer) and value >= (0 if name == "warmup" else 1)):
            raise ModelError(f"{name} must be a positive integer, not {value!r}")
    if not 0.0 < target_accept < 1.0:
        raise ModelError(f"target_accept must be between 0 and 1, not {target_accept!r}")
    start = time.perf_counter()
    total = int(warmup) + int(draws)
    block = BLOCK  # iterations per compiled call: the progress bar's step, not part of the key
    nblocks = -(-total // block)
    model = structure(std, priors)
    all_sites = sites(model, std.nlevels)
    with float64(enable_x64):
        energy, init_fn, advance = _compiled(
            model, int(warmup), block, float(target_accept), int(max_tree_depth), chain_method
        )
        args = {k: jax.numpy.asarray(v) for k, v in arguments(std, priors).items()}
        init = _valid_start(energy, args, all_sites, chains, int(seed))
        # chain c's key and start depend on (seed, c) only, not on the number of chains
        base = jax.random.PRNGKey(int(seed))
        keys = jax.numpy.stack([jax.random.fold_in(base, c) for c in range(chains)])
        groups = [list(range(c, min(c + width, chains))) for c in range(0, chains, width)]
        traces: list[list[Any]] = []
        label = f"NUTS {chains} chain{'s' if chains > 1 else ''}"
        with Progress(nblocks * len(groups), label, enabled=progress) as bar:
            for group in groups:
                if chain_method == "sequential":
                    c = group[0]
                    state = init_fn({k: v[c] for k, v in init.items()}, keys[c], args)
                else:
                    rows = np.asarray(group)
                    state = init_fn({k: v[rows] for k, v in init.items()}, keys[rows], args)
                parts = []
                for _ in range(nblocks):
                    state, trace = advance(state, args)
                    parts.append(jax.device_get(trace))
                    bar.update()
                traces.append(parts)
        out = _collect(traces, chain_method, int(warmup), int(draws))
        samples = constrain(all_sites, out["z"])
    step = out["step_size"]
    stats = SamplerStats(
        diverging=np.asarray(out["diverging"], dtype=bool),
        num_steps=np.asarray(out["num_steps"], dtype=np.int64),
        accept_prob=np.asarray(out["accept_prob"], dtype=np.float64),
        step_size=np.asarray(step[:, -1], dtype=np.float64),
        seconds=time.perf_counter() - start,
        max_tree_depth=int(max_tree_depth),
    )
    return samples, stats


def _collect(
    traces: list[list[Any]], chain_method: str, warmup: int, draws: int
) -> dict[str, Any]:
    """Blocks of iterations → arrays (chains, draws, ...) without the warmup."""
    names = ("z", "diverging", "num_steps", "accept_prob", "step_size")

    def joined(parts: list[Any], k: int) -> Any:
        axis = 0 if chain_method == "sequential" else 1
        if k == 0:
            return {
                name: np.concatenate([np.asarray(p[0][name]) for p in parts], axis=axis)
                for name in parts[0][0]
            }
        return np.concatenate([np.asarray(p[k]) for p in parts], axis=axis)

    def cut(x: np.ndarray) -> np.ndarray:
        if chain_method == "sequential":
            return x[None, warmup : warmup + draws]
        return x[:, warmup : warmup + draws]

    out: dict[str, Any] = {}
    for k, name in enumerate(names):
        per_group = [joined(parts, k) for parts in traces]
        if name == "z":
            out[name] = {
                site: np.concatenate([cut(g[site]) for g in per_group], axis=0)
                for site in per_group[0]
            }
        else:
            out[name] = np.concatenate([cut(g) for g in per_group], axis=0)
    return out


__all__ = ["CHAIN_METHODS", "SamplerStats", "check_chain_method", "float64", "run_nuts"]
