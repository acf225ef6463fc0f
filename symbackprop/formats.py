"""The output-format registry, apart from the renderers so that nothing imports in a cycle.

Adding a format is one entry in :data:`MODULES` and one module in ``render/`` whose
``@register("name")`` functions render it. The modules are imported on first use, so that
``symbackprop --help`` does not import SymPy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import SymbackpropError

if TYPE_CHECKING:
    from .derivation import Derivation

Renderer = Callable[..., str]
#: Each format of ``derive --format`` (and each view) with the modules of ``symbackprop.render``
#: that register its renderers, for MLPs and for stacks of layers.
MODULES: dict[str, tuple[str, ...]] = {
    "html": ("html", "summary"),
    "json": ("json", "stack"),
    "latex": ("latex",),
    "markdown": ("markdown",),
    "mathml": ("mathml_format",),
    "text": ("text", "stack"),
}
#: The formats' renderers, filled by :func:`load`.
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


def load() -> None:
    """Import every renderer module, which fills :data:`FORMATS`, :data:`STACK_FORMATS` and
    :data:`VIEWS`."""
    for module in sorted({m for modules in MODULES.values() for m in modules}):
        import_module(f"symbackprop.render.{module}")


def renderer(derivation: Any, fmt: str) -> Renderer:
    """The renderer of format ``fmt`` for ``derivation`` (an MLP's or a stack's).

    Raises:
        SymbackpropError: no registered renderer of ``fmt`` for this kind of derivation.
    """
    load()
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
    load()
    return VIEWS[name](derivation)
