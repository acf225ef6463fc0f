"""The ``symbackprop`` HTML math renderer: every Sphinx math node becomes MathML Core.

Registered by :func:`symbackprop.sphinx.setup` as ``html_math_renderer = "symbackprop"``. Each
``:math:`` role and ``.. math::`` directive is converted at build time with
:func:`symbackprop.render.mathml_format.equation_mathml`, so the page needs no JavaScript and no
network. LaTeX that cannot be converted is a Sphinx warning at the node's location, and the page
shows the LaTeX source in its place.

Display math follows Sphinx's own conventions (those of ``sphinx.ext.mathjax``): blank lines
separate equations, an equation with ``\\\\`` line breaks is set as a ``split``, and a numbered
equation gets its number and permalink.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from docutils import nodes
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

from ..render.mathml import MathMLError
from ..render.mathml_format import equation_mathml

if TYPE_CHECKING:
    from sphinx.writers.html5 import HTML5Translator

logger = logging.getLogger(__name__)

#: ``nowrap`` environments that have a MathML Core equivalent: the body, wrapped as shown.
_OUTER_ENVIRONMENTS = {
    "equation": "{}",
    "equation*": "{}",
    "displaymath": "{}",
    "align": r"\begin{{aligned}}{}\end{{aligned}}",
    "align*": r"\begin{{aligned}}{}\end{{aligned}}",
    "gather": r"\begin{{gathered}}{}\end{{gathered}}",
    "gather*": r"\begin{{gathered}}{}\end{{gathered}}",
}
_OUTER = re.compile(r"\A\s*\\begin\{([a-z]+\*?)\}(.*)\\end\{\1\}\s*\Z", re.DOTALL)
#: The node attribute the derivation directive sets to name an equation in error messages.
LABEL_ATTRIBUTE = "symbackprop-label"


def visit_math(self: HTML5Translator, node: nodes.math) -> None:
    """Write an inline ``:math:`` node as ``<math display="inline">``."""
    self.body.append(_mathml(node, node.astext(), display=False))
    raise nodes.SkipNode


def visit_math_block(self: HTML5Translator, node: nodes.math_block) -> None:
    """Write a display math node as a ``<div class="math">`` of ``<math display="block">``."""
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    if node.get("number"):
        number = get_node_equation_number(self, node)
        self.body.append(f'<span class="eqno">({number})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    for equation in display_equations(node.astext(), nowrap=_nowrap(node)):
        self.body.append(_mathml(node, equation, display=True))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def display_equations(latex: str, *, nowrap: bool = False) -> list[str]:
    r"""Split the body of a math block into the equations to convert, as Sphinx does.

    Args:
        latex: The node's text.
        nowrap: The ``:nowrap:`` option: the text is one equation, possibly in an ``equation``,
            ``align`` or ``gather`` environment, which becomes its MathML Core equivalent.

    Returns:
        One LaTeX string per ``<math>`` element.

    Example:
        >>> display_equations("a &= b \\\\ &= c\n\nd = e")
        ['\\begin{split}a &= b \\\\ &= c\\end{split}', 'd = e']
    """
    if nowrap:
        match = _OUTER.match(latex)
        if match and match.group(1) in _OUTER_ENVIRONMENTS:
            return [_OUTER_ENVIRONMENTS[match.group(1)].format(match.group(2).strip())]
        return [latex.strip()]
    parts = [part.strip() for part in latex.split("\n\n") if part.strip()]
    return [
        rf"\begin{{split}}{part}\end{{split}}"
        if r"\\" in part and not part.startswith(r"\begin")
        else part
        for part in parts
    ]


def _nowrap(node: nodes.math_block) -> bool:
    return bool(node.get("no-wrap", node.get("nowrap", False)))


def _mathml(node: nodes.Element, latex: str, *, display: bool) -> str:
    """``latex`` as MathML, or its escaped source after a warning at ``node``."""
    label = node.get(LABEL_ATTRIBUTE) or _shorten(latex)
    try:
        return equation_mathml(latex, display=display, label=label)
    except MathMLError as error:
        logger.warning("%s", error, location=node, type="symbackprop", subtype="mathml")
        tag = "div" if display else "span"
        return f'<{tag} class="symbackprop-math-error"><code>{html.escape(latex)}</code></{tag}>'


def _shorten(latex: str, width: int = 40) -> str:
    text = " ".join(latex.split())
    return text if len(text) <= width else text[: width - 1] + "…"
