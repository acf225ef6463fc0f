"""symbackprop: a small neural network as exact, symbolic, checked backpropagation mathematics.

>>> import symbackprop
>>> d = symbackprop.derive("seed")
>>> d.decimal(d.values.forward["yhat"][0])
'0.368187582264'
"""

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
    "check",
    "derive",
    "load_spec",
    "parse_spec",
]
__version__ = "0.1.0"
