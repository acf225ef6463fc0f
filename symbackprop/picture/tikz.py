"""A :class:`~.layout.Layout` as TikZ source, and as a PDF through pdflatex.

Coordinates are the layout's pixels at 0.75 pt each (y downwards), so the picture has the same
geometry as the SVG; it shrinks to the line width when wider. The fragment needs
``\\usepackage{tikz}`` (which loads graphicx and xcolor).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import SymbackpropError
from .layout import Label, Layout

#: The packages the fragment needs, for a document's preamble.
PACKAGES = "\\usepackage{tikz}\n"
_COLOURS = {"value": "black", "gradient": "red!70!black", "name": "black!80"}
_PT = 0.75


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def to_tikz(picture: Layout) -> str:
    """The ``tikzpicture`` of ``picture``, inside a resizebox that caps it at ``\\linewidth``."""
    lines = [
        "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%",
        f"\\begin{{tikzpicture}}[x={_PT}pt,y=-{_PT}pt,font=\\footnotesize]",
    ]
    for s in picture.segments:
        arrow = "->," if s.arrow else ""
        lines.append(
            f"\\draw[{arrow}black!60] ({_n(s.x1)},{_n(s.y1)}) -- ({_n(s.x2)},{_n(s.y2)});"
        )
    for b in picture.rects:
        lines.append(
            f"\\draw[rounded corners=4pt,fill=blue!4] ({_n(b.x - b.w / 2)},{_n(b.y - b.h / 2)}) "
            f"rectangle ({_n(b.x + b.w / 2)},{_n(b.y + b.h / 2)});"
        )
    for c in picture.circles:
        lines.append(f"\\draw[fill=blue!4] ({_n(c.x)},{_n(c.y)}) circle[radius={_n(c.r)}];")
    lines.extend(_node(label) for label in picture.labels)
    lines += ["\\end{tikzpicture}%", "}"]
    return "\n".join(lines) + "\n"


def _node(label: Label) -> str:
    box = label.box
    options = ["inner sep=1pt", "align=center"]
    if label.background:
        options.append("fill=white")
    at = f"({_n(box.x)},{_n(box.y)})"
    if label.anchor == "start":
        options[1] = "align=left"
        options.append("anchor=west")
        at = f"({_n(box.x - box.w / 2)},{_n(box.y)})"
    text = "\\\\".join(
        f"\\textcolor{{{_COLOURS[line.role]}}}{{{line.tex}}}" for line in label.lines
    )
    return f"\\node[{','.join(options)}] at {at} {{{text}}};"


def tikz_document(picture: Layout) -> str:
    """A complete LaTeX document of one page, the picture's size, holding only the picture."""
    width, height = picture.width * _PT + 16, picture.height * _PT + 16
    return (
        "\\documentclass{article}\n"
        f"\\usepackage[paperwidth={_n(width)}pt,paperheight={_n(height)}pt,margin=8pt]"
        "{geometry}\n"
        + PACKAGES
        + "\\pagestyle{empty}\n\\begin{document}\n\\noindent\n"
        + to_tikz(picture)
        + "\\end{document}\n"
    )


def to_pdf(document: str, name: str = "picture") -> bytes:
    """Compile the LaTeX ``document`` with pdflatex and return the PDF.

    Raises:
        SymbackpropError: pdflatex is missing or fails (the message quotes its first error).
    """
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        raise SymbackpropError("cannot write a PDF: pdflatex is not installed (try a .tex file)")
    with tempfile.TemporaryDirectory(prefix="symbackprop-") as folder:
        source = Path(folder) / f"{name}.tex"
        source.write_text(document, encoding="utf-8")
        result = subprocess.run(
            [pdflatex, "-interaction=nonstopmode", "-halt-on-error", source.name],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        pdf = source.with_suffix(".pdf")
        if result.returncode != 0 or not pdf.exists():
            errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
            raise SymbackpropError(f"pdflatex failed: {errors[0] if errors else 'no PDF written'}")
        return pdf.read_bytes()
