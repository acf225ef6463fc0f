"""Writing output files atomically: a failed run never leaves a truncated file.

Devices and pipes (``/dev/null``, ``/dev/stdout``, a FIFO) cannot be replaced; they are written
to directly.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import SymbackpropError


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``.

    A symlink is followed (its target is replaced); a device or pipe is written to directly.

    Raises:
        SymbackpropError: the file cannot be written; any earlier file is left untouched.
    """
    target = Path(path)
    if _special(target):
        _write_through(target, text)
        return
    target = Path(os.path.realpath(target))  # through a symlink: the link stays a link
    try:
        fd, temporary = tempfile.mkstemp(
            dir=target.parent or ".", prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise _cannot_write(target, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(temporary, _mode(target))
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise _cannot_write(target, exc) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _cannot_write(target: Path, exc: OSError) -> SymbackpropError:
    return SymbackpropError(f"{target}: cannot write output: {exc.strerror or exc}")


def _special(target: Path) -> bool:
    """Whether ``target`` exists and is neither a regular file nor a directory."""
    try:
        mode = target.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _write_through(target: Path, text: str) -> None:
    try:
        with open(target, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as exc:
        raise _cannot_write(target, exc) from None


def _mode(target: Path) -> int:
    """The existing file's permissions, or those a plain ``open`` would give (0666 less umask);
    ``mkstemp`` itself creates files readable by their owner only."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
