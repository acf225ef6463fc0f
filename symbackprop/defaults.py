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
