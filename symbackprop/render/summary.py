"""The summary a notebook shows for a derivation: architecture, loss and gradient matrices.

The whole document is one call away (``derivation.document()``, or ``to_html``/``to_latex``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sympy import Derivative

from .. import notation
from ..formats import register
from .backward_blocks import Writer
from .block_parts import Block, equation_chunks, paragraph, whole
from .common import title
from .html import CSS
from .latex import _block_latex
from .latex_printer import latex
from .mathml_format import block_html

if TYPE_CHECKING:
    from ..derivation import Derivation

#: How a notebook user gets from the summary to the whole derivation.
FULL = "The whole derivation, step by step: d.document() (or d.to_html(), d.to_latex())."


def summary_blocks(derivation: Derivation) -> list[Block]:
    """A one-line architecture and loss, then each layer's gradient matrices at the point."""
    writer = Writer(derivation, expanded=False)
    out: list[Block] = [
        paragraph(
            f"symbackprop derivation of {title(derivation)} (layer sizes, activations, loss). "
            "Gradients at the documented point, ReLU'(0) = "
            f"{derivation.options.relu_prime_at_zero}:"
        ),
    ]
    rows = []
    for key, matrix in derivation.values.gradients.items():
        symbol = whole(key[0], int(key[1:]) - 1)
        rows += writer.value_rows(latex(Derivative(notation.LOSS, symbol)), matrix)
    out += equation_chunks(rows, "gradient matrices")
    return [*out, paragraph(FULL)]


@register("notebook", view=True)
def notebook_html(derivation: Derivation) -> str:
    """The HTML a notebook shows: the summary as MathML with its style."""
    body = "\n".join(block_html(block) for block in summary_blocks(derivation))
    return f'<style>\n{CSS}</style>\n<div class="symbackprop">\n{body}\n</div>\n'


@register("notebook-latex", view=True)
def notebook_latex(derivation: Derivation) -> str:
    """The LaTeX a notebook (or nbconvert to PDF) shows: the summary."""
    return "\n\n".join(_block_latex(block) for block in summary_blocks(derivation)) + "\n"
