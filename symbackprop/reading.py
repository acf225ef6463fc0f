"""Reading a spec file: regular files and ``-`` (standard input) only, of bounded size.

A FIFO is never opened (it would block without a writer); a device such as ``/dev/zero`` or a
directory is refused after ``os.stat``, before anything is read. At most
:data:`~symbackprop.defaults.MAX_SPEC_BYTES` + 1 bytes are ever read.
"""

from __future__ import annotations

import os
import stat
import sys

from .defaults import MAX_SPEC_BYTES
from .errors import SpecError

#: The spec name that reads standard input.
STDIN = "-"


def read_spec_text(name: str, hint: str = "") -> str:
    """The text of the spec file ``name`` (``-``: standard input), a byte-order mark dropped.

    Raises:
        SpecError: not a regular file, over the size limit, unreadable or not UTF-8.
    """
    if name == STDIN:
        data = _read_stdin()
    else:
        _check_regular(name, hint)
        data = _read_file(name)
    if len(data) > MAX_SPEC_BYTES:
        raise _error(name, f"spec is larger than the limit of {MAX_SPEC_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _error(name, f"cannot read spec: not UTF-8 text (byte {exc.start})") from None


def _error(name: str, message: str) -> SpecError:
    source = "<stdin>" if name == STDIN else name
    return SpecError(source, "", message)


def _check_regular(name: str, hint: str) -> None:
    try:
        mode = os.stat(name).st_mode
    except (OSError, ValueError) as exc:
        raise _error(name, f"cannot read spec: {_reason(exc)}{hint}") from None
    if not stat.S_ISREG(mode):
        raise _error(name, f"cannot read spec: expected a regular file, got {_kind(mode)}")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _read_file(name: str) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(name, flags)  # non-blocking: a file swapped for a FIFO cannot hang the open
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _error(name, "cannot read spec: expected a regular file")
            with os.fdopen(fd, "rb", closefd=False) as handle:
                return handle.read(MAX_SPEC_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _error(name, f"cannot read spec: {_reason(exc)}") from None


def _read_stdin() -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    try:
        if stream is None:  # a test's StringIO
            return sys.stdin.read(MAX_SPEC_BYTES + 1).encode("utf-8")
        return stream.read(MAX_SPEC_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise _error(STDIN, f"cannot read spec: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    return f"{exc.__class__.__name__}: {getattr(exc, 'strerror', None) or exc}"
