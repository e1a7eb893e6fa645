"""The text of ``LMMResult.summary()``, laid out as lme4's ``summary(lmer(...))``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from multilevel.result import LMMResult

MAX_CORRELATION_TERMS = 12


def _num(x: float, digits: int = 4) -> str:
    if not np.isfinite(x):
        return "NaN" if np.isnan(x) else ("Inf" if x > 0 else "-Inf")
    return f"{x:.{digits}g}" if abs(x) >= 1e5 or (x != 0 and abs(x) < 1e-3) else f"{x:.{digits}f}"


def abbreviate(name: str, minlength: int = 6) -> str:
    """R's ``abbreviate``: drop lower-case vowels, then lower-case letters, from the right
    (never the first character) until the name is short enough; then truncate."""
    chars = list(name)
    for pool in ("aeiou", "abcdefghijklmnopqrstuvwxyz"):
        k = len(chars) - 1
        while len(chars) > minlength and k > 0:
            if chars[k] in pool:
                del chars[k]
            k -= 1
    return "".join(chars[: max(minlength, 1)]) if len(chars) > minlength else "".join(chars)


def _header(res: LMMResult) -> list[str]:
    kind = "REML" if res.reml else "maximum likelihood"
    lines = [f"Linear mixed model fit by {kind}", f"Formula: {res.formula}"]
    dropped = res.design.frame.n_dropped
    if dropped:
        lines.append(f"   ({dropped} observations deleted due to missingness)")
    lines.append("")
    if res.reml:
        lines.append(f"REML criterion at convergence: {res.objective:.4f}")
    else:
        stats = pd.DataFrame(
            [[res.aic, res.bic, res.loglik, res.objective, res.nobs - res.npar]],
            columns=["AIC", "BIC", "logLik", "deviance", "df.resid"],
        )
        lines.append(
            stats.to_string(
                index=False,
                formatters={c: (lambda v: f"{v:.1f}") for c in stats.columns[:4]},
            )
        )
    return lines


def _scaled_residuals(res: LMMResult) -> list[str]:
    r = res.residuals.to_numpy()
    if res.design.weights is not None:
        r = r * np.sqrt(res.design.weights)
    q = np.quantile(r / res.sigma, [0, 0.25, 0.5, 0.75, 1.0])
    table = pd.DataFrame([q], columns=["Min", "1Q", "Median", "3Q", "Max"])
    return ["Scaled residuals:", table.to_string(index=False, float_format=lambda v: f"{v:.4f}")]


def random_effects_lines(res: Any) -> list[str]:
    """The "Random effects" table of a summary, from the result's ``varcorr``."""
    vc = res.varcorr
    rows = []
    for t in res.design.terms:
        part = vc[vc["grp"] == t.label]
        var = part[part["var2"].isna()]
        cov = part[part["var2"].notna()]
        corr = {(r.var1, r.var2): r.sdcor for r in cov.itertuples()}
        names = list(var["var1"])
        for i, r in enumerate(var.itertuples()):
            cells = [_num(corr.get((names[j], names[i]), np.nan), 2) for j in range(i)]
            rows.append([t.label if i == 0 else "", r.var1, _num(r.vcov), _num(r.sdcor), *cells])
    for r in vc[vc["grp"] == "Residual"].itertuples():
        rows.append(["Residual", "", _num(r.vcov), _num(r.sdcor)])
    width = max(len(r) for r in rows)
    header = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] if width > 4 else [])
    header += [""] * (width - len(header))
    table = [r + [""] * (width - len(r)) for r in rows]
    widths = [max(len(str(row[k])) for row in [header, *table]) for k in range(width)]
    out = ["Random effects:"]
    for row in [header, *table]:
        cells = [
            str(c).ljust(widths[k]) if k < 2 else str(c).rjust(widths[k])
            for k, c in enumerate(row)
        ]
        out.append(" " + " ".join(cells).rstrip())
    groups = ", ".join(f"{g}, {n}" for g, n in res.ngroups.items())
    out.append(f"Number of obs: {res.nobs}, groups:  {groups}")
    return out


def correlation_lines(res: Any) -> list[str]:
    """The "Correlation of Fixed Effects" block (omitted beyond 12 coefficients, as lme4)."""
    est = res.fixef
    p = len(est)
    if p > MAX_CORRELATION_TERMS:
        return [
            "",
            f"Correlation matrix not shown by default, as p = {p} > {MAX_CORRELATION_TERMS}.",
        ]
    if p < 2:
        return []
    v = res.vcov.to_numpy()
    corr = v / np.outer(np.sqrt(np.diag(v)), np.sqrt(np.diag(v)))
    short = [abbreviate(n) for n in est.index]
    rows = [[est.index[i][:12]] + [f"{corr[i, j]:.3f}" for j in range(i)] for i in range(1, p)]
    name_w = max(len(r[0]) for r in rows)
    col_w = [max(6, len(short[j])) for j in range(p - 1)]
    lines = ["", "Correlation of Fixed Effects:"]
    lines.append(" " * name_w + " " + " ".join(short[j].ljust(col_w[j]) for j in range(p - 1)))
    for r in rows:
        cells = " ".join(c.rjust(col_w[j]) for j, c in enumerate(r[1:]))
        lines.append(r[0].ljust(name_w) + " " + cells)
    return lines


def _fixed_effects(res: LMMResult) -> list[str]:
    est = res.fixef
    se = res.se
    table = pd.DataFrame({"Estimate": est, "Std. Error": se, "t value": est / se})
    out = ["Fixed effects:", table.to_string(float_format=lambda v: _num(v))]
    out += correlation_lines(res)
    if res.design.dropped_columns:
        out += ["", "Dropped (rank deficient): " + ", ".join(res.design.dropped_columns)]
    return out


def format_summary(res: LMMResult) -> str:
    """The summary text of a fitted linear mixed model."""
    parts = [
        _header(res),
        _scaled_residuals(res),
        random_effects_lines(res),
        _fixed_effects(res),
    ]
    lines: list[str] = []
    for part in parts:
        lines.extend(part)
        lines.append("")
    if res.warnings:
        lines.append("Warnings:")
        lines.extend(f"  {w}" for w in res.warnings)
    if not res.converged:
        lines.append(f"optimizer ({res.optsummary.optimizer}): {res.optsummary.returnvalue}")
    return "\n".join(lines).rstrip() + "\n"
