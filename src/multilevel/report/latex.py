"""LaTeX renderer of a :class:`~multilevel.report.grid.Grid`: a ``table`` float around a
booktabs ``tabular`` (needs ``\\usepackage{booktabs}``; compiles with pdflatex)."""

from __future__ import annotations

from multilevel.report.grid import Cell, Grid

_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "²": r"\textsuperscript{2}",
}


def escape_latex(text: str) -> str:
    """Text with LaTeX's special characters escaped (safe in text mode under pdflatex)."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _cell(cell: Cell) -> str:
    text = escape_latex(cell.text).replace("-", "$-$")
    return text + (f"$^{{{cell.stars}}}$" if cell.stars else "")


def render_latex(grid: Grid) -> str:
    """``\\begin{table}`` … ``\\end{table}`` with ``\\toprule``, ``\\midrule`` between
    sections, ``\\bottomrule`` and the notes in ``\\multicolumn`` rows beneath."""
    ncol = len(grid.names) + 1
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        r"\begin{tabular}{l" + " c" * len(grid.names) + "}",
        r"\toprule",
        " & ".join(["", *(escape_latex(n) for n in grid.names)]) + r" \\",
    ]
    for section in grid.sections:
        lines.append(r"\midrule")
        for row in section:
            cells = [escape_latex(row.label), *(_cell(c) for c in row.cells)]
            lines.append(" & ".join(cells) + r" \\")
    lines.append(r"\bottomrule")
    notes = [escape_latex(n) for n in grid.notes]
    if grid.stars:
        notes.append("; ".join(f"$^{{{s}}}p<{t:g}$" for s, t in reversed(grid.stars)))
    lines.extend(rf"\multicolumn{{{ncol}}}{{l}}{{\footnotesize {n}}} \\" for n in notes)
    lines += [r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
