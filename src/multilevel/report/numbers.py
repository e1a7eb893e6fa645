"""Number formatting for tables: deterministic, one rounding step from the full value.

Estimates share the decimals of their standard error shown to ``digits`` significant digits
(``12.128 (0.199)``); variance components get ``digits`` significant digits, correlations
``digits`` decimals; counts are integers, information criteria one decimal, ICC and R² three.
"""

from __future__ import annotations

import math

#: Above this many decimals a number is written in scientific notation.
MAX_DECIMALS = 8


def decimals(x: float, digits: int) -> int:
    """Decimals that show ``x`` to ``digits`` significant digits (0 for large numbers)."""
    if not math.isfinite(x) or x == 0:
        return max(digits - 1, 0)
    return max(0, digits - 1 - math.floor(math.log10(abs(x))))


def fixed(x: float, places: int) -> str:
    """``x`` with ``places`` decimals (or scientific beyond :data:`MAX_DECIMALS`); no "-0"."""
    if not math.isfinite(x):
        return "" if math.isnan(x) else ("Inf" if x > 0 else "-Inf")
    if places > MAX_DECIMALS:
        text = f"{x:.2e}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text
    text = f"{x:.{places}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text


def significant(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits."""
    return fixed(x, decimals(x, digits))


def integer(x: float) -> str:
    """A count."""
    return "" if not math.isfinite(x) else str(round(x))


#: How a statistic is written: "int", "ic" (one decimal), "prop" (three decimals) or "sig".
STAT_STYLE = {
    "nobs": "int", "ngroups": "int", "npar": "int", "df_residual": "int",
    "aic": "ic", "bic": "ic", "loglik": "ic", "deviance": "ic", "objective": "ic",
    "icc": "prop", "icc_conditional": "prop", "r2": "prop", "r2_marginal": "prop",
    "r2_conditional": "prop",
}


def statistic(name: str, x: float, digits: int) -> str:
    """A model statistic in its style (see :data:`STAT_STYLE`)."""
    style = STAT_STYLE.get(name, "sig")
    if style == "int":
        return integer(x)
    if style == "ic":
        return fixed(x, 1)
    if style == "prop":
        return fixed(x, 3)
    return significant(x, digits)
