"""Defaults and limits that the command line shows in ``--help``, kept free of heavy imports.

``symbackprop --help``, ``symbackprop example`` and argument errors import this module and
:mod:`symbackprop.cli` only, not SymPy or NumPy.
"""

from __future__ import annotations

#: Default tolerances for float64 gradients (lambdified, reference, user) against exact values:
#: pass when |value - exact| <= atol + rtol * |exact|.
RTOL, ATOL = 1e-7, 1e-9
#: The expanded form of an entry is built only below this many expression-tree nodes.
EXPAND_LIMIT = 4000
#: An exact value is printed only up to this many expression-tree nodes (deep networks with
#: transcendental activations have exact values whose printed form grows exponentially).
EXACT_LIMIT = 500
#: The allowed values of ReLU'(0), as written on the command line and in specs.
KINKS = ("0", "1/2", "1")
#: Report formats of ``check --format``: name -> the :class:`~.checking.report.CheckReport`
#: method that renders it.
REPORT_FORMATS = {"text": "to_text", "json": "to_json"}

# ----------------------------------------------------------------------------- limits
# Every numeric flag has an upper bound, so that no flag value makes a run hang or exhaust memory
# (docs/cli.rst lists them).

#: The most significant digits ``--digits`` may ask for.
MAX_DIGITS = 1000
#: The most random points ``--random-points`` may ask for (``check`` and ``check-layer``).
MAX_RANDOM_POINTS = 100
#: The largest ``--seed`` (NumPy's 32-bit seed range).
MAX_SEED = 2**32 - 1
#: The largest ``--expand-limit`` and ``--exact-limit``, in expression-tree nodes.
MAX_NODE_LIMIT = 10**6
#: The largest ``--rtol`` and ``--atol``.
MAX_TOLERANCE = 1.0
#: The largest spec file read, in bytes (1 MiB).
MAX_SPEC_BYTES = 2**20
#: The deepest nesting of arrays and tables a spec may have.
MAX_NESTING = 32
#: The largest size in ``check-layer --shape`` (each of N, D's dimensions, C, H, ...).
MAX_LAYER_SIZE = 64
#: The most entries all of ``check-layer --shape``'s sizes may multiply to.
MAX_LAYER_ENTRIES = 10**5
#: The default and the largest ``--time-limit`` of a computing command, in seconds.
TIME_LIMIT = 600
MAX_TIME_LIMIT = 86400
