"""symbackprop: a small neural network as exact, symbolic, checked backpropagation mathematics.

>>> import symbackprop
>>> d = symbackprop.derive("seed")
>>> d.decimal(d.values.forward["yhat"][0])
'0.368187582264'
"""

from . import render  # noqa: F401  (fills the format registry)
from ._version import __version__
from .check import CheckReport, check
from .derivation import Derivation, Options, derive
from .errors import SpecError, SymbackpropError
from .spec import NetworkSpec, load_spec, parse_spec

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
]
