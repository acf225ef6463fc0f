"""The HTML pages, rendered by headless Chromium: every formula drawn, aligned and fenced.

Skipped when Chromium or Playwright is missing, unless ``SYMBACKPROP_REQUIRE_BROWSER=1``.
Each page's screenshot is kept in ``tests/artifacts/`` (not committed) for review.
"""

from __future__ import annotations

from pathlib import Path

import browser
import pytest

from symbackprop import derive

TESTS = Path(__file__).parent
ARTIFACTS = TESTS / "artifacts"
PAGES = {"seed": "seed", "deep": TESTS / "specs" / "deep.toml", "cnn": "cnn"}

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("spec", PAGES.values(), ids=PAGES.keys())
def test_page_renders_in_chromium(spec: object) -> None:
    browser.require_browser()
    name = next(key for key, value in PAGES.items() if value == spec)
    path = ARTIFACTS / f"render_{name}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(derive(spec).to_html(), encoding="utf-8")
    with browser.open_page(path) as page:
        boxes = browser.math_boxes(page)
        equals_x = browser.aligned_equals_x(page)
        brackets = browser.bracket_heights(page)
        unrendered = browser.unrendered(page)
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        browser.screenshot(page, ARTIFACTS / f"render_{name}.png")
    assert boxes and all(box["width"] > 0 and box["height"] > 0 for box in boxes), [
        box for box in boxes if not (box["width"] > 0 and box["height"] > 0)
    ]
    assert len(equals_x) > 10
    for xs in equals_x:
        assert max(xs) - min(xs) <= 1.0, xs
    assert len(brackets) > 5 or name == "cnn"  # a stack's page has no matrices
    for bracket in brackets:
        assert min(bracket["open"], bracket["close"]) > bracket["line"], bracket
    assert unrendered == []
    assert widths[0] <= widths[1]  # nothing overflows the page


def test_phone_width_scrolls_equations_not_the_page() -> None:
    browser.require_browser()
    path = ARTIFACTS / "render_seed_phone.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(derive("seed").to_html(), encoding="utf-8")
    with browser.open_page(path, width=360) as page:
        page_width, viewport = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        scrolling = page.evaluate(
            """() => [...document.querySelectorAll(".equation")]
                .filter(div => div.scrollWidth > div.clientWidth)
                .map(div => getComputedStyle(div).overflowX)"""
        )
        first_text = page.evaluate(
            "() => document.querySelector('p').getBoundingClientRect().width"
        )
    assert page_width <= viewport
    assert scrolling and set(scrolling) == {"auto"}
    assert first_text <= viewport
