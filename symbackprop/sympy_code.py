"""Strings that ``sympify`` reads back: SymPy code of a derivation's forms, and its ``locals``.

Display strings (``a^(1)_2*(yhat_1 - y_1)``, ``ReLU'(z^(1)_1)``) are for reading. Their names are
not Python identifiers, so :func:`sympy_code` spells each such symbol ``Symbol('a^(1)_2')`` and
each named function by its class (``ReLUPrime(...)``):

>>> from sympy import Symbol, sympify
>>> from symbackprop.activations import ReLUPrime
>>> text = sympy_code(Symbol("a^(1)_2") * ReLUPrime(Symbol("z^(1)_1")))
>>> text
"Symbol('a^(1)_2')*ReLUPrime(Symbol('z^(1)_1'))"
>>> sympify(text, locals=sympify_locals()) == Symbol("a^(1)_2") * ReLUPrime(Symbol("z^(1)_1"))
True
"""

from __future__ import annotations

from functools import lru_cache

import sympy
from sympy import Expr, Function, Symbol

from .activations import NAMED_FUNCTIONS
from .layers.pooling import FirstMax, PoolMax
from .remembering import RememberingStrPrinter


def sympify_locals() -> dict[str, type[Function] | type[Symbol]]:
    """The ``locals`` that ``sympy.sympify`` needs to read :func:`sympy_code` strings (the
    JSON's ``compact_sympy`` and ``expanded_sympy``): symbackprop's named functions, by class
    name, and ``Symbol``.

    Example:
        >>> sorted(sympify_locals())[:3]
        ['FirstMax', 'LeakyReLU', 'LeakyReLUPrime']
    """
    names: dict[str, type[Function] | type[Symbol]] = {
        cls.__name__: cls for cls in (*NAMED_FUNCTIONS, PoolMax, FirstMax)
    }
    names["Symbol"] = Symbol
    return names


class CodePrinter(RememberingStrPrinter):
    """SymPy's ``str()`` with a symbol that sympify would misread spelled ``Symbol('name')``."""

    def _print_Symbol(self, expr: Symbol) -> str:
        name = expr.name
        plain = name.isidentifier() and not hasattr(sympy, name) and name not in sympify_locals()
        return name if plain else f"Symbol({name!r})"


def sympy_code(expr: Expr) -> str:
    """``expr`` as a string that ``sympify(text, locals=sympify_locals())`` reads back equal,
    the terms in the expression's own order."""
    return _printer().doprint(expr)


@lru_cache(maxsize=1)
def _printer() -> CodePrinter:
    """The shared printer (it remembers what it printed)."""
    return CodePrinter({"order": "none"})
