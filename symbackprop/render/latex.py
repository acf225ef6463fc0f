"""The ``latex`` format: a fragment needing only amsmath and amssymb, or a document.

With ``standalone=True`` :func:`to_latex` writes a complete document for pdflatex. Formulas are
printed by :mod:`.latex_printer` and laid out by :mod:`.layout`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..formats import register
from .blocks import Equation, Heading, Paragraph
from .content import content, heading
from .figure import Figure, figure_latex, wants_picture
from .latex_printer import latex_text

if TYPE_CHECKING:
    from ..derivation import Derivation

__all__ = ["PICTURE_PACKAGES", "PREAMBLE", "to_latex"]

PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[margin=2.5cm]{geometry}
\usepackage{amsmath}
\usepackage{amssymb}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6\baselineskip}
\setlength{\emergencystretch}{3em}
"""
#: The handout's preamble: the same with a smaller font and margins, to print on few pages.
HANDOUT_PREAMBLE = PREAMBLE.replace("11pt", "10pt").replace("2.5cm", "2cm")
#: The preamble's addition when the document opens with the network's picture.
PICTURE_PACKAGES = "\\usepackage{tikz}\n"


@register("latex", stack=True)
@register("latex")
def to_latex(
    derivation: Derivation,
    *,
    sections: Sequence[str] | None = None,
    expanded: bool = True,
    standalone: bool = False,
    picture: bool | None = None,
    handout: bool = False,
    title: str | None = None,
    author: str | None = None,
) -> str:
    """Render ``derivation`` as LaTeX.

    Args:
        derivation: What to render.
        sections: Section names (:data:`~symbackprop.render.blocks.SECTIONS`); default all.
        expanded: Include the expanded forms of the gradients.
        standalone: A complete document for pdflatex instead of a fragment. The fragment needs
            ``amsmath`` and ``amssymb`` only.
        picture: Open with the network's picture in TikZ (then the fragment needs ``tikz``
            too); default: in a standalone document of all sections.
        handout: The short handout (:mod:`.handout`) as a standalone document.
        title: The document's title (default: what the derivation is of).
        author: The document's author line (default: none).

    Returns:
        The LaTeX source, ending in a newline.
    """
    standalone = standalone or handout
    drawn = handout or wants_picture(picture, sections, default=standalone)
    shown = content(
        derivation, sections=sections, expanded=expanded, picture=drawn, handout=handout
    )
    body = _join(shown) + "\n"
    if not standalone:
        return body
    head = latex_text(heading(derivation, title))
    return (
        (HANDOUT_PREAMBLE if handout else PREAMBLE)
        + (PICTURE_PACKAGES if drawn else "")
        + f"\\title{{{head}}}\n\\author{{{latex_text(author or '')}}}\n\\date{{}}\n\n"
        + "\\begin{document}\n\\maketitle\n\n"
        + body
        + "\n\\end{document}\n"
    )


def _join(shown: Sequence[Any]) -> str:
    """The blocks' LaTeX, a paragraph and the display after it in one paragraph (so that a
    lead-in such as "As matrices:" never ends a page: TeX's predisplay penalty forbids it)."""
    parts: list[str] = []
    for previous, block in zip([None, *shown], shown, strict=False):
        if parts:
            keep = isinstance(previous, Paragraph) and isinstance(block, Equation)
            parts.append("\n" if keep else "\n\n")
        parts.append(_block_latex(block))
    return "".join(parts)


def _block_latex(block: Any) -> str:
    if isinstance(block, Figure):
        return figure_latex(block)
    if isinstance(block, Heading):
        command = {1: "section", 2: "subsection"}.get(block.level, "subsubsection")
        return f"\\{command}*{{{latex_text(block.text)}}}"
    if isinstance(block, Paragraph):
        return "".join(
            latex_text(text) if kind == "text" else f"${text}$" for kind, text in block.parts
        )
    if isinstance(block, Equation):
        return f"\\[\n{block.latex}\n\\]"
    raise TypeError(f"not a block: {block!r}")
