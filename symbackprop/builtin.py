"""The built-in example specs: ``symbackprop/examples/`` and the published worked examples.

The published examples live in the repository's ``examples/`` folder; a wheel ships them as
``symbackprop/published/`` (``force-include`` in ``pyproject.toml``), and a source checkout
reads them where they are.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import SpecError


def _folders() -> list[Traversable]:
    """The folders of example specs that exist: the package's own, then the published ones."""
    package = resources.files("symbackprop")
    folders: list[Traversable] = [package / "examples", package / "published"]
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file():  # a source checkout, not site-packages
        folders.append(root / "examples")
    return [f for f in folders if f.is_dir()]


def _files() -> dict[str, Traversable]:
    """Example name -> its file; the first folder that has a name wins."""
    files: dict[str, Traversable] = {}
    for folder in _folders():
        for path in folder.iterdir():
            if path.name.endswith(".toml"):
                files.setdefault(path.name.removesuffix(".toml"), path)
    return files


def example_names() -> list[str]:
    """The built-in examples, sorted."""
    return sorted(_files())


def example_text(name: str) -> str:
    """The TOML text of a built-in example.

    Raises:
        SpecError: ``name`` is not a built-in example.
    """
    files = _files()
    if name not in files:
        raise SpecError(
            f"example '{name}'",
            "",
            f"no such built-in example; expected one of: {', '.join(sorted(files))}",
        )
    return files[name].read_text("utf-8")
