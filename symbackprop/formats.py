"""The output-format registry, apart from the renderers so that nothing imports in a cycle.

``derivation`` looks formats up here; ``render/`` fills the table when ``symbackprop`` is
imported. Adding a format is one module in ``render/`` with a ``@register("name")`` function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import SymbackpropError

if TYPE_CHECKING:
    from .derivation import Derivation

Renderer = Callable[..., str]
#: The formats ``derive --format`` offers.
FORMATS: dict[str, Renderer] = {}
#: Renderers that are not formats of their own (the notebook's HTML view).
VIEWS: dict[str, Renderer] = {}
#: The formats that render a stack with convolution or pooling (a StackDerivation).
STACK_FORMATS: dict[str, Renderer] = {}


@dataclass(frozen=True)
class Omitted:
    """A form that is not shown (or built) because it would be too large."""

    size: int
    limit: int
    option: str = "--expand-limit"

    def __str__(self) -> str:
        return f"omitted: {self.size} nodes exceeds the limit of {self.limit} ({self.option})"


def register(
    name: str, *, view: bool = False, stack: bool = False
) -> Callable[[Renderer], Renderer]:
    """Register a renderer ``(derivation, **options) -> str`` as a format, a view, or a format
    of stacks."""

    def add(renderer: Renderer) -> Renderer:
        (VIEWS if view else STACK_FORMATS if stack else FORMATS)[name] = renderer
        return renderer

    return add


def renderer(derivation: Any, fmt: str) -> Renderer:
    """The renderer of format ``fmt`` for ``derivation`` (an MLP's or a stack's).

    Raises:
        SymbackpropError: no registered renderer of ``fmt`` for this kind of derivation.
    """
    stack = getattr(derivation, "kind", "") == "stack"
    table = STACK_FORMATS if stack else FORMATS
    if fmt not in table:
        what = (
            "format for [[layers]] stacks with convolution or pooling yet" if stack else "format"
        )
        raise SymbackpropError(
            f"{derivation.spec.source}: '{fmt}' is not a {what}; "
            f"expected one of: {', '.join(sorted(table))}"
            if stack
            else f"unknown format '{fmt}'; expected one of: {', '.join(sorted(table))}"
        )
    return table[fmt]


def render(derivation: Derivation | Any, fmt: str, **options: Any) -> str:
    """Render ``derivation`` in format ``fmt`` (see :func:`renderer`)."""
    return renderer(derivation, fmt)(derivation, **options)


def view(derivation: Derivation, name: str) -> str:
    """Render ``derivation`` with the registered view ``name``."""
    return VIEWS[name](derivation)
