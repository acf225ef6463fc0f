"""Writing output: files atomically (a failed run never leaves a truncated file), and stdout.

Devices and pipes (``/dev/null``, ``/dev/stdout``, a FIFO) cannot be replaced; they are written
to directly. The temporary file is ``.symbackprop-<pid>-<random>.tmp`` in the target's folder
(short, so that any legal file name can be the target). SIGTERM and SIGINT during the write
remove it; one left by a killed run (its pid is gone) is removed by the next write there.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from .errors import SymbackpropError

_PREFIX = ".symbackprop-"
_TEMPORARY = re.compile(r"\.symbackprop-(\d+)-[0-9a-f]{8}\.tmp")


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
    folder = target.parent
    remove_stale(folder)
    temporary = folder / f"{_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.tmp"
    with _terminate_raises():
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise _cannot_write(target, exc) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            os.chmod(temporary, _mode(target))
            os.replace(temporary, target)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise _cannot_write(target, exc) from None
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def remove_stale(folder: Path) -> list[Path]:
    """Remove the temporary files in ``folder`` left by symbackprop runs that were killed."""
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in sorted(names):
        match = _TEMPORARY.fullmatch(name)
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                (folder / name).unlink()
                removed.append(folder / name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


class Terminated(SystemExit):
    """SIGTERM arrived during a write: the temporary file is removed, then the run exits 143."""


@contextlib.contextmanager
def _terminate_raises() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` inside the block (in the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def same_file(output: str, spec: str) -> bool:
    """Whether writing ``output`` would replace the existing file ``spec`` (through a symlink,
    a hard link or another spelling of its path); False when either does not exist."""
    try:
        return os.path.samefile(output, spec)
    except (OSError, ValueError):
        return False


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output and flush it.

    Raises:
        SymbackpropError: standard output cannot take it (a full disk, a closed pipe).
    """
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        _silence_stdout()
        raise SymbackpropError(f"standard output: cannot write: {exc.strerror or exc}") from None


def _silence_stdout() -> None:
    """Point the standard output's descriptor at /dev/null, so that the interpreter's last
    flush of the unwritten text succeeds instead of printing a second error."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


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
    the temporary file itself is created readable by its owner only."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
