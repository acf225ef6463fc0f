"""The adversarial corpus (issue 16): hostile specs, flags, files and environments, run as data.

``tests/adversarial/cases.toml`` lists the cases. Each must end within its time bound with an
expected exit status, no traceback, and at most one short line on stderr for an error. A case
that sets ``stdout``, ``env`` or ``process`` runs in a fresh process with that time limit, two at
a time; the others run in-process through :func:`symbackprop.cli.main` (SymPy is imported once).
Every file in ``tests/adversarial/specs`` is also a case (``derive FILE``, exit status 2).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from symbackprop.builtin import example_text
from symbackprop.cli import main
from symbackprop.defaults import MAX_SPEC_BYTES

HERE = Path(__file__).parent / "adversarial"
SPECS = HERE / "specs"
STDERR_LIMIT = 2048
SPEC_SECONDS = 10  # a spec file's error is found in well under a second on an idle machine


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    expect: tuple[int, ...]
    seconds: float
    make: str = ""
    stdin: str = ""
    stdout: str = ""
    env: dict[str, str] = field(default_factory=dict)
    process: bool = False

    @property
    def in_process(self) -> bool:
        return not (self.process or self.stdout or self.env)


def _cases() -> list[Case]:
    table = tomllib.loads((HERE / "cases.toml").read_text("utf-8"))
    defaults = table["defaults"]
    listed = [
        Case(
            c["name"],
            tuple(c["args"]),
            tuple(c.get("expect", defaults["expect"])),
            c.get("seconds", defaults["seconds"]),
            c.get("make", ""),
            c.get("stdin", ""),
            c.get("stdout", ""),
            c.get("env", {}),
            c.get("process", False),
        )
        for c in table["case"]
    ]
    return listed


def _make(kind: str, tmp: Path) -> Path:
    """Create the odd file ``kind`` in ``tmp``."""
    made = tmp / f"made-{kind}.{'py' if kind == 'broken-module' else 'toml'}"
    seed = example_text("seed")
    if kind == "broken-module":  # a module that does not compile (kept out of the linted tree)
        made.write_text("def backprop(params, x, y)\n    return params\n")
    elif kind == "fifo":
        os.mkfifo(made)
    elif kind == "oversize":
        made.write_text(seed + "#" * MAX_SPEC_BYTES + "\n")
    elif kind == "deep-array":
        made.write_text(seed.replace("[data]", f"[data]\nz = {'[' * 500}{']' * 500}", 1))
    elif kind == "deep-table":
        made.write_text(seed + "[training]\n" + ".".join(["t"] * 500) + " = 1\n")
    elif kind == "seed":
        made.write_text(seed)
    else:  # pragma: no cover
        raise ValueError(f"unknown make: {kind}")
    return made


@dataclass(frozen=True)
class Outcome:
    status: int | None
    stderr: str
    seconds: float


def _filler(case: Case, tmp: Path) -> Callable[[str], str]:
    """Create ``tmp`` and the case's file; the function that fills in the placeholders."""
    tmp.mkdir()
    made = _make(case.make, tmp) if case.make else tmp / "none"

    def fill(text: str) -> str:
        return (
            text.replace("{specs}", str(SPECS))
            .replace("{here}", str(HERE))
            .replace("{tmp}", str(tmp))
            .replace("{made}", str(made))
        )

    return fill


def _run_here(case: Case, tmp: Path) -> Outcome:
    """Run ``case`` through ``main`` in this process."""
    fill = _filler(case, tmp)
    err, stdin = io.StringIO(), sys.stdin
    start = time.monotonic()
    try:
        if case.stdin:
            sys.stdin = io.TextIOWrapper(open(fill(case.stdin), "rb"))  # noqa: SIM115
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = main([fill(arg) for arg in case.args])
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code if isinstance(exc.code, int) else 1
    finally:
        if sys.stdin is not stdin:
            sys.stdin.close()
        sys.stdin = stdin
    return Outcome(status, err.getvalue(), time.monotonic() - start)


def _run(case: Case, tmp: Path) -> Outcome:
    """Run ``case`` in a fresh process, killed after ``case.seconds``."""
    fill = _filler(case, tmp)
    env = {**os.environ, "PYTHONHASHSEED": "0", **case.env}
    stdin: Any = open(fill(case.stdin), "rb") if case.stdin else subprocess.DEVNULL  # noqa: SIM115
    stdout: Any = open(case.stdout, "wb") if case.stdout else subprocess.DEVNULL  # noqa: SIM115
    start = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "symbackprop", *map(fill, case.args)],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=env,
            cwd=tmp,
            timeout=case.seconds,
        )
        status, err = result.returncode, result.stderr
    except subprocess.TimeoutExpired as exc:
        status, err = None, exc.stderr or b""
    finally:
        for handle in (stdin, stdout):
            if hasattr(handle, "close"):
                handle.close()
    return Outcome(status, err.decode("utf-8", "backslashreplace"), time.monotonic() - start)


CASES = _cases()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case's outcome, run two at a time (the cases are independent processes)."""
    root = tmp_path_factory.mktemp("adversarial")
    folders = {case.name: root / f"case-{i}" for i, case in enumerate(CASES)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            case.name: pool.submit(_run, case, folders[case.name])
            for case in CASES
            if not case.in_process
        }
        here = {c.name: _run_here(c, folders[c.name]) for c in CASES if c.in_process}
        return {**here, **{name: future.result() for name, future in futures.items()}}


def test_case_names_are_unique() -> None:
    assert len({case.name for case in CASES}) == len(CASES) > 30


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case.name]
    assert outcome.status is not None, f"still running after {case.seconds} s"
    assert outcome.status in case.expect, outcome.stderr[:STDERR_LIMIT]
    assert "Traceback" not in outcome.stderr
    assert len(outcome.stderr.encode()) < STDERR_LIMIT
    assert outcome.seconds < case.seconds
    if outcome.status == 2:
        assert_one_error_line(outcome.stderr)


def assert_one_error_line(stderr: str) -> None:
    """``stderr`` is one short line: ``symbackprop[ command]: error: ...``."""
    lines = stderr.splitlines()
    assert len(lines) == 1 and stderr.endswith("\n"), stderr[:STDERR_LIMIT]
    assert lines[0].startswith("symbackprop") and ": error: " in lines[0]
    assert "\x1b" not in stderr and len(stderr.encode()) < STDERR_LIMIT


SPEC_FILES = sorted(SPECS.iterdir())


def test_the_spec_files_are_many() -> None:
    assert len(SPEC_FILES) > 30


@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.name for p in SPEC_FILES])
def test_spec_file(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    assert main(["derive", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and time.monotonic() - start < SPEC_SECONDS
    assert_one_error_line(captured.err)
