"""Markdown for MyST, Jupyter Book and Jupyter: every display equation in ``$$ ... $$``.

MyST does not see a bare ``\\begin{aligned}`` environment, so each equation is an ``aligned``
inside a ``$$`` block; inline math is ``$...$`` (MyST's ``dollarmath`` extension, on in
Jupyter Book).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..formats import register
from .blocks import Block, Equation, Heading, Paragraph
from .content import content, heading
from .figure import Figure, figure_html

if TYPE_CHECKING:
    from ..derivation import Derivation

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|$~])")


def markdown_text(text: str) -> str:
    """Escape Markdown syntax in plain text: ``markdown_text("a_1 * b")`` is ``a\\_1 \\* b``."""
    return _SPECIAL.sub(r"\\\1", text)


def block_markdown(block: Block | Figure) -> str:
    """One block as Markdown; a level-1 heading is ``##`` under the document's ``#`` title."""
    if isinstance(block, Figure):
        return figure_html(block)
    if isinstance(block, Heading):
        return f"{'#' * (block.level + 1)} {markdown_text(block.text)}"
    if isinstance(block, Paragraph):
        return "".join(
            markdown_text(text) if kind == "text" else f"${text}$" for kind, text in block.parts
        )
    if isinstance(block, Equation):
        return f"$$\n{block.latex}\n$$"
    raise TypeError(f"not a block: {block!r}")


@register("markdown", stack=True)
@register("markdown")
def to_markdown(
    derivation: Derivation,
    *,
    sections: Sequence[str] | None = None,
    expanded: bool = True,
    picture: bool | None = None,
    handout: bool = False,
    title: str | None = None,
    author: str | None = None,
) -> str:
    """Render ``derivation`` as MyST-compatible Markdown.

    Args:
        derivation: What to render.
        sections: Section names (:data:`~symbackprop.render.blocks.SECTIONS`); default all.
        expanded: Include the expanded forms of the gradients.
        picture: Open with the network's picture (inline SVG, an HTML block); default: when
            all sections are shown.
        handout: The short handout (:mod:`.handout`) instead.
        title: The ``#`` title (default: what the derivation is of).
        author: A line under the title.

    Returns:
        The Markdown document, starting with a ``#`` title and ending in a newline.
    """
    shown = content(
        derivation, sections=sections, expanded=expanded, picture=picture, handout=handout
    )
    parts = [f"# {markdown_text(heading(derivation, title))}"]
    if author:
        parts.append(markdown_text(author))
    parts += map(block_markdown, shown)
    return "\n\n".join(parts) + "\n"
