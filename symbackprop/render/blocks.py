"""The content of a derivation as format-neutral blocks: headings, paragraphs and equations.

Every document format (LaTeX, Markdown, HTML, MathML) and the Sphinx extension is made from
:func:`blocks`, so the content is the same everywhere. Formulas are printed by SymPy through
:class:`~symbackprop.render.latex_printer.DerivationPrinter`; display equations are ``aligned``
environments broken to the page width by :func:`~symbackprop.render.layout.aligned`.

>>> from symbackprop import derive
>>> content = blocks(derive("seed"), sections=("loss",))
>>> [type(block).__name__ for block in content]
['Heading', 'Paragraph', 'Equation']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .backward_blocks import Writer
from .block_parts import Block, Equation, Heading, Paragraph
from .sections import SECTIONS, UPDATED, resolve

if TYPE_CHECKING:
    from ..derivation import Derivation

__all__ = [
    "SECTIONS",
    "UPDATED",
    "Block",
    "Equation",
    "Heading",
    "Paragraph",
    "blocks",
    "resolve",
    "title",
]


def title(derivation: Derivation) -> str:
    """A plain-text title: ``Backpropagation, step by step: seed (2-3-2)``."""
    spec = derivation.spec
    name = spec.name.removesuffix(".toml")
    return f"Backpropagation, step by step: {name} ({'-'.join(map(str, spec.layers))})"


def blocks(
    derivation: Derivation, *, sections: Sequence[str] = SECTIONS, expanded: bool = True
) -> list[Block]:
    """The content of ``derivation``, section by section.

    Args:
        derivation: The derivation to show.
        sections: Which sections, from :data:`SECTIONS` (and :data:`UPDATED`); they always
            appear in document order. The one-step update appears when the derivation has one
            and either all of :data:`SECTIONS` or :data:`UPDATED` are asked for.
        expanded: Show the expanded forms of the gradients (where they are small enough).

    Returns:
        Headings, paragraphs and equations.

    Raises:
        SymbackpropError: An unknown section name.
    """
    chosen = resolve(sections)
    writer = Writer(derivation, expanded)
    builders = {
        "notation": writer.notation,
        "forward": writer.forward,
        "loss": writer.loss,
        "output-error": writer.output_error,
        "backward": writer.backward,
        "gradients": writer.gradients,
    }
    result: list[Block] = []
    for name in SECTIONS:
        if name in chosen:
            result += builders[name]()
    wants_update = UPDATED in chosen or set(SECTIONS) <= set(chosen)
    if wants_update and getattr(derivation, "updated", None) is not None:
        result += writer.updated()
    return result
