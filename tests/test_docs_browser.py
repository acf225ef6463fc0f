"""The project's built documentation in headless Chromium: the worked example's math renders.

Uses ``docs/_build/html`` when it has been built (as CI does before or after the tests);
otherwise builds the docs into a temporary directory with ``-W``.
"""

from __future__ import annotations

from pathlib import Path

import browser
import pytest
from sphinx.cmd.build import build_main

from symbackprop import derive

pytestmark = [
    pytest.mark.browser,
    # Sphinx 9's own napoleon uses an autodoc interface Sphinx 9 deprecates; not ours to fix.
    pytest.mark.filterwarnings("ignore:The mapping interface for autodoc options"),
]

DOCS = Path(__file__).parents[1] / "docs"
BUILT = DOCS / "_build" / "html"
ARTIFACTS = Path(__file__).parent / "artifacts"
PAGE = "worked-example.html"
PAGES = sorted(f"{path.stem}.html" for path in DOCS.glob("*.rst"))
MATH_STYLE = """() => {
    const math = document.querySelector("p math, li math");
    const style = getComputedStyle(math), around = getComputedStyle(math.parentElement);
    return {font: style.fontFamily, color: style.color, weight: style.fontWeight,
            scale: Math.round(100 * parseFloat(style.fontSize) / parseFloat(around.fontSize))};
}"""


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML docs: the existing build, or a fresh one with warnings as errors."""
    browser.require_browser()
    if (BUILT / PAGE).is_file():
        return BUILT
    root = tmp_path_factory.mktemp("docs")
    out = root / "html"
    argv = ["-q", "-W", "-b", "html", "-d", str(root / "doctrees"), str(DOCS), str(out)]
    assert build_main(argv) == 0, "sphinx-build -W failed on docs/"
    return out


def test_worked_example_has_no_mathjax(built_docs: Path) -> None:
    html = (built_docs / PAGE).read_text(encoding="utf-8")
    assert "<math" in html
    assert "mathjax" not in html.lower()


def test_worked_example_math_renders_in_chromium(built_docs: Path) -> None:
    with browser.open_page(built_docs / PAGE) as page:
        browser.screenshot(page, ARTIFACTS / "docs_worked_example.png")
        boxes = browser.math_boxes(page)
        assert len(boxes) > 10
        assert [box for box in boxes if box["width"] <= 0 or box["height"] <= 0] == []
        aligned = browser.aligned_equals_x(page)
        assert any(len(xs) >= 2 for xs in aligned), "no aligned equations on the page"
        for xs in aligned:
            assert max(xs) - min(xs) <= 1, xs
        assert browser.unrendered(page) == []


def test_worked_example_fits_a_phone_screen(built_docs: Path) -> None:
    with browser.open_page(built_docs / PAGE, width=375) as page:
        browser.screenshot(page, ARTIFACTS / "docs_worked_example_phone.png")
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"the page is {overflow}px wider than the screen"


@pytest.mark.parametrize("name", PAGES)
def test_nothing_is_cut_off_at_the_right_edge(built_docs: Path, name: str) -> None:
    """Wide check reports and specs wrap: no element reaches past the page or a clipping box."""
    with browser.open_page(built_docs / name) as page:
        assert browser.cut_off(page) == []


def test_worked_example_text_is_not_cut_off_on_a_phone(built_docs: Path) -> None:
    with browser.open_page(built_docs / PAGE, width=375) as page:
        assert browser.cut_off(page, math=False) == []


def test_math_has_the_font_and_colour_of_the_html_format(built_docs: Path, tmp_path: Path) -> None:
    standalone = tmp_path / "seed.html"
    standalone.write_text(derive("seed").to_html(), encoding="utf-8")
    with browser.open_page(standalone) as page:
        expected = page.evaluate(MATH_STYLE)
    with browser.open_page(built_docs / PAGE) as page:
        assert page.evaluate(MATH_STYLE) == expected
    assert expected["color"] == "rgb(17, 17, 17)" and expected["scale"] == 105
