"""The blocks and the title of any derivation: an MLP's or a stack's.

The block-based formats (LaTeX, Markdown, MathML, HTML) ask here, so each renders both kinds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import blocks as mlp
from . import stack_blocks as stack
from .blocks import Block, resolve
from .figure import Figure, figure, wants_picture


def content(
    derivation: Any,
    *,
    sections: Sequence[str] | None = None,
    expanded: bool = True,
    picture: bool | None = None,
    handout: bool = False,
) -> list[Block | Figure]:
    """The blocks of ``derivation``: :func:`.blocks.blocks` or :func:`.stack_blocks.stack_blocks`,
    after the network's picture (by default drawn for a whole derivation, not for a choice of
    ``sections``: :func:`.figure.wants_picture`); or the handout (:mod:`.handout`)."""
    if handout and getattr(derivation, "kind", "") == "stack":
        from .stack_handout import stack_handout_blocks

        return stack_handout_blocks(derivation)
    if handout:
        from .handout import handout_blocks

        return handout_blocks(derivation)
    shown = resolve(sections)
    opening: list[Block | Figure] = (
        [figure(derivation)] if wants_picture(picture, sections) else []
    )
    if getattr(derivation, "kind", "") == "stack":
        return opening + list(stack.stack_blocks(derivation, shown))
    return opening + list(mlp.blocks(derivation, sections=shown, expanded=expanded))


def heading(derivation: Any, title: str | None = None) -> str:
    """The plain-text title of ``derivation``, or ``title`` when given."""
    if title is not None:
        return title
    if getattr(derivation, "kind", "") == "stack":
        return stack.stack_title(derivation)
    return mlp.title(derivation)
