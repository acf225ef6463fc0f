"""``--time-limit``: a computing command stops past a bound, with one line and exit status 3.

The limit is a real-time interval timer whose ``SIGALRM`` raises :class:`TimeLimitReached`, a
``BaseException``, so that no broad ``except Exception`` (SymPy has several) swallows it. The
user's code in a child process (:mod:`symbackprop.isolation`) is killed on the way out.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: The exit status of a command stopped by its time limit.
STOPPED = 3


class TimeLimitReached(BaseException):
    """The command ran past ``--time-limit``."""

    def __init__(self, limit: float) -> None:
        super().__init__(limit)
        self.limit = limit


@contextmanager
def deadline(limit: float | None) -> Iterator[None]:
    """Raise :class:`TimeLimitReached` in the block once ``limit`` seconds have passed."""
    if limit is None or not hasattr(signal, "setitimer"):
        yield
        return

    def alarm(signum: int, frame: FrameType | None) -> None:
        raise TimeLimitReached(limit)

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def stopped_message(command: str, limit: float) -> str:
    """The one line a stopped command prints."""
    return (
        f"symbackprop: stopped: {command} took longer than --time-limit {limit:g} s "
        "(raise it with --time-limit)"
    )
