"""Tests for the html and mathml formats: one self-contained page of MathML Core, no scripts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from symbackprop import derive
from symbackprop.cli import main
from symbackprop.render import blocks as blocks_module
from symbackprop.render.blocks import Equation, Heading, blocks
from symbackprop.render.html import MATH_FONTS
from symbackprop.render.mathml import MATHML_NAMESPACE, MathMLError, validate_core
from symbackprop.render.mathml_format import equation_mathml
from symbackprop.render.toc import heading_ids, slug

TESTS = Path(__file__).parent
GOLDEN = TESTS / "golden"
SPECS = {path.stem: path for path in sorted((TESTS / "specs").glob("*.toml"))}
MATH = re.compile(r"<math\b.*?</math>", re.DOTALL)
ANCHOR = re.compile(
    r'(?<=<h[23]) id="[^"]*"| <a class="anchor" href="#[^"]*" aria-label="[^"]*">¶</a>'
)
HEADING = re.compile(r'<h([23]) id="([^"]+)">(.*?) <a class="anchor" href="#([^"]+)"')
TOC = re.compile(r'<nav class="toc" aria-label="Contents">\n(.*?)\n</nav>', re.DOTALL)


@pytest.fixture(scope="module")
def seed_html() -> str:
    return derive("seed").to_html()


def test_page_is_self_contained_without_scripts(seed_html: str) -> None:
    assert seed_html.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in seed_html
    assert "<script" not in seed_html.lower() and "javascript:" not in seed_html.lower()
    assert "<link" not in seed_html and "@import" not in seed_html and "<img" not in seed_html
    urls = set(re.findall(r"https?://[^\"'\s)]+", seed_html))
    # namespace names only, never fetched: MathML, and the picture's SVG and XLink
    svg = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert urls == {MATHML_NAMESPACE, *svg}


def test_math_font_stack_and_scrolling_displays(seed_html: str) -> None:
    assert MATH_FONTS == '"Latin Modern Math", "STIX Two Math", math'
    assert f"math {{ font-family: {MATH_FONTS};" in seed_html
    assert re.search(r"\.equation \{ overflow-x: auto;", seed_html)


def test_every_math_element_is_mathml_core(seed_html: str) -> None:
    maths = MATH.findall(seed_html)
    assert len(maths) > 50
    for math in maths:
        validate_core(math)


def test_one_display_per_equation_block_with_its_label(seed_html: str) -> None:
    equations = [b for b in blocks(derive("seed")) if isinstance(b, Equation)]
    labels = re.findall(r'<div class="equation" data-label="([^"]*)"><math', seed_html)
    assert labels == [equation.label for equation in equations]
    assert seed_html.count('display="block"') == len(equations)


def test_aligned_equations_become_tables(seed_html: str) -> None:
    assert seed_html.count('data-environment="aligned"') == seed_html.count('display="block"')
    assert "&amp;" not in "".join(MATH.findall(seed_html))


def test_sized_brackets_become_plain_fences() -> None:
    mathml = equation_mathml(r"\exp\Bigl(a + \operatorname{ReLU}\bigl(b\bigr)\Bigr)")
    fences = ET.fromstring(mathml).iter(f"{{{MATHML_NAMESPACE}}}mo")
    brackets = [mo.attrib for mo in fences if mo.text in "()"]
    assert [b["form"] for b in brackets] == ["prefix", "prefix", "postfix", "postfix"]
    assert {b["stretchy"] for b in brackets} == {"false"}
    assert "minsize" not in mathml


def test_conversion_error_names_the_equation(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(derivation: object, **options: object) -> list[object]:
        return [Equation(r"\begin{aligned} a &= \frac{1}{ \end{aligned}", "dJ/dW2[0,1]")]

    monkeypatch.setattr(blocks_module, "blocks", broken)
    with pytest.raises(MathMLError, match=r"^cannot convert equation 'dJ/dW2\[0,1\]' to MathML"):
        derive("seed").to_html()


def test_mathml_format_is_a_fragment(seed_html: str) -> None:
    fragment = derive("seed").to_mathml()
    assert fragment.startswith('<div class="symbackprop">\n<div class="picture">\n<svg ')
    bare = derive("seed").to_mathml(picture=False)
    assert bare.startswith('<div class="symbackprop">\n<h2>Notation</h2>')
    assert "<html" not in fragment and "<style" not in fragment
    assert "<h2 id=" not in fragment and "<nav" not in fragment
    assert fragment in ANCHOR.sub("", seed_html)


@pytest.mark.parametrize("shown", ["summary", "document"])
def test_jupyter_html_repr_has_its_style(shown: str) -> None:
    d = derive("seed")
    html = d._repr_html_() if shown == "summary" else d.document()._repr_html_()
    assert html.startswith("<style>\n") and '<div class="symbackprop">' in html
    assert "<script" not in html
    for math in MATH.findall(html):
        validate_core(math)


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_every_supported_network_renders(spec: Path) -> None:
    derivation = derive(spec)
    page = derivation.to_html()
    for math in MATH.findall(page):
        validate_core(math)
    assert '<h2 id="gradients">Gradients <a class="anchor" href="#gradients"' in page
    markdown = derivation.to_markdown()
    assert markdown.count("$$") % 2 == 0


def test_golden_html(seed_html: str) -> None:
    assert seed_html == (GOLDEN / "seed.html").read_text("utf-8"), (
        "the HTML output changed: review it, then run python tests/regenerate_golden.py"
    )


def test_cli_html_to_file(tmp_path: Path, seed_html: str) -> None:
    out = tmp_path / "seed.html"
    assert main(["derive", "--format", "html", "-o", str(out)]) == 0
    assert out.read_text("utf-8") == seed_html


# --- heading anchors and the table of contents ------------------------------------------------


def toc_links(page: str) -> list[tuple[str, str]]:
    """(href target, text) of each link in the page's table of contents, in order."""
    match = TOC.search(page)
    assert match, "no table of contents"
    return re.findall(r'<a href="#([^"]+)">([^<]*)</a>', match[1])


@pytest.mark.parametrize("name", ["seed", "cnn"])
def test_every_heading_has_a_unique_id_and_a_link_to_itself(name: str) -> None:
    page = derive(name).to_html()
    headings = HEADING.findall(page)
    assert len(headings) == page.count("<h2") + page.count("<h3") >= 5
    ids = [anchor for _, anchor, _, _ in headings]
    assert len(set(ids)) == len(ids)
    assert all(anchor == target for _, anchor, _, target in headings)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", anchor) for anchor in ids)


@pytest.mark.parametrize("name", ["seed", "cnn"])
def test_table_of_contents_links_every_heading_in_order(name: str) -> None:
    page = derive(name).to_html()
    headings = [(anchor, text) for _, anchor, text, _ in HEADING.findall(page)]
    assert toc_links(page) == headings
    assert page.index("</h1>") < page.index('<nav class="toc"') < page.index("<h2")


def test_table_of_contents_nests_subsections(seed_html: str) -> None:
    toc = TOC.search(seed_html)
    assert toc is not None
    assert (
        '<li><a href="#gradients">Gradients</a>\n<ol>\n<li><a href="#gradients-layer-1">' in toc[1]
    )
    ET.fromstring(f"<nav>{toc[1]}</nav>")  # well-formed: every list closed


def test_repeated_headings_get_distinct_ids() -> None:
    shown = [
        Heading("Gradients", 1),
        Heading("Layer 1", 2),
        Equation("x", "x"),
        Heading("Layer 1", 2),
        Heading("Backward recursion", 1),
        Heading("Layer 1", 2),
        Heading("δ ⊙ σ′", 1),
    ]
    assert heading_ids(shown) == [
        "gradients",
        "gradients-layer-1",
        None,
        "gradients-layer-1-2",
        "backward-recursion",
        "backward-recursion-layer-1",
        "section",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Layer 2: conv2d, 2 filters 3x3", "layer-2-conv2d-2-filters-3x3"),
        ("dW1, shape (3, 2)", "dw1-shape-3-2"),
    ],
)
def test_slug(text: str, expected: str) -> None:
    assert slug(text) == expected


def test_page_anchors_are_deterministic(seed_html: str) -> None:
    assert derive("seed").to_html() == seed_html
