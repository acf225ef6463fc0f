"""The console script ``symbackprop`` and ``python -m symbackprop``.

A Ctrl-C while the command line is still being imported is one line and exit status 130, as it
is once :func:`symbackprop.cli.run` has started.
"""

from __future__ import annotations

import sys


def run() -> None:
    """Import the command line and run it."""
    try:
        from .cli import run as command_line
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        sys.exit(130)
    command_line()
