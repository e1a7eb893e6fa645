"""The formatted table every renderer draws: rows of text cells in sections, plus notes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cell:
    """One model's entry in one row.

    Attributes
    ----------
    text
        Numbers as text (ASCII hyphen for minus; ``(SE)`` or ``[low, high]`` on the second
        line of a coefficient); empty when the model has no such row.
    stars
        Significance stars ("", "*", "**", ...).
    """

    text: str = ""
    stars: str = ""


@dataclass(frozen=True)
class Row:
    """A labelled row of cells (``label`` empty on the SE/CI line of a coefficient)."""

    label: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Grid:
    """A table ready to render.

    Attributes
    ----------
    names
        Model names (column headers).
    sections
        Fixed effects, random effects, statistics (empty sections left out).
    notes
        Plain-text notes under the table.
    stars
        Significance levels shown, as (symbol, threshold), most stars first.
    """

    names: tuple[str, ...]
    sections: tuple[tuple[Row, ...], ...]
    notes: tuple[str, ...] = ()
    stars: tuple[tuple[str, float], ...] = field(default=())

    def star_note(self) -> str:
        """The legend of the stars in plain text (empty without stars)."""
        return ", ".join(f"{s} p < {t:g}" for s, t in reversed(self.stars))
