"""The pictures' SVG in Chromium's layout: no two text labels intersect, and every edge label
lies on its edge.

Skipped when Chromium or Playwright is missing, unless ``SYMBACKPROP_REQUIRE_BROWSER=1``.
The screenshots are kept in ``tests/artifacts/picture_*.png`` (ignored by git) for review.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import browser
import pytest

from symbackprop import derive
from symbackprop.picture import draw

TESTS = Path(__file__).parent
ARTIFACTS = TESTS / "artifacts"
SPECS = {"seed": "seed", "3542": TESTS / "specs" / "net-3-5-4-2.toml"}

pytestmark = pytest.mark.browser

#: Every label's box in CSS px, and for edge labels the box and segment in SVG user units.
MEASURE = """() => [...document.querySelectorAll("text.label")].map(text => {
    const r = text.getBoundingClientRect();
    const b = text.getBBox();
    return {kind: text.dataset.kind, edge: text.dataset.edge || null, text: text.textContent,
            screen: [r.left, r.top, r.right, r.bottom],
            user: [b.x, b.y, b.x + b.width, b.y + b.height]};
})"""


def _intersect(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _distance_to_line(x: float, y: float, edge: list[float]) -> float:
    x1, y1, x2, y2 = edge
    cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
    return abs(cross) / ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5


@pytest.mark.parametrize("mode", ["weights", "both"])
@pytest.mark.parametrize("name", SPECS)
def test_labels_do_not_intersect_and_sit_on_their_edges(name: str, mode: str) -> None:
    browser.require_browser()
    svg = draw(derive(SPECS[name]), gradients=mode)
    assert isinstance(svg, str)
    page_path = browser.write_page(
        ARTIFACTS / f"picture_{name}_{mode}.html", svg.split("?>", 1)[1]
    )
    with browser.open_page(page_path, width=1600) as page:
        labels = page.evaluate(MEASURE)
        browser.screenshot(page, ARTIFACTS / f"picture_{name}_{mode}.png")
    assert len(labels) > 10
    assert all(label["screen"][2] > label["screen"][0] for label in labels)
    for a, b in itertools.combinations(labels, 2):
        assert not _intersect(a["screen"], b["screen"]), (a["text"], b["text"])
    edges = [label for label in labels if label["kind"] == "edge"]
    assert len(edges) == {"seed": 12, "3542": 15 + 20 + 8}[name]
    for label in edges:
        segment = [float(v) for v in label["edge"].split(",")]
        left, top, right, bottom = label["user"]
        x, y = (left + right) / 2, (top + bottom) / 2
        assert min(segment[0], segment[2]) < x < max(segment[0], segment[2]), label
        # the centre is within a quarter of the label's height of the line
        assert _distance_to_line(x, y, segment) <= (bottom - top) / 4, label


@pytest.mark.parametrize(
    ("example", "count"),
    [
        ("seed", 31),  # 7 units, 12 edges, 5 biases, 3 headers, 2 targets, loss, legend
        ("cnn", 7),  # 5 boxes, the loss and the legend
    ],
)
def test_handout_page_renders_with_its_picture(example: str, count: int) -> None:
    """A handout in Chromium: every formula rendered, nothing wider than the page, the
    picture's labels apart."""
    browser.require_browser()
    path = ARTIFACTS / f"picture_handout_{example}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(derive(example).to_html(handout=True, title="Handout"), encoding="utf-8")
    with browser.open_page(path) as page:
        labels = page.evaluate(MEASURE)
        unrendered = browser.unrendered(page)
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        browser.screenshot(page, ARTIFACTS / f"picture_handout_{example}.png")
    assert unrendered == []
    assert widths[0] <= widths[1]
    assert len(labels) == count
    for a, b in itertools.combinations(labels, 2):
        assert not _intersect(a["screen"], b["screen"]), (a["text"], b["text"])


@pytest.mark.parametrize("name", ["cnn", "rnn"])
def test_stack_gradient_labels_do_not_intersect(name: str) -> None:
    """A stack's boxes with their gradients (``--gradients``): no two labels meet, and each
    box's label and gradient label lie inside their box."""
    browser.require_browser()
    svg = draw(derive(name), gradients="both")
    assert isinstance(svg, str)
    page_path = browser.write_page(
        ARTIFACTS / f"picture_{name}_gradients.html", svg.split("?>", 1)[1]
    )
    with browser.open_page(page_path, width=1600) as page:
        labels = page.evaluate(MEASURE)
        rects = page.evaluate(
            """() => [...document.querySelectorAll("rect[rx]")].map(r => {
                const b = r.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom];
            })"""
        )
        browser.screenshot(page, ARTIFACTS / f"picture_{name}_gradients.png")
    kinds = [label["kind"] for label in labels]
    assert kinds.count("box") == len(derive(name).spec.layers) + 1
    assert kinds.count("gradient") == {"cnn": 2, "rnn": 3}[name]
    for a, b in itertools.combinations(labels, 2):
        assert not _intersect(a["screen"], b["screen"]), (a["text"], b["text"])
    inside = [label for label in labels if label["kind"] in ("box", "gradient")]
    for label in inside:
        left, top, right, bottom = label["screen"]
        assert any(
            r[0] <= left and right <= r[2] and r[1] <= top and bottom <= r[3] for r in rects
        ), label["text"]
