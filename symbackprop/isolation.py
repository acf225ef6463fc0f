"""Run the user's code in a child process with a time limit (:mod:`symbackprop.child`).

The user's module is imported, and its functions called at every point, in ONE child: a
``python -P -m symbackprop.child`` in its own session, so that the whole process group can be
killed. Its exit, crash, signal or time-out, or an ``os._exit`` in the user's code, is a
:class:`~symbackprop.errors.UserBackpropError` naming the function, never a result: a
comparison runs only on arrays the child returned and converted to float64.

The child's standard output and error go to ours (to standard error: standard output is the
report's). This module imports no NumPy at import time, for ``--help``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import UserBackpropError

#: The default time limit, in seconds, of the user's code (its import and all its calls).
TIMEOUT = 60.0
#: The largest time limit ``--timeout`` accepts, in seconds.
MAX_TIMEOUT = 86400.0


@dataclass(frozen=True)
class Isolated:
    """User code to run in a child: ``target`` (``file.py:function`` or a module), ``timeout``."""

    target: str
    timeout: float = TIMEOUT


@dataclass(frozen=True)
class ChildResult:
    """What the child returned: one dict of float64 arrays per point, and the name of the
    function (``module.qualname``, or the qualname of a file's function)."""

    results: list[dict[str, Any]]
    name: str


class ChildError(UserBackpropError):
    """The user's code failed in the child; ``traceback`` is the user's part of it, if any."""


def importable(function: Any) -> tuple[str, str] | None:
    """``(module target, name)`` under which a child process can import ``function`` again: a
    module-level function of a named module, or of a file; None for anything else (a lambda, a
    closure, a function of ``__main__``), which then runs in our own process."""
    name = getattr(function, "__qualname__", "")
    module = sys.modules.get(getattr(function, "__module__", None) or "")
    if module is None or not name.isidentifier() or getattr(module, name, None) is not function:
        return None
    if not module.__name__.startswith(("_symbackprop_", "__main__")):
        return module.__name__, name
    file = getattr(module, "__file__", None)
    if module.__name__ == "__main__" or not file or not file.endswith(".py"):
        return None
    return file, name


def run_child(job: str, payload: dict[str, Any], who: str, timeout: float) -> ChildResult:
    """Run ``job`` of :mod:`symbackprop.child` on ``payload``; ``who`` names the function.

    Raises:
        ChildError: the user's code raised or returned the wrong thing (the child's message),
            or the child exited, crashed or ran past ``timeout`` seconds.
    """
    folder = Path(tempfile.mkdtemp(prefix="symbackprop-"))
    try:
        request, response = folder / "request.pkl", folder / "response.npz"
        with request.open("wb") as file:
            pickle.dump({"job": job, "payload": payload, "who": who, "sys_path": sys.path}, file)
        status = _wait(request, response, folder, timeout, who)
        if not response.is_file():
            raise ChildError(f"{who}: {_death(status)} before returning its results")
        return _read(response, who)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait(request: Path, response: Path, folder: Path, timeout: float, who: str) -> int:
    """Run the child to its end (killing its process group after it); its exit status."""
    command = [sys.executable, "-P", "-m", "symbackprop.child", str(request), str(response)]
    with _output(folder) as out:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
        try:
            return child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ChildError(
                f"{who}: did not finish within {timeout:g} s (raise the limit with --timeout)"
            ) from None
        finally:
            _kill_group(child)


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


@contextlib.contextmanager
def _output(folder: Path) -> Iterator[int | IO[bytes]]:
    """Our standard error's file descriptor, or (under capture) a file copied to it after."""
    try:
        sys.stderr.flush()
        descriptor = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        descriptor = -1
    if descriptor >= 0:
        yield descriptor
        return
    with (folder / "output").open("w+b") as file:
        try:
            yield file
        finally:
            file.seek(0)
            sys.stderr.write(file.read().decode(errors="replace"))


def _death(status: int) -> str:
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"the process running it was killed by {name}"
    return f"the process running it exited with status {status} (os._exit or a crash?)"


def _read(response: Path, who: str) -> ChildResult:
    import numpy as np

    try:
        with np.load(response, allow_pickle=False) as data:
            header = json.loads(str(data["__header__"]))
            if header["status"] != "ok":
                raise ChildError(header["message"], header.get("traceback", ""))
            results = [
                {k: data[f"{i}/{k}"] for k in keys} for i, keys in enumerate(header["keys"])
            ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ChildError(f"{who}: unreadable results from its process ({exc})") from None
    return ChildResult(results, str(header.get("name", "")))
