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


@dataclass(frozen=True)
class Omitted:
    """A form that is not shown (or built) because it would be too large."""

    size: int
    limit: int
    option: str = "--expand-limit"

    def __str__(self) -> str:
        return f"omitted: {self.size} nodes exceeds the limit of {self.limit} ({self.option})"


def register(name: str, *, view: bool = False) -> Callable[[Renderer], Renderer]:
    """Register a renderer ``(derivation, **options) -> str`` as a format (or a view)."""

    def add(renderer: Renderer) -> Renderer:
        (VIEWS if view else FORMATS)[name] = renderer
        return renderer

    return add


def render(derivation: Derivation, fmt: str, **options: Any) -> str:
    """Render ``derivation`` in format ``fmt``.

    Raises:
        SymbackpropError: ``fmt`` is not a registered format.
    """
    if fmt not in FORMATS:
        raise SymbackpropError(
            f"unknown format '{fmt}'; expected one of: {', '.join(sorted(FORMATS))}"
        )
    return FORMATS[fmt](derivation, **options)


def view(derivation: Derivation, name: str) -> str:
    """Render ``derivation`` with the registered view ``name``."""
    return VIEWS[name](derivation)
