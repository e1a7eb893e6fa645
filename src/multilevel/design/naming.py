"""R's column names for model-matrix columns built by formulaic.

formulaic names a column ``sector[T.Catholic]`` or ``cses:sector[T.Catholic]``; R names it
``sectorCatholic`` and ``cses:sectorCatholic``. Each factor's part of a column name is the
factor's R text followed by the level (treatment or full dummy coding), by ``.L``/``.Q``
(polynomial contrasts), by the contrast's column number (sum and Helmert contrasts), or by the
column number of a multi-column transform such as ``poly(x, 2)``.
"""

from __future__ import annotations

from collections.abc import Sequence


def split_column(column: str, exprs: Sequence[str]) -> list[str] | None:
    """Split a formulaic column name into the suffix of each factor.

    Parameters
    ----------
    column
        formulaic's column name, e.g. ``cses:sector[T.Catholic]``.
    exprs
        formulaic's expression of each factor of the term, in order.

    Returns
    -------
    list of str or None
        The bracketed suffix of each factor without brackets (``""`` when there is none), or
        None when the name does not have the expected shape.
    """
    pos = 0
    out = []
    for k, expr in enumerate(exprs):
        if k > 0:
            if column[pos : pos + 1] != ":":
                return None
            pos += 1
        if not column.startswith(expr, pos):
            return None
        pos += len(expr)
        if column[pos : pos + 1] == "[":
            depth, end = 0, pos
            while end < len(column):
                if column[end] == "[":
                    depth += 1
                elif column[end] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                end += 1
            out.append(column[pos + 1 : end])
            pos = end + 1
        else:
            out.append("")
    return out if pos == len(column) else None


def r_factor_label(text: str, suffix: str, position: int) -> str:
    """R's name for one factor's part of a column.

    Parameters
    ----------
    text
        The factor's R text (``sector``, ``poly(x, 2)``).
    suffix
        formulaic's suffix for it (``T.Catholic``, ``Catholic``, ``.L``, ``S.a``, ``1``).
    position
        1-based position of this column among the factor's columns (for sum/Helmert contrasts).
    """
    if suffix == "":
        return text
    if suffix.startswith("T."):
        return text + suffix[2:]
    if suffix.startswith(("S.", "H.")):
        return f"{text}{position}"
    if suffix.startswith(".") or suffix.startswith("^"):
        return text + suffix
    return text + suffix


def r_column_names(
    columns: Sequence[str], exprs: Sequence[str], texts: Sequence[str]
) -> list[str]:
    """R's names for all columns of one term.

    Parameters
    ----------
    columns
        formulaic's column names of the term.
    exprs
        formulaic's expression of each factor.
    texts
        R's text of each factor.
    """
    splits = [split_column(c, exprs) for c in columns]
    seen: list[dict[str, int]] = [{} for _ in exprs]
    for parts in splits:
        if parts is None:
            continue
        for k, suffix in enumerate(parts):
            seen[k].setdefault(suffix, len(seen[k]) + 1)
    names = []
    for column, parts in zip(columns, splits, strict=True):
        if parts is None:
            names.append(column)
            continue
        labels = [
            r_factor_label(texts[k], suffix, seen[k][suffix]) for k, suffix in enumerate(parts)
        ]
        names.append(":".join(labels))
    return names
