"""A :class:`~.layout.Layout` as SVG, drawn with ``drawsvg``.

Every label is one ``<text class="label" data-kind="...">``; an edge label carries its segment
in ``data-edge`` so that a test can check, in a browser, that it sits on its edge.
"""

from __future__ import annotations

import drawsvg as dw

from .layout import FONT_SIZE, LINE_HEIGHT, Label, Layout

COLOURS = {"value": "#000", "gradient": "#b00", "name": "#333"}
FONT = "DejaVu Sans, Verdana, sans-serif"


def to_svg(picture: Layout, *, document: bool = True) -> str:
    """The SVG of ``picture``: a file (with an XML declaration) or, with ``document=False``, an
    ``<svg>`` element to inline in HTML or Markdown (no blank lines)."""
    drawing = dw.Drawing(
        picture.width,
        picture.height,
        id_prefix="symbackprop",
        font_family=FONT,
        font_size=FONT_SIZE,
        class_="symbackprop-network",
        role="img",
    )
    drawing.append(dw.Rectangle(0, 0, picture.width, picture.height, fill="white"))
    arrow = dw.Marker(-10, -4, 0, 4, scale=1, orient="auto", id="symbackprop-arrow")
    arrow.append(dw.Lines(-10, -4, 0, 0, -10, 4, close=True, fill="#666"))
    for segment in picture.segments:
        line = dw.Line(*map(_r, (segment.x1, segment.y1, segment.x2, segment.y2)), stroke="#666")
        if segment.arrow:
            line.args["marker-end"] = arrow
        drawing.append(line)
    for box in picture.rects:
        drawing.append(
            dw.Rectangle(
                box.x - box.w / 2,
                box.y - box.h / 2,
                box.w,
                box.h,
                rx=6,
                fill="#eef3fb",
                stroke="#000",
            )
        )
    for circle in picture.circles:
        drawing.append(
            dw.Circle(*map(_r, (circle.x, circle.y, circle.r)), fill="#eef3fb", stroke="#000")
        )
    for label in picture.labels:
        _label(drawing, label)
    text = drawing.as_svg() or ""
    text = "\n".join(line for line in text.splitlines() if line.strip())
    if not document:
        text = text.split("?>", 1)[1].lstrip("\n")
    return text + "\n"


def _r(value: float) -> float:
    """Coordinates to 0.01 px, so that the file is short and free of float noise."""
    return round(value, 2)


def _label(drawing: dw.Drawing, label: Label) -> None:
    box = label.box
    if label.background:
        drawing.append(
            dw.Rectangle(
                box.x - box.w / 2, box.y - box.h / 2, box.w, box.h, fill="white", opacity=0.9
            )
        )
    step = FONT_SIZE * LINE_HEIGHT
    first = box.y - (len(label.lines) - 1) * step / 2
    start = label.anchor == "start"
    x = _r(box.x - box.w / 2 + 3 if start else box.x)
    attributes = {"class": "label", "data-kind": label.kind}
    if label.edge is not None:
        attributes["data-edge"] = ",".join(f"{v:.2f}" for v in label.edge)
    text = dw.Text(
        "", FONT_SIZE, x, first, text_anchor="start" if start else "middle", **attributes
    )
    for n, line in enumerate(label.lines):
        text.append(
            dw.TSpan(
                line.plain,
                x=x,
                y=_r(first + n * step),
                dominant_baseline="central",
                fill=COLOURS[line.role],
            )
        )
    drawing.append(text)
