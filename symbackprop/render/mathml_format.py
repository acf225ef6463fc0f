"""The ``mathml`` format: an HTML fragment of headings, paragraphs and MathML Core equations.

Every equation is converted from the same LaTeX as the other formats by
:func:`~symbackprop.render.mathml.latex_to_mathml`; a conversion error names the equation
(``dJ/dW2[0,1]``). The ``html`` format wraps this fragment in a page.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..formats import register
from .blocks import Block, Equation, Heading, Paragraph
from .content import content
from .figure import Figure, figure_html
from .mathml import MATHML_NAMESPACE, checked, unchecked_mathml

if TYPE_CHECKING:
    from ..derivation import Derivation

ET.register_namespace("", MATHML_NAMESPACE)

_OPENING, _CLOSING = frozenset("([{⟨"), frozenset(")]}⟩")


def equation_mathml(latex: str, *, display: bool = True, label: str = "equation") -> str:
    """:func:`~symbackprop.render.mathml.latex_to_mathml`, with sized brackets repaired.

    latex2mathml turns ``\\bigl(`` ... ``\\Biggr)`` (the brackets of a formula broken across
    lines) into a stretchy ``<mo>`` with ``minsize``/``maxsize`` but no ``form``. Chromium
    spaces such an operator like a binary one, and draws a stretchy bracket as wide as its
    widest glyph variant. Here each becomes a plain prefix (opening) or postfix (closing)
    bracket of normal size, as Chromium draws ``(`` in running math.

    Raises:
        MathMLError: The LaTeX cannot be converted; the message names ``label``.
    """
    mathml = unchecked_mathml(latex, display=display, label=label)
    if "minsize" not in mathml:
        return checked(mathml, label)
    root = ET.fromstring(mathml)
    for operator in root.iter(f"{{{MATHML_NAMESPACE}}}mo"):
        text = operator.text or ""
        if "minsize" in operator.attrib and (text in _OPENING or text in _CLOSING):
            for attribute in ("minsize", "maxsize"):
                del operator.attrib[attribute]
            operator.set("stretchy", "false")
            operator.set("form", "prefix" if text in _OPENING else "postfix")
    return checked(ET.tostring(root, encoding="unicode", short_empty_elements=False), label)


def block_html(block: Block | Figure, anchor: str | None = None) -> str:
    """One block as HTML with MathML: a level-1 heading is ``<h2>`` (the page title is h1).

    A heading with an ``anchor`` gets it as its ``id`` and ends in a ``¶`` link to itself.
    """
    if isinstance(block, Figure):
        return figure_html(block)
    if isinstance(block, Heading):
        level, text = block.level + 1, html.escape(block.text)
        if anchor is None:
            return f"<h{level}>{text}</h{level}>"
        link = f'<a class="anchor" href="#{anchor}" aria-label="Link to this section">¶</a>'
        return f'<h{level} id="{anchor}">{text} {link}</h{level}>'
    if isinstance(block, Paragraph):
        parts = [
            html.escape(text)
            if kind == "text"
            else equation_mathml(text, display=False, label=f"inline math {text!r}")
            for kind, text in block.parts
        ]
        return f"<p>{''.join(parts)}</p>"
    if isinstance(block, Equation):
        mathml = equation_mathml(block.latex, display=True, label=block.label)
        return f'<div class="equation" data-label="{html.escape(block.label)}">{mathml}</div>'
    raise TypeError(f"not a block: {block!r}")


@register("mathml", stack=True)
@register("mathml")
def to_mathml(
    derivation: Derivation,
    *,
    sections: Sequence[str] | None = None,
    expanded: bool = True,
    picture: bool | None = None,
    handout: bool = False,
) -> str:
    """Render ``derivation`` as an HTML fragment with MathML Core equations.

    Args:
        derivation: What to render.
        sections: Section names (:data:`~symbackprop.render.blocks.SECTIONS`); default all.
        expanded: Include the expanded forms of the gradients.
        picture: Open with the network's picture (inline SVG); default: when all sections
            are shown.
        handout: The short handout (:mod:`.handout`) instead.

    Returns:
        ``<div class="symbackprop">...</div>`` and a newline; no scripts, no styles.

    Raises:
        MathMLError: An equation cannot be converted; the message names it.
    """
    shown = content(
        derivation, sections=sections, expanded=expanded, picture=picture, handout=handout
    )
    return fragment(shown)


def fragment(shown: Sequence[Block | Figure], anchors: Sequence[str | None] = ()) -> str:
    """``<div class="symbackprop">`` around the blocks; ``anchors[i]`` is block i's heading id."""
    ids = list(anchors) or [None] * len(shown)
    body = "\n".join(block_html(block, anchor) for block, anchor in zip(shown, ids, strict=True))
    return f'<div class="symbackprop">\n{body}\n</div>\n'
