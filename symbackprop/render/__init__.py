"""Output formats: one module per format, each adding itself to :data:`FORMATS`.

Adding a format is one module in this package with a ``@register("name")`` function and one
import line below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..derivation import Derivation

Renderer = Callable[..., str]
FORMATS: dict[str, Renderer] = {}


def register(name: str) -> Callable[[Renderer], Renderer]:
    """Register a renderer ``(derivation, **options) -> str`` under ``name``."""

    def add(renderer: Renderer) -> Renderer:
        FORMATS[name] = renderer
        return renderer

    return add


def render(derivation: Derivation, fmt: str, **options: Any) -> str:
    """Render ``derivation`` in format ``fmt``.

    Raises:
        SymbackpropError: ``fmt`` is not a registered format.
    """
    from ..errors import SymbackpropError

    if fmt not in FORMATS:
        raise SymbackpropError(
            f"unknown format '{fmt}'; expected one of: {', '.join(sorted(FORMATS))}"
        )
    return FORMATS[fmt](derivation, **options)


from . import html, json, latex, markdown, mathml_format, text  # noqa: E402  (fill the registry)

__all__ = [
    "FORMATS",
    "html",
    "json",
    "latex",
    "markdown",
    "mathml_format",
    "register",
    "render",
    "text",
]
