"""--time-limit: a computing command past its bound stops with one line and exit status 3."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from resource_specs import spec

from symbackprop import cli
from symbackprop.deadline import STOPPED, TimeLimitReached, deadline

#: Each run below must end well within this (its own --time-limit is 1 s at most).
WALL = 120


def _symbackprop(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "symbackprop", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=WALL)


def _deep_tanh_chain(folder: Path, depth: int = 16) -> Path:
    """A 1-wide tanh chain: its derivation takes well over the half second allowed below."""
    path = folder / "deep.toml"
    path.write_text(
        spec([1] * (depth + 1), ["tanh"] * (depth - 1) + ["identity"], "squared_error")
    )
    return path


def _assert_stopped(result: subprocess.CompletedProcess[str], command: str) -> None:
    assert result.returncode == STOPPED, result.stderr
    assert result.stderr == (
        f"symbackprop: stopped: {command} took longer than --time-limit 0.5 s "
        "(raise it with --time-limit)\n"
    )


@pytest.mark.parametrize("command", ["derive", "check"])
def test_a_command_past_its_time_limit_stops_with_exit_3_and_writes_nothing(
    tmp_path: Path, command: str
) -> None:
    spec = _deep_tanh_chain(tmp_path)
    result = _symbackprop(command, str(spec), "--time-limit", "0.5", "-o", "out", cwd=tmp_path)
    _assert_stopped(result, command)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.toml"]  # no file, no temporary


def test_the_time_limit_kills_the_users_code_in_its_child_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    (tmp_path / "slow.py").write_text(
        "import os, time\n"
        "def backprop(*args, **kwargs):\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    while True:\n"
        "        time.sleep(0.05)\n"
    )
    result = _symbackprop(
        "check", "seed", "--backprop", "slow.py:backprop", "--time-limit", "0.5", cwd=tmp_path
    )
    _assert_stopped(result, "check")
    if pid_file.exists():  # the child got as far as the call: it must be gone now
        time.sleep(0.2)
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid_file.read_text()), 0)


@pytest.mark.parametrize("value", ["0", "-1", "1e9", "nan", "inf", "soon"])
def test_a_bad_time_limit_is_a_one_line_usage_error(tmp_path: Path, value: str) -> None:
    result = _symbackprop("derive", "seed", f"--time-limit={value}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--time-limit: expected a number of seconds > 0 and <= 86400" in result.stderr


@pytest.mark.parametrize("command", cli.COMPUTING)
def test_every_computing_command_takes_a_time_limit(command: str) -> None:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    options = subparsers.choices[command]._option_string_actions  # type: ignore[attr-defined]
    assert options["--time-limit"].default == 600


def test_a_run_within_its_limit_is_untouched_and_leaves_no_timer(capsys: Any) -> None:
    assert cli.main(["derive", "seed", "--sections", "forward", "--time-limit", "60"]) == 0
    assert "Forward pass" in capsys.readouterr().out
    import signal

    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_the_deadline_raises_through_a_broad_except_exception() -> None:
    swallowed = []
    with pytest.raises(TimeLimitReached), deadline(0.05):
        try:
            while True:
                time.sleep(0.01)
        except Exception:  # SymPy's own handlers look like this: they must not stop it
            swallowed.append(True)
    assert swallowed == []
