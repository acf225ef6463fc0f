"""argparse types shared by the command line's parsers: errors say what was expected.

Every numeric type has an upper bound (the limits in :mod:`symbackprop.defaults`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from .deadline import STOPPED
from .defaults import MAX_TIME_LIMIT, MAX_TOLERANCE, TIME_LIMIT

_INT_TEXT = 40  # longer integer literals are refused before int() reads them


def integer(minimum: int, maximum: int, expected: str) -> Callable[[str], int]:
    """An argparse type: an integer from ``minimum`` to ``maximum``, described as ``expected``."""

    def parse(text: str) -> int:
        try:
            if len(text) > _INT_TEXT:
                raise ValueError
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {_cut(text)}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


def positive(maximum: int) -> Callable[[str], int]:
    """An integer from 1 to ``maximum``."""
    return integer(1, maximum, f"an integer from 1 to {maximum}")


def non_negative(maximum: int) -> Callable[[str], int]:
    """An integer from 0 to ``maximum``."""
    return integer(0, maximum, f"an integer from 0 to {maximum}")


def tolerance(text: str) -> float:
    """An argparse type: a finite number from 0 to ``MAX_TOLERANCE``."""
    try:
        value = float(text) if len(text) <= _INT_TEXT else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= MAX_TOLERANCE):
        raise argparse.ArgumentTypeError(
            f"expected a number from 0 to {MAX_TOLERANCE:g}, got {_cut(text)}"
        )
    return value


def _cut(text: str) -> str:
    """``text`` quoted with escapes and cut, for an error message."""
    from .quoting import quoted

    return quoted(text)


def seconds(maximum: float) -> Callable[[str], float]:
    """An argparse type: a time limit in seconds, > 0 and <= ``maximum``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= maximum):
            raise argparse.ArgumentTypeError(
                f"expected a number of seconds > 0 and <= {maximum:g}, got {_cut(text)}"
            )
        return value

    return parse


def timeout_option(parser: argparse.ArgumentParser, flag: str) -> None:
    """Add ``--timeout SECONDS``: the time limit of the user's code named by ``flag``."""
    from .isolation import MAX_TIMEOUT, TIMEOUT

    parser.add_argument(
        "--timeout",
        type=seconds(MAX_TIMEOUT),
        default=TIMEOUT,
        metavar="SECONDS",
        help=f"the time limit of your code of {flag}, which runs in a child process: its "
        f"import and its calls at every point (default: {TIMEOUT:g}, at most {MAX_TIMEOUT:g}); "
        "running past it, exiting or crashing is an error (exit status 2)",
    )


def time_limit_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--time-limit SECONDS`` to a computing command's parser."""
    parser.add_argument(
        "--time-limit",
        type=seconds(MAX_TIME_LIMIT),
        default=TIME_LIMIT,
        metavar="SECONDS",
        help=f"stop with exit status {STOPPED} after this many seconds (default: "
        f"{TIME_LIMIT:g}, at most {MAX_TIME_LIMIT:g})",
    )
