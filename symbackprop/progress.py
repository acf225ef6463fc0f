"""A progress bar on stderr for long work, shown only when stderr is a terminal.

The bar (tqdm's) appears once the work has taken :data:`DELAY` seconds, so short commands and
pipelines print nothing extra, and never in a file or a pipe.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: Seconds before a bar appears.
DELAY = 2.0


def progress(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """``items``, with a bar named ``description`` on a terminal's stderr."""
    if not sys.stderr.isatty():
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(
        items, desc=description, total=total, delay=DELAY, leave=False, file=sys.stderr
    )
