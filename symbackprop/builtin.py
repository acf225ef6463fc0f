"""The built-in example specs, shipped as TOML files in ``symbackprop/examples/``."""

from __future__ import annotations

from importlib import resources

from .errors import SpecError


def example_names() -> list[str]:
    """The built-in examples, sorted."""
    folder = resources.files("symbackprop") / "examples"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def example_text(name: str) -> str:
    """The TOML text of a built-in example.

    Raises:
        SpecError: ``name`` is not a built-in example.
    """
    if name not in example_names():
        raise SpecError(
            f"example '{name}'",
            "",
            f"no such built-in example; expected one of: {', '.join(example_names())}",
        )
    return (resources.files("symbackprop") / "examples" / f"{name}.toml").read_text("utf-8")
