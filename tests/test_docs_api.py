"""The API page's docstrings as autodoc and napoleon read them: prose, not types.

Napoleon reads the first line ``X: Y`` of an attribute or property docstring as "type X,
description Y", so the docstring "Each gradient in named intermediates: ..." became
"Type: Each gradient in named intermediates". Every attribute and property documented on
``docs/api.rst`` is run through napoleon here, as ``sphinx-build`` does.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import pytest
from sphinx.ext.napoleon import Config
from sphinx.ext.napoleon.docstring import GoogleDocstring
from sphinx.pycode import ModuleAnalyzer

API_PAGE = Path(__file__).parents[1] / "docs" / "api.rst"
AUTOMODULE = re.compile(
    r"^\.\. automodule:: (\S+)\n(?:   :members:(.*(?:\n      .*)*))?", re.MULTILINE
)


def api_members() -> dict[str, list[str] | None]:
    """Module -> the members ``docs/api.rst`` lists for it (None: ``:members:``, all of them)."""
    text = API_PAGE.read_text(encoding="utf-8")
    return {
        match[1]: None if match[2] == "" else [n.strip() for n in (match[2] or "").split(",") if n]
        for match in AUTOMODULE.finditer(text)
    }


def attribute_docstrings(module_name: str) -> Iterator[tuple[str, str]]:
    """(name, docstring) of each ``#:`` attribute and property on the module's API page part.

    Classes the module re-exports (``check.CheckReport``) are read from their own module.
    """
    module = importlib.import_module(module_name)
    listed = api_members()[module_name]
    names = listed if listed is not None else sorted(vars(module))
    own = ModuleAnalyzer.for_module(module_name).find_attr_docs()
    for (scope, name), lines in sorted(own.items()):
        if not scope and name in names:
            yield f"{module_name}.{name}", "\n".join(lines)
    for cls in (getattr(module, name) for name in names if hasattr(module, name)):
        if not inspect.isclass(cls) or not cls.__module__.startswith(module_name.split(".")[0]):
            continue
        if listed is None and cls.__module__ != module_name:
            continue
        attr_docs = ModuleAnalyzer.for_module(cls.__module__).find_attr_docs()
        for (scope, name), lines in sorted(attr_docs.items()):
            if scope == cls.__qualname__:
                yield f"{cls.__module__}.{scope}.{name}", "\n".join(lines)
        for name, member in sorted(vars(cls).items()):
            if isinstance(member, property | cached_property) and member.__doc__:
                doc = inspect.cleandoc(member.__doc__)
                yield f"{cls.__module__}.{cls.__qualname__}.{name}", doc


def as_type_field(docstring: str, what: str) -> list[str]:
    """The ``:type:`` lines napoleon makes of ``docstring`` (none for prose)."""
    config = Config(napoleon_google_docstring=True, napoleon_numpy_docstring=False)
    lines = GoogleDocstring(docstring, config, what=what, name="documented").lines()
    return [line for line in lines if line.startswith(":type:")]


def test_api_page_lists_modules() -> None:
    members = api_members()
    assert members["symbackprop.derivation"] is not None
    assert "Derivation" in members["symbackprop.derivation"]
    assert members["symbackprop.errors"] is None


def test_napoleon_reads_a_colon_first_line_as_a_type() -> None:
    """The check below can fail: the bad pattern does produce a type field."""
    assert as_type_field("Each gradient in named intermediates: ``x``.", "attribute") == [
        ":type: Each gradient in named intermediates"
    ]


@pytest.mark.parametrize("module_name", sorted(api_members()))
def test_attribute_docstrings_are_prose(module_name: str) -> None:
    typed = {
        name: fields
        for name, docstring in attribute_docstrings(module_name)
        for what in ("attribute", "property")
        if (fields := as_type_field(docstring, what))
    }
    assert typed == {}
