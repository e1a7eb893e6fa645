"""Plain-text and Markdown renderers of a :class:`~multilevel.report.grid.Grid`."""

from __future__ import annotations

from multilevel.report.grid import Cell, Grid


def _cell(cell: Cell) -> str:
    return cell.text + cell.stars


def render_text(grid: Grid) -> str:
    """A fixed-width table with ``=`` rules around it and ``-`` rules between sections."""
    rows = [row for section in grid.sections for row in section]
    label_width = max([len(r.label) for r in rows] + [0])
    widths = [
        max([len(name)] + [len(_cell(r.cells[j])) for r in rows])
        for j, name in enumerate(grid.names)
    ]

    def line(label: str, cells: list[str]) -> str:
        parts = [label.ljust(label_width)] + [c.center(w) for c, w in zip(cells, widths,
                                                                          strict=True)]
        return "  ".join(parts).rstrip()

    total = label_width + sum(w + 2 for w in widths)
    out = ["=" * total, line("", list(grid.names)), "-" * total]
    for k, section in enumerate(grid.sections):
        if k:
            out.append("-" * total)
        out.extend(line(r.label, [_cell(c) for c in r.cells]) for r in section)
    out.append("=" * total)
    out.extend(grid.notes)
    if grid.stars:
        out.append(grid.star_note())
    return "\n".join(out) + "\n"


def _escape_markdown(text: str) -> str:
    for ch in ("\\", "|", "*", "_", "`"):
        text = text.replace(ch, "\\" + ch)
    return text


def render_markdown(grid: Grid) -> str:
    """A pipe table (GitHub / pandoc Markdown), padded so the source lines up."""
    header = ["", *(_escape_markdown(n) for n in grid.names)]
    body = [
        [_escape_markdown(r.label), *(_cell(c) for c in r.cells)]
        for section in grid.sections for r in section
    ]
    widths = [max(3, *(len(row[j]) for row in [header, *body])) for j in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    align = [":" + "-" * (widths[0] - 1)] + [":" + "-" * (w - 2) + ":" for w in widths[1:]]
    lines = [line(header), "| " + " | ".join(align) + " |", *(line(row) for row in body)]
    notes = [*grid.notes]
    if grid.stars:
        notes.append(grid.star_note().replace("*", "\\*"))
    if notes:
        lines.append("")
        lines.append(" ".join(notes))
    return "\n".join(lines) + "\n"
