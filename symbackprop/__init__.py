"""symbackprop: a small neural network as exact, symbolic, checked backpropagation mathematics.

>>> import symbackprop
>>> d = symbackprop.derive("seed")
>>> d.decimal(d.values.forward["yhat"][0])
'0.368187582264'

The names below are imported on first use (PEP 562), so that ``import symbackprop.cli`` and
``symbackprop --help`` do not import SymPy.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import SpecError, SymbackpropError

if TYPE_CHECKING:
    from .check import CheckReport, check
    from .derivation import Derivation, Options, derive
    from .spec import NetworkSpec, load_spec, parse_spec
    from .spec_dict import spec_from_dict
    from .sympy_code import sympify_locals

#: Each lazily imported public name and the module that defines it.
_LAZY = {
    "CheckReport": "check",
    "check": "check",
    "Derivation": "derivation",
    "Options": "derivation",
    "derive": "derivation",
    "NetworkSpec": "spec",
    "load_spec": "spec",
    "parse_spec": "spec",
    "spec_from_dict": "spec_dict",
    "sympify_locals": "sympy_code",
}

__all__ = [
    "CheckReport",
    "Derivation",
    "NetworkSpec",
    "Options",
    "SpecError",
    "SymbackpropError",
    "__version__",
    "check",
    "derive",
    "load_spec",
    "parse_spec",
    "spec_from_dict",
    "sympify_locals",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'symbackprop' has no attribute '{name}'")
    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(ModuleType):
    """Keeps ``symbackprop.check`` the function when the module ``symbackprop.check`` is
    imported (the import system binds a submodule as an attribute of its package)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
