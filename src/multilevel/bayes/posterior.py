"""Posterior draws by name, and the linear predictor of any rows under every draw.

Names follow lme4 and brms: fixed effects by their column names (``(Intercept)``, ``Days``);
``sd_<group>__<effect>`` and ``cor_<group>__<effect1>__<effect2>`` for the random-effects SDs
and correlations (``<group>`` is the term's label in ``varcorr``); ``sigma``; ``theta`` (negative
binomial) or ``shape`` (Gamma, inverse Gaussian); ``r_<group>[<level>,<effect>]`` for the random
effects themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from multilevel.bayes.model import Draws
from multilevel.design import Design
from multilevel.errors import DataError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def parameter_draws(
    design: Design, draws: Draws, dispersion: str | None
) -> dict[str, FloatArray]:
    """The model's parameters (fixed effects, SDs, correlations, σ, dispersion) by name, each
    (chains, draws)."""
    out: dict[str, FloatArray] = {}
    for j, name in enumerate(design.xnames):
        out[name] = draws.beta[:, :, j]
    for t, sd, cor in zip(design.terms, draws.sd, draws.cor, strict=True):
        for i, name in enumerate(t.cnames):
            out[f"sd_{t.label}__{name}"] = sd[:, :, i]
        for j in range(t.q):
            for i in range(j + 1, t.q):
                out[f"cor_{t.label}__{t.cnames[j]}__{t.cnames[i]}"] = cor[:, :, i, j]
    if draws.sigma is not None:
        out["sigma"] = draws.sigma
    if draws.dispersion is not None and dispersion is not None:
        out[dispersion] = draws.dispersion
    return out


def ranef_draws(design: Design, draws: Draws) -> dict[str, FloatArray]:
    """The random effects by name ``r_<group>[<level>,<effect>]``, each (chains, draws)."""
    out: dict[str, FloatArray] = {}
    for t, b in zip(design.terms, draws.b, strict=True):
        for j, level in enumerate(t.grouping.levels):
            for i, name in enumerate(t.cnames):
                out[f"r_{t.label}[{level},{name}]"] = b[:, :, j, i]
    return out


def draw_index(total: int, ndraws: int | None) -> IntArray:
    """Positions of ``ndraws`` draws spread evenly over all ``total`` (all when None)."""
    if ndraws is None or ndraws >= total:
        return np.arange(total)
    if ndraws < 1:
        raise DataError(f"ndraws must be a positive integer, not {ndraws!r}")
    return np.unique(np.linspace(0, total - 1, int(ndraws)).round().astype(np.intp))


def flat(x: FloatArray) -> FloatArray:
    """(chains, draws, ...) → (chains × draws, ...), chain by chain."""
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


@dataclass(frozen=True)
class Rows:
    """Rows to predict for, encoded for the model.

    Attributes
    ----------
    X
        Fixed-effects columns (m, p).
    offset
        Offset (m,).
    terms
        Positions of the random-effects terms included.
    z
        Per included term: its columns (m, q).
    codes
        Per included term: the level of each row; levels not seen in fitting are numbered
        from ``nlevels`` on (one number per new level).
    index
        Row labels of the rows (the complete rows of new data).
    complete
        For new data: which of its rows had every needed value.
    """

    X: FloatArray
    offset: FloatArray
    terms: tuple[int, ...]
    z: tuple[FloatArray, ...]
    codes: tuple[IntArray, ...]
    index: pd.Index
    complete: NDArray[np.bool_]


def fitted_rows(design: Design, terms: list[int] | None = None) -> Rows:
    """The rows the model was fitted to, with the random-effects terms listed (all: None)."""
    n = design.nobs
    keep = list(range(len(design.terms))) if terms is None else terms
    return Rows(
        X=design.X,
        offset=np.zeros(n) if design.offset is None else np.asarray(design.offset),
        terms=tuple(keep),
        z=tuple(design.terms[k].z for k in keep),
        codes=tuple(np.asarray(design.terms[k].grouping.codes, dtype=np.intp) for k in keep),
        index=design.frame.rows,
        complete=np.ones(n, dtype=bool),
    )


def _group_columns(term: Any) -> tuple[str, ...]:
    return tuple(v for g in term.term.group for v in g.variables)


def new_rows(result: Any, newdata: Any, re_form: Any, allow_new_levels: bool) -> Rows:
    """Encode new data with the fitted model's specs (levels matched by label).

    Parameters
    ----------
    result
        A fitted model with ``design`` and ``options``.
    newdata
        pandas or polars DataFrame.
    re_form
        Random-effects terms to include: None (all), "~0" (none), or a formula of some terms.
    allow_new_levels
        Give levels not seen in fitting new random effects (otherwise an error).
    """
    from multilevel.design.frame import as_pandas
    from multilevel.inference.newdata import encode, keep_terms

    terms = keep_terms(result, re_form)
    enc = encode(result, newdata, terms, allow_new_levels)
    df = as_pandas(newdata).loc[enc.complete]
    codes = []
    for k, code in zip(terms, enc.codes, strict=True):
        code = np.asarray(code, dtype=np.intp).copy()
        new = code < 0
        if new.any():
            cols = list(_group_columns(result.design.terms[k]))
            keys = df[cols].astype(str).agg("\x1f".join, axis=1).to_numpy()[new]
            _, inverse = np.unique(keys, return_inverse=True)
            code[new] = result.design.terms[k].nlevels + inverse
        codes.append(code)
    return Rows(
        X=enc.X, offset=enc.offset, terms=tuple(terms), z=tuple(enc.z), codes=tuple(codes),
        index=enc.index, complete=enc.complete,
    )


def _new_level_effects(
    sd: FloatArray, cor: FloatArray, count: int, rng: np.random.Generator
) -> FloatArray:
    """Effects of ``count`` new levels under each draw: N(0, Σ_draw), shape (S, count, q)."""
    q = sd.shape[1]
    jitter = 1e-12 * np.eye(q)
    chol = np.linalg.cholesky(cor + jitter)
    z = rng.standard_normal((sd.shape[0], count, q))
    return np.asarray(np.einsum("sjr,sir->sji", z, sd[:, :, None] * chol))


def linpred(
    draws: Draws, rows: Rows, index: IntArray, rng: np.random.Generator
) -> FloatArray:
    """η of every row under the draws at ``index`` (positions among chains × draws): (S, m).

    New levels get effects drawn from N(0, Σ) of each draw (their uncertainty included), one
    draw per new level shared by its rows.
    """
    beta = flat(draws.beta)[index]
    eta = beta @ rows.X.T + rows.offset[None, :]
    for k, z, codes in zip(rows.terms, rows.z, rows.codes, strict=True):
        b = flat(draws.b[k])[index]
        nlev = b.shape[1]
        extra = int(codes.max()) + 1 - nlev if codes.size else 0
        if extra > 0:
            sd, cor = flat(draws.sd[k])[index], flat(draws.cor[k])[index]
            b = np.concatenate([b, _new_level_effects(sd, cor, extra, rng)], axis=1)
        eta = eta + np.einsum("smq,mq->sm", b[:, codes, :], z)
    return np.asarray(eta)


def summary_table(
    params: dict[str, FloatArray], diagnostics: pd.DataFrame, level: float
) -> pd.DataFrame:
    """Mean, SD, equal-tailed interval, R-hat and bulk ESS of each parameter's draws (R-hat and
    ESS from ``diagnostics`` where it has them)."""
    from multilevel.bayes.diagnostics import ess_bulk, rhat
    from multilevel.errors import ModelError

    if not 0.0 < level < 1.0:
        raise ModelError(f"level must be between 0 and 1, not {level!r}")
    alpha = (1.0 - level) / 2.0
    rows = {}
    for name, x in params.items():
        if name in diagnostics.index:
            r, e = diagnostics.loc[name, ["r_hat", "ess_bulk"]]
        else:
            r, e = rhat(x), ess_bulk(x)
        lo, hi = np.quantile(x, [alpha, 1.0 - alpha])
        rows[name] = (x.mean(), x.std(ddof=1), lo, hi, r, e)
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["mean", "sd", "lower", "upper", "r_hat", "ess_bulk"]
    )


def varcorr_means(design: Design, draws: Draws, residual: FloatArray | None) -> pd.DataFrame:
    """lme4's ``as.data.frame(VarCorr())`` layout: ``sdcor`` the posterior means of the SDs and
    correlations, ``vcov`` of the variances and covariances; a residual row when ``residual``
    (draws of the residual SD) is given."""
    rows: list[dict[str, Any]] = []
    for t, sd, cor in zip(design.terms, draws.sd, draws.cor, strict=True):
        s, c = flat(sd), flat(cor)
        for i, name in enumerate(t.cnames):
            rows.append({"grp": t.label, "var1": name, "var2": None,
                         "vcov": float(np.mean(s[:, i] ** 2)), "sdcor": float(s[:, i].mean())})
        for j in range(t.q):
            for i in range(j + 1, t.q):
                rows.append({"grp": t.label, "var1": t.cnames[j], "var2": t.cnames[i],
                             "vcov": float(np.mean(s[:, i] * s[:, j] * c[:, i, j])),
                             "sdcor": float(c[:, i, j].mean())})
    if residual is not None:
        rows.append({"grp": "Residual", "var1": None, "var2": None,
                     "vcov": float(np.mean(residual**2)), "sdcor": float(residual.mean())})
    return pd.DataFrame({
        key: pd.Series([r[key] for r in rows], dtype=float if key in ("vcov", "sdcor")
                       else object)
        for key in ("grp", "var1", "var2", "vcov", "sdcor")
    })


__all__ = [
    "Rows",
    "draw_index",
    "fitted_rows",
    "flat",
    "linpred",
    "new_rows",
    "parameter_draws",
    "ranef_draws",
    "summary_table",
    "varcorr_means",
]
