"""HTML renderer of a :class:`~multilevel.report.grid.Grid`."""

from __future__ import annotations

from html import escape

from multilevel.report.grid import Cell, Grid

_TABLE = 'class="multilevel-table" style="border-collapse: collapse; border-top: 2px solid; ' \
    'border-bottom: 2px solid"'
_NUM = ' style="text-align: center"'


def _cell(cell: Cell) -> str:
    stars = f"<sup>{escape(cell.stars)}</sup>" if cell.stars else ""
    return f"<td{_NUM}>{escape(cell.text)}{stars}</td>"


def render_html(grid: Grid) -> str:
    """A ``<table>`` with a header, one ``<tbody>`` per section and the notes in ``<tfoot>``."""
    ncol = len(grid.names) + 1
    lines = [f"<table {_TABLE}>", "<thead>", '<tr style="border-bottom: 1px solid">',
             "<th></th>" + "".join(f"<th{_NUM}>{escape(n)}</th>" for n in grid.names),
             "</tr>", "</thead>"]
    for section in grid.sections:
        lines.append('<tbody style="border-bottom: 1px solid">')
        for row in section:
            label = f'<td style="text-align: left">{escape(row.label)}</td>'
            lines.append("<tr>" + label + "".join(_cell(c) for c in row.cells) + "</tr>")
        lines.append("</tbody>")
    notes = [escape(n) for n in grid.notes]
    if grid.stars:
        notes.append(", ".join(f"<sup>{escape(s)}</sup> p &lt; {t:g}"
                               for s, t in reversed(grid.stars)))
    if notes:
        lines.append("<tfoot>")
        lines.extend(f'<tr><td colspan="{ncol}" style="text-align: left; font-size: 0.85em">'
                     f"{n}</td></tr>" for n in notes)
        lines.append("</tfoot>")
    lines.append("</table>")
    return "\n".join(lines) + "\n"
