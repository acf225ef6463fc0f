"""Heading anchors and a table of contents for the ``html`` page: ids and links, no JavaScript.

A heading's id is its text in lower case with every run of other characters turned into ``-``;
a subsection's id starts with its section's (``gradients-layer-1``), and a repeated id gets
``-2``, ``-3``, … in document order, so ids are unique and the same on every run.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from .blocks import Heading

_NOT_SLUG = re.compile(r"[^0-9a-z]+")


def slug(text: str) -> str:
    """``"Layer 2: conv2d 2x3x3"`` -> ``"layer-2-conv2d-2x3x3"``; ``"section"`` if nothing is left."""
    return _NOT_SLUG.sub("-", text.lower()).strip("-") or "section"


def heading_ids(shown: Sequence[object]) -> list[str | None]:
    """One unique id per heading of ``shown``, None for every other block."""
    ids: list[str | None] = []
    used: set[str] = set()
    section = ""
    for block in shown:
        if not isinstance(block, Heading):
            ids.append(None)
            continue
        base = slug(block.text)
        if block.level == 1:
            section = base
        else:
            base = f"{section}-{base}" if section else base
        anchor, n = base, 1
        while anchor in used:
            n += 1
            anchor = f"{base}-{n}"
        used.add(anchor)
        ids.append(anchor)
    return ids


def toc_html(shown: Sequence[object], ids: Sequence[str | None]) -> str:
    """``<nav class="toc">``: an ordered list of links to the sections, each with its subsections."""
    sections: list[tuple[str, list[str]]] = []
    for block, anchor in zip(shown, ids, strict=True):
        if not isinstance(block, Heading) or anchor is None:
            continue
        link = f'<a href="#{anchor}">{html.escape(block.text)}</a>'
        if block.level == 1 or not sections:
            sections.append((link, []))
        else:
            sections[-1][1].append(link)
    items = [f"<li>{link}{_sublist(subs)}</li>" for link, subs in sections]
    return '<nav class="toc" aria-label="Contents">\n<ol>\n' + "\n".join(items) + "\n</ol>\n</nav>"


def _sublist(links: list[str]) -> str:
    if not links:
        return ""
    return "\n<ol>\n" + "\n".join(f"<li>{link}</li>" for link in links) + "\n</ol>\n"
