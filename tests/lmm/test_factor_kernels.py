"""L(θ) with the compiled first block and the tiled downdate against the plain computations.

The tiled downdate sums every element's terms in the order of the one-pass downdate, so the
factor must be identical to the last bit; the compiled first block must match the NumPy stack
computation to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.linalg import kernels, tiling
from multilevel.linalg.blockdiag import batched_cholesky, batched_lower_inverse
from multilevel.lmm import TermBlock, build_system, update_factor


def crossed_problem(seed: int, qs: tuple[int, ...], nlevels: tuple[int, ...]):
    rng = np.random.default_rng(seed)
    n = 400
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ np.array([1.0, 0.5]) + rng.normal(size=n)
    terms = []
    for q, nl in zip(qs, nlevels, strict=True):
        index = rng.integers(0, nl, size=n)
        index[:nl] = np.arange(nl)
        z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(q - 1)])
        terms.append(TermBlock(index.astype(np.intp), z, nl))
    system = build_system(X, y, terms)
    theta = system.layout.start() * 0.8 + 0.1 * rng.random(system.layout.start().shape)
    return system, theta


def numpy_first_block(a11, lam):
    q = lam.shape[0]
    m = np.matmul(np.matmul(lam.T, a11), lam)
    m[:, np.arange(q), np.arange(q)] += 1.0
    l11 = batched_cholesky(m)
    return l11, np.matmul(lam, np.transpose(batched_lower_inverse(l11), (0, 2, 1)))


CASES = [
    ((1, 1), (60, 25)),
    ((2, 1), (60, 25)),
    ((2, 2), (50, 21)),
    ((1, 1, 1), (60, 25, 9)),
    ((2, 1, 2), (50, 21, 8)),
]


@pytest.mark.parametrize("qs,nlevels", CASES)
@pytest.mark.parametrize("tile", [1, 4, 7])
def test_tiled_factor_is_identical(monkeypatch, qs, nlevels, tile):
    system, theta = crossed_problem(sum(qs) + len(qs), qs, nlevels)
    plain = update_factor(system, theta)
    monkeypatch.setattr(tiling, "TILED_MIN_BYTES", 0)
    monkeypatch.setattr(tiling, "TILE_ELEMENTS", tile)
    tiled = update_factor(system, theta)
    for key, block in plain.l_dense.items():
        np.testing.assert_array_equal(tiled.l_dense[key], block)
    np.testing.assert_array_equal(tiled.l_xx, plain.l_xx)
    assert tiled.pwrss == plain.pwrss
    assert tiled.logdet_l() == plain.logdet_l()


@pytest.mark.parametrize("qs,nlevels", [c for c in CASES if c[0][0] > 1])
def test_compiled_first_block_matches_numpy(monkeypatch, qs, nlevels):
    system, theta = crossed_problem(7 * len(qs), qs, nlevels)
    compiled = update_factor(system, theta)
    monkeypatch.setattr(kernels, "first_block", numpy_first_block)
    plain = update_factor(system, theta)
    np.testing.assert_allclose(compiled.l11, plain.l11, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(compiled.p1, plain.p1, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(compiled.l_xx, plain.l_xx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(compiled.pwrss, plain.pwrss, rtol=1e-12)
    np.testing.assert_allclose(compiled.logdet_l(), plain.logdet_l(), rtol=1e-12)
