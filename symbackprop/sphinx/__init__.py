"""Sphinx extension: derivations generated and checked at build time, math written as MathML.

In ``conf.py``::

    extensions = ["symbackprop.sphinx"]
    html_math_renderer = "symbackprop"  # every :math: and .. math:: becomes MathML, no JavaScript

In a document::

    .. backprop-derivation:: specs/net.toml
       :sections: forward, gradients
       :check:

    .. backprop-check:: seed-notebook
       :expect: fail

The directives are in :mod:`symbackprop.sphinx.directives`, the renderer in
:mod:`symbackprop.sphinx.html_math`. Sphinx is an optional dependency
(``pip install 'symbackprop[docs]'``); ``import symbackprop`` never imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..render.html import MATH_COLOUR, MATH_STYLE
from .directives import CheckDirective, DerivationDirective
from .html_math import visit_math, visit_math_block

if TYPE_CHECKING:
    from sphinx.application import Sphinx

__all__ = ["CheckDirective", "DerivationDirective", "setup"]

RENDERER = "symbackprop"
STYLESHEET = Path(__file__).parent / "static" / "symbackprop-math.css"


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives, the ``symbackprop`` HTML math renderer and its stylesheet.

    Args:
        app: The Sphinx application.

    Returns:
        The extension metadata: safe for parallel reading and writing.
    """
    app.add_directive("backprop-derivation", DerivationDirective)
    app.add_directive("backprop-check", CheckDirective)
    app.add_html_math_renderer(RENDERER, (visit_math, None), (visit_math_block, None))
    app.connect("builder-inited", _add_stylesheet)
    app.connect("build-finished", _copy_stylesheet)
    return {
        "version": __version__,
        "env_version": 1,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }


def _uses_renderer(app: Sphinx) -> bool:
    builder = app.builder
    return builder.format == "html" and getattr(builder, "math_renderer_name", None) == RENDERER


def _add_stylesheet(app: Sphinx) -> None:
    if _uses_renderer(app):
        app.add_css_file(STYLESHEET.name)


def stylesheet() -> str:
    """The extension's CSS: ``static/symbackprop-math.css`` and the math of ``--format html``.

    The math gets the html page's font stack, size and colour (themes set a grey text colour).
    """
    math = f"math {{ {MATH_STYLE} color: {MATH_COLOUR}; }}\n"
    return f"{STYLESHEET.read_text(encoding='utf-8')}{math}"


def _copy_stylesheet(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and _uses_renderer(app):
        target = Path(app.outdir) / "_static" / STYLESHEET.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(stylesheet(), encoding="utf-8", newline="\n")
