"""Long commands: a progress bar only on a terminal, and Ctrl-C without a traceback or a file."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from symbackprop import cli
from symbackprop.progress import progress
from symbackprop.spec import ActivationSpec, LossSpec, NetworkSpec
from symbackprop.spec_writer import spec_toml


def test_ctrl_c_in_a_command_is_exit_status_130_and_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    def interrupted(args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, "check", interrupted)
    assert cli.main(["check"]) == 130
    assert capsys.readouterr().err == "symbackprop: interrupted\n"


def test_progress_is_silent_off_a_terminal(capsys: Any) -> None:
    assert list(progress(range(3), "counting")) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def _wide_spec(tmp_path: Path) -> Path:
    from sympy import ImmutableMatrix, Rational

    def matrix(rows: int, cols: int) -> ImmutableMatrix:
        return ImmutableMatrix(rows, cols, lambda i, j: Rational((7 * i + 3 * j) % 19 - 9, 10))

    widths = (16, 24, 16, 10)
    spec = NetworkSpec(
        "wide",
        widths,
        (ActivationSpec("relu"), ActivationSpec("relu"), ActivationSpec("softmax")),
        LossSpec("cross_entropy"),
        tuple(matrix(widths[l + 1], widths[l]) for l in range(3)),
        tuple(matrix(widths[l + 1], 1) for l in range(3)),
        matrix(16, 1),
        ImmutableMatrix(10, 1, lambda i, j: int(i == 0)),
    )
    path = tmp_path / "wide.toml"
    path.write_text(spec_toml(spec), encoding="utf-8")
    return path


def test_sigint_stops_a_check_with_130_no_traceback_and_no_output_file(tmp_path: Path) -> None:
    spec, output = _wide_spec(tmp_path), tmp_path / "report.txt"
    command = [sys.executable, "-m", "symbackprop", "check", str(spec), "-o", str(output)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # past the imports, inside the derivation or the comparisons
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err == "symbackprop: interrupted\n" and out == ""
    assert not output.exists() and list(tmp_path.iterdir()) == [spec]


def test_a_terminal_sees_a_bar_for_long_work() -> None:
    code = (
        "import time\nfrom symbackprop.progress import progress\n"
        "for _ in progress(range(4), 'slow steps'):\n    time.sleep(1)\n"
    )
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    seen = b""
    while process.poll() is None or select.select([master], [], [], 0.2)[0]:
        if select.select([master], [], [], 0.2)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    os.close(master)
    assert process.wait() == 0
    assert b"slow steps" in seen and b"4/4" in seen


def test_help_example_and_argument_errors_do_not_import_sympy_or_numpy() -> None:
    code = (
        "import sys\nfrom symbackprop.cli import main\n"
        "for argv in (['example'], ['check', '--seed', 'x'], ['derive', '--format', 'nope']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('sympy', 'numpy', 'mpmath') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"


def test_ctrl_c_while_the_command_line_is_imported_is_one_line() -> None:
    """A Ctrl-C that lands during the start-up imports, before cli.run can catch it."""
    program = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'symbackprop.cli':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from symbackprop.console import run\n"
        "run()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stderr) == (130, "symbackprop: interrupted\n")
