"""Render HTML pages in Debian's headless Chromium (via Playwright) and measure MathML.

Not a test module: tests import it (``import browser``) to check what Chromium really draws.
Playwright's own browser downloads are never used; only ``/usr/bin/chromium``.

Example:
    >>> require_browser()
    >>> path = write_page(tmp_path / "page.html", latex_to_mathml("x = 1"))
    >>> with open_page(path) as page:
    ...     assert all(box["width"] > 0 for box in math_boxes(page))
"""

import html
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
    "--disable-quic",
]
REQUIRE_ENV = "SYMBACKPROP_REQUIRE_BROWSER"
PAGE_CSS = """\
body { font-family: "Latin Modern Roman", serif; font-size: 20px; margin: 16px; }
math { font-family: "Latin Modern Math", "STIX Two Math", math; }
section { margin: 0 0 12px; }
"""


def require_browser() -> None:
    """Skip the calling test if Chromium or Playwright is missing.

    Raises:
        pytest.fail.Exception: Instead of skipping, when ``SYMBACKPROP_REQUIRE_BROWSER=1``.
        pytest.skip.Exception: When the browser is unavailable.
    """
    missing = _missing_browser()
    if missing is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{missing}, but {REQUIRE_ENV}=1")
    pytest.skip(missing)


def _missing_browser() -> str | None:
    """Describe what is missing to run Chromium, or None if it can run."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def write_page(path: Path, body: str, *, title: str = "symbackprop MathML") -> Path:
    """Write a UTF-8 HTML page around ``body`` (raw HTML, e.g. ``<math>`` elements).

    Args:
        path: Where to write the page; parent directories are created.
        body: HTML for inside ``<body>``.
        title: The page title (escaped).

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{PAGE_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
    path.write_text(page, encoding="utf-8")
    return path


@contextmanager
def open_page(html_path: Path, *, width: int = 1000) -> Iterator[Any]:
    """Open a local HTML file in headless Chromium once its fonts have loaded.

    Args:
        html_path: The page to open.
        width: Viewport width in CSS pixels.

    Yields:
        A ``playwright.sync_api.Page``.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.goto(html_path.resolve().as_uri())
            page.evaluate("document.fonts.ready.then(() => true)")
            yield page
        finally:
            browser.close()


def math_boxes(page: Any) -> list[dict[str, float]]:
    """The bounding box of every ``<math>`` element, in document order.

    Returns:
        One ``{"index", "width", "height"}`` per ``<math>``; unrendered math has zero size.
    """
    return page.evaluate(
        """() => [...document.getElementsByTagName("math")].map((math, index) => {
            const box = math.getBoundingClientRect();
            return {index, width: box.width, height: box.height};
        })"""
    )


def aligned_equals_x(page: Any, relations: str = "=≈∈") -> list[list[float]]:
    """Left x of the relation starting the second cell of each row, per aligned table.

    Aligned tables are the ``<mtable data-environment="aligned">`` of our converter. A row
    whose second cell does not start with one of ``relations`` contributes no value.

    Returns:
        One list of x positions (CSS px) per aligned table; they should all be equal.
    """
    return page.evaluate(
        """(relations) => [...document.querySelectorAll('mtable[data-environment="aligned"]')]
            .map(table => [...table.children].flatMap(row => {
                const cell = row.children[1];
                const first = cell && cell.firstElementChild;
                const ok = first && first.localName === "mo"
                    && relations.includes(first.textContent.trim());
                return ok ? [first.getBoundingClientRect().left] : [];
            }))""",
        relations,
    )


def bracket_heights(page: Any) -> list[dict[str, float]]:
    """Heights of the fence ``<mo>``s around each matrix, against one unstretched bracket.

    A matrix is an ``<mtable>`` whose previous and next siblings are ``<mo>``. The reference
    ``line`` is the height of ``<mo stretchy="false">[</mo>`` in the same ``<math>``.

    Returns:
        One ``{"open", "close", "table", "line"}`` (CSS px) per fenced matrix.
    """
    return page.evaluate(
        """() => [...document.querySelectorAll("mtable")].filter(table =>
                table.previousElementSibling?.localName === "mo"
                && table.nextElementSibling?.localName === "mo")
            .map(table => {
                const math = table.closest("math");
                const probe = document.createElementNS(math.namespaceURI, "mo");
                probe.setAttribute("stretchy", "false");
                probe.textContent = "[";
                math.appendChild(probe);
                const line = probe.getBoundingClientRect().height;
                probe.remove();
                const height = element => element.getBoundingClientRect().height;
                return {open: height(table.previousElementSibling), line,
                        close: height(table.nextElementSibling), table: height(table)};
            })"""
    )


def unrendered(page: Any) -> list[str]:
    """MathML elements that Chromium did not lay out as MathML.

    An element counts as rendered if it is in the MathML namespace and its computed
    ``display`` is a math display (``math``, ``block math``, ``inline math``) or, for
    ``mtable``/``mtr``/``mtd``, the matching table display. ``annotation`` and hidden
    ``semantics`` children are expected to have ``display: none``.

    Returns:
        Descriptions such as ``"mi #12: display=inline"``; empty if everything rendered.
    """
    return page.evaluate(
        """() => {
            const MATHML = "http://www.w3.org/1998/Math/MathML";
            const tables = {mtable: ["inline-table", "table"], mtr: ["table-row"],
                            mtd: ["table-cell"]};
            const hidden = ["annotation", "annotation-xml"];
            const maths = ["math", "block math", "inline math"];
            return [...document.querySelectorAll("math, math *")].flatMap((el, index) => {
                const display = getComputedStyle(el).display;
                const allowed = tables[el.localName]
                    || (hidden.includes(el.localName) ? ["none"] : maths);
                if (el.namespaceURI === MATHML && allowed.includes(display)) return [];
                return [`${el.localName} #${index}: display=${display} ns=${el.namespaceURI}`];
            });
        }"""
    )


def screenshot(page: Any, path: Path) -> Path:
    """Save a full-page PNG screenshot and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def cut_off(page: Any, *, math: bool = True, limit: int = 20) -> list[str]:
    """Elements that reach past the page's width or past the box of an ancestor that clips them.

    An ancestor clips when its ``overflow-x`` is not ``visible`` (``hidden``, ``auto``,
    ``scroll``, ``clip``): what reaches past its right edge is hidden or needs a scrollbar that
    a reader may never see. Elements of zero width and runs of white space are ignored, and so
    is everything inside ``<math>`` when ``math`` is false (a display equation scrolls).

    Returns:
        Up to ``limit`` descriptions such as ``"span.c1 in pre: right 1046 > 830"``.
    """
    return page.evaluate(
        """([math, limit]) => {
            const width = document.documentElement.clientWidth;
            const found = [];
            const name = el => el.localName + (el.classList.length ? "." + [...el.classList].join(".") : "");
            for (const el of document.querySelectorAll("body *")) {
                const box = el.getBoundingClientRect();
                if (box.width === 0 || getComputedStyle(el).display === "none") continue;
                if (!el.textContent.trim() && !el.children.length) continue;
                if (!math && el.closest("math")) continue;
                let edge = width, clipper = null;
                for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
                    if (getComputedStyle(up).overflowX !== "visible") {
                        const right = up.getBoundingClientRect().right;
                        if (right < edge) { edge = right; clipper = up; }
                    }
                }
                if (box.right > edge + 1) {
                    const where = clipper ? ` in ${name(clipper)}` : "";
                    found.push(`${name(el)}${where}: right ${Math.round(box.right)} > ${Math.round(edge)}`);
                    if (found.length >= limit) break;
                }
            }
            return found;
        }""",
        [math, limit],
    )
