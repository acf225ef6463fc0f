"""Pure geometry: a :class:`~.diagram.Diagram` -> positions of circles, boxes, lines and labels.

Labels never overlap: each edge label is placed greedily at the first point along its edge
whose (estimated, generous) text box is clear of every unit, label and box placed so far; if
an edge has no such point, the columns move apart and the layout starts again. Units are CSS
pixels; :mod:`.svg` draws them as they are and :mod:`.tikz` scales them to points.

>>> from symbackprop.picture.diagram import Column, Diagram, Text
>>> one = Column((Text("x", "$x$", "name"),), ((Text("1", "$1$"),),))
>>> picture = layout(Diagram((one,), (), (), (), ()))
>>> [label.kind for label in picture.labels]
['header', 'unit']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from ..errors import SymbackpropError
from .diagram import Column, Diagram, Text

FONT_SIZE = 12.0
LINE_HEIGHT = 1.25
PAD = 3.0
MARGIN = 12.0
#: Estimated advance widths in em: generous, so that a browser's real text is never wider.
_WIDE = {"−": 0.84, "=": 0.84, "→": 1.0, "×": 0.84, "∂": 0.66, "ŷ": 0.7, " ": 0.35}
_NARROW = {".": 0.4, ",": 0.4, "(": 0.45, ")": 0.45, "⁽": 0.45, "⁾": 0.45, "/": 0.45}
_CANDIDATES = tuple(round(0.14 + 0.02 * k, 2) for k in range(37))  # 0.14 ... 0.86
_MAX_TRIES = 60


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle by its centre and size."""

    x: float
    y: float
    w: float
    h: float

    def overlaps(self, other: Box, gap: float = 2.0) -> bool:
        """Whether the two boxes, each grown by ``gap / 2``, intersect."""
        return (
            abs(self.x - other.x) * 2 < self.w + other.w + gap
            and abs(self.y - other.y) * 2 < self.h + other.h + gap
        )


@dataclass(frozen=True)
class Label:
    """Text lines centred at (x, y) in their estimated ``box``; ``edge`` is the segment an
    edge label sits on; ``anchor`` ``"start"`` means left-aligned at ``box``'s left."""

    box: Box
    lines: tuple[Text, ...]
    kind: str
    edge: tuple[float, float, float, float] | None = None
    anchor: str = "middle"
    background: bool = False


@dataclass(frozen=True)
class Segment:
    """A straight line from (x1, y1) to (x2, y2); ``arrow`` draws an arrowhead at the end."""

    x1: float
    y1: float
    x2: float
    y2: float
    arrow: bool = False


@dataclass(frozen=True)
class Circle:
    """A unit."""

    x: float
    y: float
    r: float


@dataclass
class Layout:
    """The whole picture's geometry, with the size of the canvas."""

    width: float = 0.0
    height: float = 0.0
    circles: list[Circle] = field(default_factory=list)
    rects: list[Box] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """The estimated width of ``text`` at font ``size``: ``text_width("0.1") == 12 * 1.68``."""
    return size * sum(_WIDE.get(c, _NARROW.get(c, 0.64 if c.isdigit() else 0.72)) for c in text)


def label_box(x: float, y: float, lines: tuple[Text, ...]) -> Box:
    """The box of ``lines`` centred at (x, y), padding included."""
    width = max((text_width(line.plain) for line in lines), default=0.0)
    return Box(x, y, width + 2 * PAD, len(lines) * FONT_SIZE * LINE_HEIGHT + 2 * PAD)


def layout(diagram: Diagram) -> Layout:
    """Positions for everything in ``diagram``, with no two labels overlapping.

    Raises:
        SymbackpropError: No overlap-free placement was found (a network far too wide to draw).
    """
    if diagram.boxes_only:
        return _boxes_layout(diagram)
    gap = _min_gap(diagram)
    for _ in range(_MAX_TRIES):
        result = _attempt(diagram, gap)
        if result is not None:
            return result
        gap += 16.0
    raise SymbackpropError(
        "cannot place the edge labels without overlaps; the network is too wide"
    )


def _size(lines: tuple[Text, ...]) -> tuple[float, float]:
    box = label_box(0, 0, lines)
    return box.w, box.h


def _radius(diagram: Diagram) -> float:
    widths = [_size(unit)[0] for column in diagram.columns for unit in column.units]
    return max([18.0, *(w / 2 + 2 for w in widths)])


def _column_half_width(column: Column, radius: float) -> float:
    parts = [_size(column.header)[0] / 2, *(_size(b)[0] / 2 for b in column.biases)]
    parts.append(_size(column.box)[0] / 2 + 8 if column.collapsed else radius)
    return max(parts)


def _min_gap(diagram: Diagram) -> float:
    radius = _radius(diagram)
    halves = [_column_half_width(c, radius) for c in diagram.columns]
    pairs = pairwise(halves)
    return max([4 * radius + 40, *(a + b + 24 for a, b in pairs)])


def _pitch(diagram: Diagram, radius: float) -> float:
    bias = max((_size(b)[1] for c in diagram.columns for b in c.biases), default=0.0)
    return 2 * radius + bias + 18


def _attempt(diagram: Diagram, gap: float) -> Layout | None:
    """One layout with columns ``gap`` apart, or None if an edge label finds no place."""
    radius = _radius(diagram)
    pitch = _pitch(diagram, radius)
    header = max((_size(c.header)[1] for c in diagram.columns), default=0.0)
    top = MARGIN + header + 10 + radius
    heights = [_column_height(c, pitch) for c in diagram.columns]
    middle = top - radius + max(heights) / 2
    first = MARGIN + _column_half_width(diagram.columns[0], radius)
    out = Layout()
    centres: list[list[tuple[float, float]]] = []
    for c, column in enumerate(diagram.columns):
        x = first + c * gap
        centres.append(_place_column(out, column, x, middle, pitch, radius, top - radius - 10))
    _place_output(out, diagram, centres[-1], radius)
    for c, labels in enumerate(diagram.edges):
        if not _place_edges(out, diagram, c, labels, centres, radius):
            return None
    _finish(out, diagram)
    return out


def _column_height(column: Column, pitch: float) -> float:
    if column.collapsed:
        return _size(column.box)[1] + 16
    return len(column.units) * pitch


def _place_column(
    out: Layout,
    column: Column,
    x: float,
    middle: float,
    pitch: float,
    radius: float,
    header_bottom: float,
) -> list[tuple[float, float]]:
    """Add one column's units (or box), biases and header; return the unit centres."""
    if column.header:
        w, h = _size(column.header)
        out.labels.append(Label(Box(x, header_bottom - h / 2, w, h), column.header, "header"))
    if column.collapsed:
        w, h = _size(column.box)
        box = Box(x, middle, w + 16, h + 16)
        out.rects.append(box)
        out.labels.append(Label(Box(x, middle, w, h), column.box, "box"))
        return []
    centres = []
    start = middle - (len(column.units) - 1) * pitch / 2
    for i, unit in enumerate(column.units):
        y = start + i * pitch
        centres.append((x, y))
        out.circles.append(Circle(x, y, radius))
        out.labels.append(Label(label_box(x, y, unit), unit, "unit"))
        if column.biases:
            w, h = _size(column.biases[i])
            box = Box(x, y + radius + 4 + h / 2, w, h)
            out.labels.append(Label(box, column.biases[i], "bias"))
    return centres


def _place_output(
    out: Layout, diagram: Diagram, centres: list[tuple[float, float]], radius: float
) -> None:
    """The targets beside the output units, and the loss to their right."""
    right = max((c.x + c.r for c in out.circles), default=0.0)
    if diagram.columns[-1].collapsed:
        right = out.rects[-1].x + out.rects[-1].w / 2
    for (x, y), target in zip(centres, diagram.targets, strict=False):
        w, h = _size(target)
        out.labels.append(Label(Box(x + radius + 14 + w / 2, y, w, h), target, "target"))
        right = max(right, x + radius + 14 + w)
    if diagram.loss:
        w, h = _size(diagram.loss)
        ys = [y for _, y in centres] or [out.rects[-1].y]
        box = Box(right + 24 + w / 2, sum(ys) / len(ys), w, h)
        out.labels.append(Label(box, diagram.loss, "loss"))


def _obstacles(out: Layout) -> list[Box]:
    return [label.box for label in out.labels] + [
        Box(c.x, c.y, 2 * c.r + 4, 2 * c.r + 4) for c in out.circles
    ]


def _place_edges(
    out: Layout,
    diagram: Diagram,
    c: int,
    labels: tuple[tuple[tuple[Text, ...], ...], ...],
    centres: list[list[tuple[float, float]]],
    radius: float,
) -> bool:
    """Draw the edges from column ``c`` to ``c + 1`` and place their labels; False if stuck."""
    sources, targets = centres[c], centres[c + 1]
    if not labels:
        _connect_boxes(out, diagram, c, sources, targets, radius)
        return True
    obstacles = _obstacles(out)
    for i, (x2, y2) in enumerate(targets):
        for j, (x1, y1) in enumerate(sources):
            segment = _trim(x1, y1, x2, y2, radius)
            out.segments.append(segment)
            box = _free_spot(segment, labels[i][j], j, len(sources), obstacles)
            if box is None:
                return False
            edge = (segment.x1, segment.y1, segment.x2, segment.y2)
            out.labels.append(Label(box, labels[i][j], "edge", edge, background=True))
            obstacles.append(box)
    return True


def _trim(x1: float, y1: float, x2: float, y2: float, r: float) -> Segment:
    """The segment between two circles of radius ``r``, from boundary to boundary."""
    length = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
    dx, dy = (x2 - x1) / length * r, (y2 - y1) / length * r
    return Segment(x1 + dx, y1 + dy, x2 - dx, y2 - dy, arrow=True)


def _free_spot(
    segment: Segment, lines: tuple[Text, ...], j: int, count: int, obstacles: list[Box]
) -> Box | None:
    """The first box centred on ``segment`` that overlaps no obstacle, or None.

    Edges from source ``j`` of ``count`` prefer the point at t = 0.3 + 0.4 j / (count - 1).
    """
    preferred = 0.3 + 0.4 * j / max(1, count - 1)
    for t in sorted(_CANDIDATES, key=lambda t: (abs(t - preferred), t)):
        x = segment.x1 + t * (segment.x2 - segment.x1)
        y = segment.y1 + t * (segment.y2 - segment.y1)
        box = label_box(x, y, lines)
        if not any(box.overlaps(other) for other in obstacles):
            return box
    return None


def _connect_boxes(
    out: Layout,
    diagram: Diagram,
    c: int,
    sources: list[tuple[float, float]],
    targets: list[tuple[float, float]],
    radius: float,
) -> None:
    """Unlabelled lines where a collapsed column meets its neighbour."""
    boxes = {
        col: out.rects[_rect_index(diagram, col)]
        for col in (c, c + 1)
        if diagram.columns[col].collapsed
    }
    left = [(x + radius, y) for x, y in sources] or [(boxes[c].x + boxes[c].w / 2, boxes[c].y)]
    right = [(x - radius, y) for x, y in targets] or [
        (boxes[c + 1].x - boxes[c + 1].w / 2, boxes[c + 1].y)
    ]
    for x1, y1 in left:
        for x2, y2 in right:
            out.segments.append(Segment(x1, y1, x2, y2, arrow=len(left) * len(right) == 1))


def _rect_index(diagram: Diagram, column: int) -> int:
    return sum(1 for c in diagram.columns[:column] if c.collapsed)


def _finish(out: Layout, diagram: Diagram) -> None:
    """The legend under everything, and the canvas size."""
    bottom = max(
        [label.box.y + label.box.h / 2 for label in out.labels]
        + [c.y + c.r for c in out.circles]
        + [r.y + r.h / 2 for r in out.rects]
    )
    if diagram.legend:
        w, h = _size(diagram.legend)
        out.labels.append(
            Label(
                Box(MARGIN + w / 2, bottom + 10 + h / 2, w, h),
                diagram.legend,
                "legend",
                anchor="start",
            )
        )
    right = max(
        [label.box.x + label.box.w / 2 for label in out.labels]
        + [r.x + r.w / 2 for r in out.rects]
    )
    bottom = max([label.box.y + label.box.h / 2 for label in out.labels] + [bottom])
    out.width = round(right + MARGIN)
    out.height = round(bottom + MARGIN)


def _boxes_layout(diagram: Diagram) -> Layout:
    """A row of boxes joined by arrows (a stack with convolution or pooling); a box's
    gradient lines are a label of their own under its lines."""
    out = Layout()
    sizes = [_box_size(column) for column in diagram.columns]
    height = max(h for _, h in sizes) + 16
    y = MARGIN + height / 2
    x = MARGIN
    previous = None
    for column, (w, _) in zip(diagram.columns, sizes, strict=True):
        box = Box(x + (w + 16) / 2, y, w + 16, height)
        out.rects.append(box)
        bw, bh = _size(column.box)
        top = y - height / 2 + 8
        centre = top + bh / 2 if column.gradient else y
        out.labels.append(Label(Box(box.x, centre, bw, bh), column.box, "box"))
        if column.gradient:
            gw, gh = _size(column.gradient)
            label = Label(Box(box.x, top + bh + 8 + gh / 2, gw, gh), column.gradient, "gradient")
            out.labels.append(label)
        if previous is not None:
            out.segments.append(Segment(previous, y, x, y, arrow=True))
        previous = x + w + 16
        x = previous + 36
    if diagram.loss:
        w, h = _size(diagram.loss)
        out.labels.append(Label(Box(x + w / 2, y, w, h), diagram.loss, "loss"))
        out.segments.append(Segment(previous or x, y, x - 4, y, arrow=True))
    _finish(out, diagram)
    return out


def _box_size(column: Column) -> tuple[float, float]:
    """The width and height of a box's lines and, 8 px under them, its gradient lines."""
    w, h = _size(column.box)
    if not column.gradient:
        return w, h
    gw, gh = _size(column.gradient)
    return max(w, gw), h + 8 + gh
