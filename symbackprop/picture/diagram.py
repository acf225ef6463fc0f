"""What a network picture shows, before any geometry: columns of units, edges and their labels.

A :class:`Diagram` holds only strings (short decimals and names in plain text and in LaTeX), so
:mod:`.layout` is pure geometry and :mod:`.svg`/:mod:`.tikz` only draw. The numbers come from
the derivation's exact values, rounded here; nothing is typed in.
"""

from __future__ import annotations

from dataclasses import dataclass

#: A layer wider than this is drawn as one box.
COLLAPSE_WIDTH = 10
#: What edge and bias labels show: the weight, the weight and dJ/dW, or dJ/dW only.
GRADIENT_MODES = ("weights", "both", "only")


@dataclass(frozen=True)
class Text:
    """One line of a label: ``plain`` for SVG (Unicode), ``tex`` for TikZ; ``role`` colours it."""

    plain: str
    tex: str
    role: str = "value"  # "value", "gradient" or "name"


@dataclass(frozen=True)
class Column:
    """One layer of units (x, a^(l) or yhat): a header and a label per unit, or one box."""

    header: tuple[Text, ...]
    units: tuple[tuple[Text, ...], ...]
    biases: tuple[tuple[Text, ...], ...] = ()
    box: tuple[Text, ...] = ()
    #: Under a box's lines: its parameters' gradients (a stack's layer).
    gradient: tuple[Text, ...] = ()

    @property
    def collapsed(self) -> bool:
        return bool(self.box)


@dataclass(frozen=True)
class Diagram:
    """A whole picture: columns left to right, edge labels ``edges[c][i][j]`` from unit j of
    column c to unit i of column c + 1 (empty when either side is a box), the target beside
    each output unit, the loss and a legend."""

    columns: tuple[Column, ...]
    edges: tuple[tuple[tuple[tuple[Text, ...], ...], ...], ...]
    targets: tuple[tuple[Text, ...], ...]
    loss: tuple[Text, ...]
    legend: tuple[Text, ...]
    boxes_only: bool = False
