"""The exceptions symbackprop raises for bad input.

``cli.main`` catches only :class:`SymbackpropError`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from .quoting import NAME_LIMIT, shown


class SymbackpropError(Exception):
    """Base class for every error caused by the user's input."""


class SpecError(SymbackpropError):
    """A spec file or table is malformed.

    The message names the source (file or example), the key, and what was expected::

        seed.toml: [network] activations[1]: unknown activation 'tanhh'; expected one of: relu, ...
    """

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source, self.key, self.detail = source, key, message
        shown_source = shown(source, NAME_LIMIT)  # a file name with a newline stays on one line
        super().__init__(
            f"{shown_source}: {key}: {message}" if key else f"{shown_source}: {message}"
        )


class UserBackpropError(SymbackpropError):
    """The user's own code is missing, raised, or returned the wrong thing.

    The message is one line; ``traceback`` is the user's part of the traceback, if any, for the
    pytest helpers (the command line shows the one line alone).
    """

    def __init__(self, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.traceback = traceback
