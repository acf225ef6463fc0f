"""Pictures of a network with the numbers on them: SVG, TikZ and PDF.

``draw(derivation, "svg")`` is the whole pipeline: :func:`.build.diagram` (the rounded exact
values), :func:`.layout.layout` (geometry, no overlapping labels), then :mod:`.svg` or
:mod:`.tikz`. Importing this package imports neither SymPy nor drawsvg.
"""

from __future__ import annotations

from typing import Any

#: The picture formats of ``symbackprop draw``, by file extension.
PICTURE_FORMATS = {".svg": "svg", ".tex": "tikz", ".pdf": "pdf"}


def draw(derivation: Any, fmt: str = "svg", *, gradients: str = "weights") -> str | bytes:
    """The picture of ``derivation`` as SVG (a file), TikZ source or PDF bytes.

    Args:
        derivation: An MLP's or a stack's derivation.
        fmt: ``"svg"``, ``"tikz"`` or ``"pdf"``.
        gradients: ``"weights"``, ``"both"`` or ``"only"`` (see :func:`.build.diagram`).
    """
    from .build import diagram
    from .layout import layout

    picture = layout(diagram(derivation, gradients))
    if fmt == "svg":
        from .svg import to_svg

        return to_svg(picture)
    from .tikz import tikz_document, to_pdf, to_tikz

    if fmt == "tikz":
        return to_tikz(picture)
    return to_pdf(tikz_document(picture))
