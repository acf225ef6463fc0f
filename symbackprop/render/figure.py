"""The picture of the network as a block that opens a rendered derivation.

:class:`Figure` carries the same picture twice: inline SVG (HTML, MathML and Markdown) and TikZ
(LaTeX). Both are drawn from one layout by :mod:`symbackprop.picture`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """The network's picture: ``svg`` an ``<svg>`` element, ``tikz`` a ``tikzpicture``."""

    svg: str
    tikz: str


def wants_picture(picture: bool | None, sections: object, default: bool = True) -> bool:
    """Whether to draw: ``picture`` if given, else ``default`` for a whole derivation (no
    ``sections`` chosen) and no picture for a choice of sections."""
    if picture is not None:
        return picture
    return default and sections is None


def figure(derivation: Any, gradients: str = "weights") -> Figure:
    """The picture of ``derivation`` as a :class:`Figure`."""
    from ..picture.build import diagram
    from ..picture.layout import layout
    from ..picture.svg import to_svg
    from ..picture.tikz import to_tikz

    picture = layout(diagram(derivation, gradients))
    return Figure(to_svg(picture, document=False).rstrip("\n"), to_tikz(picture).rstrip("\n"))


def figure_latex(block: Figure) -> str:
    """The figure centred, for a document that loads ``tikz``."""
    return f"\\begin{{center}}\n{block.tikz}\n\\end{{center}}"


def figure_html(block: Figure) -> str:
    """The figure as a ``<div class="picture">`` holding the SVG (no blank lines, so that it is
    one HTML block in Markdown too)."""
    return f'<div class="picture">\n{block.svg}\n</div>'
