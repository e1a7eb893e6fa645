"""The data of a Bayesian fit on the sampler's scale, and the draws mapped back to the data's.

The design is the likelihood fits' (:func:`~multilevel.design.build_design`, and the GLMM
problem for other families); :mod:`multilevel.bayes.density` writes the model's log density.

The sampler works on a standardized scale: for Gaussian models y is centred and scaled,
``y* = (y - offset - m) / s`` with m, s the mean and SD of ``y - offset`` (m = 0 in a model
without an intercept; m = 0, s = 1 for other families, whose linear predictor keeps the
offset); fixed-effect columns are centred (in
a model with an intercept) and scaled, ``x* = (x - c) / d``; random-effect columns are scaled,
``z* = z / d_z``. Random effects are non-centred: for each level j of a term,
``b*_j = diag(τ*) L z_j`` with ``z_j ~ N(0, I)``, τ* the standardized SDs and L the Cholesky
factor of the correlation matrix (LKJ prior). :func:`to_original` maps draws back to the data's
units: β, the random effects b, their SDs and correlations, σ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from multilevel.bayes.priors import group_by_family
from multilevel.bayes.resolve import PriorContext, ResolvedPriors
from multilevel.design import Design
from multilevel.errors import DataError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class Standardized:
    """The data on the sampler's scale and the constants that map back.

    Attributes
    ----------
    family, link
        Family name ("gaussian", "binomial", ...) and link name.
    y
        y* for Gaussian models; y otherwise (successes for binomial).
    trials
        Binomial trials (prior weights times trials); None for other families.
    weights
        Precision weights (Gaussian) or log-likelihood weights (others); None for all ones.
    offset
        Offset on η (zeros for Gaussian models, where it is folded into y*).
    m, s
        Location and scale of the response.
    intercept
        Position of the intercept column of X, or None.
    slopes
        Positions of the other columns of X.
    x_center, x_scale
        c and d of each slope column.
    X
        The standardized slope columns (n, len(slopes)).
    codes, z, z_scale, nlevels
        Per random-effects term: level codes, standardized columns, d_z, number of levels.
    """

    family: str
    link: str
    y: FloatArray
    trials: FloatArray | None
    weights: FloatArray | None
    offset: FloatArray
    m: float
    s: float
    intercept: int | None
    slopes: tuple[int, ...]
    x_center: FloatArray
    x_scale: FloatArray
    X: FloatArray
    codes: tuple[IntArray, ...]
    z: tuple[FloatArray, ...]
    z_scale: tuple[FloatArray, ...]
    nlevels: tuple[int, ...]

    @property
    def q(self) -> tuple[int, ...]:
        """Number of effects of each term."""
        return tuple(int(z.shape[1]) for z in self.z)

    def arrays(self) -> dict[str, Any]:
        """The arrays the model takes as its argument (passed, not closed over, so that large
        data are not baked into the compiled program)."""
        out: dict[str, Any] = {"y": self.y, "X": self.X, "offset": self.offset}
        if self.trials is not None:
            out["trials"] = self.trials
        if self.weights is not None:
            out["weights"] = self.weights
        for k, (codes, z) in enumerate(zip(self.codes, self.z, strict=True)):
            out[f"codes{k}"] = codes
            out[f"z{k}"] = z
        return out


def _column_scale(col: FloatArray, centred: bool) -> float:
    scale = float(np.std(col)) if centred else float(np.sqrt(np.mean(col**2)))
    return scale if scale > 0 and np.isfinite(scale) else 1.0


def standardize(
    design: Design,
    family: str,
    link: str,
    y: FloatArray,
    trials: FloatArray | None,
    weights: FloatArray | None,
    offset: FloatArray | None,
) -> Standardized:
    """Put a design on the sampler's scale.

    Parameters
    ----------
    design
        The model's design (X, terms).
    family, link
        Family and link names.
    y
        The response (proportions for binomial).
    trials
        Binomial trials per row (prior weights included); None otherwise.
    weights
        Prior weights (None: all ones); for binomial they are already in ``trials``.
    offset
        Offset (None: zeros).
    """
    n = y.shape[0]
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    X = design.X
    intercept = None
    if "(Intercept)" in design.xnames:
        pos = design.xnames.index("(Intercept)")
        intercept = pos if np.all(X[:, pos] == 1.0) else None
    if family == "gaussian":
        r = y - off
        # without an intercept, centring y would add one: only scale it
        m = float(np.mean(r)) if intercept is not None else 0.0
        s = float(np.std(r))
        if not s > 0:
            raise DataError("the response is constant: a Gaussian model needs some variation")
        ystar, off_star = (r - m) / s, np.zeros(n)
    else:
        m, s = 0.0, 1.0
        ystar = y * trials if family == "binomial" and trials is not None else y
        off_star = off
    slopes = tuple(j for j in range(X.shape[1]) if j != intercept)
    cols = X[:, list(slopes)]
    centred = intercept is not None
    center = cols.mean(axis=0) if centred else np.zeros(len(slopes))
    scale = np.array([_column_scale(cols[:, k], centred) for k in range(len(slopes))])
    xstar = (cols - center) / scale if slopes else np.zeros((n, 0))
    codes, zs, zscales, nlev = [], [], [], []
    for t in design.terms:
        dz = np.array([
            1.0 if np.ptp(t.z[:, j]) == 0 else _column_scale(t.z[:, j], True)
            for j in range(t.q)
        ])
        codes.append(np.asarray(t.grouping.codes, dtype=np.intp))
        zs.append(t.z / dz)
        zscales.append(dz)
        nlev.append(t.nlevels)
    return Standardized(
        family=family, link=link, y=np.asarray(ystar, dtype=float),
        trials=None if trials is None else np.asarray(trials, dtype=float),
        weights=None if weights is None else np.asarray(weights, dtype=float),
        offset=off_star, m=m, s=s, intercept=intercept, slopes=slopes,
        x_center=np.asarray(center, dtype=float), x_scale=scale, X=xstar,
        codes=tuple(codes), z=tuple(zs), z_scale=tuple(zscales), nlevels=tuple(nlev),
    )


def prior_context(std: Standardized, design: Design) -> PriorContext:
    """What the priors need to know of the data (see :mod:`multilevel.bayes.priors`)."""
    return PriorContext(
        family=std.family,
        m=std.m,
        s=std.s,
        intercept=std.intercept is not None,
        slopes=tuple(design.xnames[j] for j in std.slopes),
        slope_scales=std.x_scale,
        terms=tuple(
            (t.label, t.cnames, dz) for t, dz in zip(design.terms, std.z_scale, strict=True)
        ),
    )


@dataclass(frozen=True)
class Draws:
    """Posterior draws in the data's units, each with leading axes (chain, draw).

    Attributes
    ----------
    beta
        Fixed effects (C, D, p), in the order of the design's columns.
    sd
        Per term: SDs (C, D, q).
    cor
        Per term: correlation matrices (C, D, q, q).
    b
        Per term: random effects (C, D, nlevels, q).
    sigma
        Residual SD (C, D) of a Gaussian model, else None.
    dispersion
        Negative binomial θ or Gamma / inverse Gaussian shape (C, D), else None.
    """

    beta: FloatArray
    sd: tuple[FloatArray, ...]
    cor: tuple[FloatArray, ...]
    b: tuple[FloatArray, ...]
    sigma: FloatArray | None
    dispersion: FloatArray | None

    @property
    def shape(self) -> tuple[int, int]:
        """(chains, draws per chain)."""
        return int(self.beta.shape[0]), int(self.beta.shape[1])


def to_original(
    samples: dict[str, FloatArray], std: Standardized, priors: ResolvedPriors, p: int
) -> Draws:
    """Map the sampler's standardized draws to the data's units.

    Parameters
    ----------
    samples
        Site name → array (C, D, ...), as NumPyro returns them grouped by chain.
    std
        The standardization of the data.
    priors
        The resolved priors (for the grouping of the slope sites).
    p
        Number of fixed effects.
    """
    first = next(iter(samples.values()))
    chains, ndraws = first.shape[:2]
    s, m = std.s, std.m
    beta = np.zeros((chains, ndraws, p))
    slopes = np.zeros((chains, ndraws, len(std.slopes)))
    for fam, idx in group_by_family(priors.b):
        slopes[:, :, idx] = samples[f"b_{fam}"]
    slopes = s * slopes / std.x_scale
    if std.slopes:
        beta[:, :, list(std.slopes)] = slopes
    if std.intercept is not None:
        beta[:, :, std.intercept] = m + s * samples["Intercept"] - slopes @ std.x_center
    sds, cors, bs = [], [], []
    for k, (q, dz) in enumerate(zip(std.q, std.z_scale, strict=True)):
        sd_star = samples[f"sd_{k}"]
        if q == 1:
            chol = np.ones((chains, ndraws, 1, 1))
        else:
            chol = samples[f"L_{k}"]
        b_star = np.einsum("cdjr,cdir->cdji", samples[f"z_{k}"], sd_star[..., :, None] * chol)
        sds.append(s * sd_star / dz)
        cors.append(np.einsum("cdir,cdjr->cdij", chol, chol))
        bs.append(s * b_star / dz)
    sigma = s * samples["sigma"] if "sigma" in samples else None
    return Draws(
        beta=beta, sd=tuple(sds), cor=tuple(cors), b=tuple(bs), sigma=sigma,
        dispersion=samples.get("dispersion"),
    )


__all__ = ["Draws", "Standardized", "prior_context", "standardize", "to_original"]
