"""The sections of a rendered derivation, and the choice of them (``derive --sections``)."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import SymbackpropError

SECTIONS = ("notation", "forward", "loss", "output-error", "backward", "gradients")
"""The sections of a derivation, in document order."""

UPDATED = "updated"
"""The extra section for one gradient-descent step, present when the spec has ``[training]``.

It is included when all of :data:`SECTIONS` are, or when named explicitly.
"""


def resolve(sections: str | Iterable[str] | None) -> tuple[str, ...]:
    """Check section names and put them in document order; ``None`` means all.

    ``sections`` is one name, a comma-separated string of names (as ``--sections`` takes) or
    an iterable of names.

    Raises:
        SymbackpropError: An unknown section name.

    Example:
        >>> resolve(["gradients", "loss"])
        ('loss', 'gradients')
        >>> resolve("gradients,loss")
        ('loss', 'gradients')
    """
    known = (*SECTIONS, UPDATED)
    if sections is None:
        return known
    if isinstance(sections, str):
        sections = sections.split(",")
    chosen = [name.strip() for name in sections if name.strip()]
    for name in chosen:
        if name not in known:
            raise SymbackpropError(
                f"unknown section '{name}'; expected one of: {', '.join(known)}"
            )
    return tuple(name for name in known if name in chosen)
