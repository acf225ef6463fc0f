"""The ``html`` format: one self-contained page, MathML only, no JavaScript.

The page carries its own CSS: a math font stack so that brackets stretch (Latin Modern Math
from Debian's ``fonts-lmodern``, then STIX Two Math, then the browser's ``math`` font), a
viewport for phones, and display equations that scroll sideways instead of overflowing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..formats import register
from .content import content
from .content import heading as title_of
from .mathml_format import fragment, to_mathml
from .toc import heading_ids, toc_html

if TYPE_CHECKING:
    from ..derivation import Derivation

MATH_FONTS = '"Latin Modern Math", "STIX Two Math", math'
#: The page's text colour, which its math inherits: near-black, so that Latin Modern's thin
#: strokes stay legible. A notebook's math keeps the notebook's colour (dark themes).
MATH_COLOUR = "#111"
#: The font declarations of every ``math`` element; the Sphinx stylesheet uses them too.
MATH_STYLE = f"font-family: {MATH_FONTS}; font-size: 1.05em;"

CSS = f"""\
.symbackprop {{ font-family: "Latin Modern Roman", "STIX Two Text", Georgia, serif;
  line-height: 1.5; overflow-wrap: break-word; }}
.symbackprop math {{ {MATH_STYLE} }}
.symbackprop .equation {{ overflow-x: auto; overflow-y: hidden; margin: 0.6em 0;
  padding: 0.1em 0; }}
.symbackprop .equation > math {{ width: max-content; min-width: 100%; margin: 0;
  padding: 0.2em 0; }}
.symbackprop h2, .symbackprop h3 {{ font-weight: normal; margin: 1.2em 0 0.4em; }}
.symbackprop h2 {{ font-size: 1.45em; border-bottom: 1px solid #ccc; }}
.symbackprop h3 {{ font-size: 1.2em; }}
.symbackprop h2, .symbackprop h3, .symbackprop p:has(+ .equation) {{ break-after: avoid; }}
.symbackprop .equation, .symbackprop .picture {{ break-inside: avoid; }}
.symbackprop .picture {{ overflow-x: auto; margin: 0.6em 0; }}
.symbackprop .picture svg {{ display: block; max-width: 100%; height: auto; }}
"""

TOC_CSS = """\
.toc { font-family: "Latin Modern Roman", "STIX Two Text", Georgia, serif; line-height: 1.4; }
.toc ol { margin: 0.2em 0; padding-left: 1.4em; }
.toc a, .symbackprop a.anchor { color: inherit; }
.symbackprop a.anchor { text-decoration: none; opacity: 0.25; font-size: 0.8em; }
.symbackprop h2:hover a.anchor, .symbackprop h3:hover a.anchor, a.anchor:focus { opacity: 1; }
"""

PAGE_CSS = f"""\
body {{ margin: 0 auto; max-width: 54rem; padding: 0.5rem 1rem 2rem; font-size: 18px;
  color: {MATH_COLOUR}; background: #fff; }}
h1 {{ font-family: "Latin Modern Roman", "STIX Two Text", Georgia, serif; font-weight: normal;
  font-size: 1.7em; line-height: 1.25; }}
"""


@register("html", stack=True)
@register("html")
def to_html(
    derivation: Derivation,
    *,
    sections: Sequence[str] | None = None,
    expanded: bool = True,
    picture: bool | None = None,
    handout: bool = False,
    title: str | None = None,
    author: str | None = None,
) -> str:
    """Render ``derivation`` as a complete HTML page, with a table of contents after the title.

    Every heading has an id and a ``¶`` link to itself (:mod:`~symbackprop.render.toc`).

    Args:
        derivation: What to render.
        sections: Section names (:data:`~symbackprop.render.blocks.SECTIONS`); default all.
        expanded: Include the expanded forms of the gradients.
        picture: Open with the network's picture (inline SVG); default: when all sections
            are shown.
        handout: The short handout (:mod:`.handout`) instead.
        title: The page's ``<title>`` and heading (default: what the derivation is of).
        author: A line under the heading, and the page's author.

    Returns:
        The page, UTF-8 text ending in a newline.
    """
    heading = html.escape(title_of(derivation, title))
    shown = content(
        derivation, sections=sections, expanded=expanded, picture=picture, handout=handout
    )
    ids = heading_ids(shown)
    meta = f'<meta name="author" content="{html.escape(author)}">\n' if author else ""
    byline = f'<p class="author">{html.escape(author)}</p>\n' if author else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{meta}<title>{heading}</title>\n<style>\n{PAGE_CSS}{TOC_CSS}{CSS}</style>\n</head>\n"
        f"<body>\n<h1>{heading}</h1>\n{byline}{toc_html(shown, ids)}\n{fragment(shown, ids)}"
        "</body>\n</html>\n"
    )


@register("document", view=True)
def document_html(derivation: Derivation) -> str:
    """The whole derivation for a notebook: the MathML fragment with its style, no page."""
    return f"<style>\n{CSS}</style>\n{to_mathml(derivation)}"
