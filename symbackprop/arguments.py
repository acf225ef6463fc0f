"""argparse types shared by the command line's parsers: errors say what was expected."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def integer(minimum: int, expected: str) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``, described as ``expected`` in errors."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got '{text}'") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


positive = integer(1, "a positive integer")
non_negative = integer(0, "an integer >= 0")


def tolerance(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got '{text}'")
    return value


def seconds(maximum: float) -> Callable[[str], float]:
    """An argparse type: a time limit in seconds, > 0 and <= ``maximum``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= maximum):
            raise argparse.ArgumentTypeError(
                f"expected a number of seconds > 0 and <= {maximum:g}, got '{text}'"
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
