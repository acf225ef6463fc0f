"""The ``latex`` format: a fragment needing only amsmath and amssymb, or a document.

With ``standalone=True`` :func:`to_latex` writes a complete document for pdflatex. Formulas are
printed by :mod:`.latex_printer` and laid out by :mod:`.layout`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..formats import register
from .blocks import Equation, Heading, Paragraph, resolve
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

    Returns:
        The LaTeX source, ending in a newline.
    """
    drawn = wants_picture(picture, sections, default=standalone)
    shown = content(derivation, sections=resolve(sections), expanded=expanded, picture=drawn)
    body = "\n\n".join(map(_block_latex, shown)) + "\n"
    if not standalone:
        return body
    title = latex_text(heading(derivation))
    return (
        PREAMBLE
        + (PICTURE_PACKAGES if drawn else "")
        + f"\\title{{{title}}}\n\\author{{symbackprop {__version__}}}\n\\date{{}}\n\n"
        + "\\begin{document}\n\\maketitle\n\n"
        + body
        + "\n\\end{document}\n"
    )


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
