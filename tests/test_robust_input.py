"""Hostile input (issue 16): odd spec files, deep nesting, huge values, flag bounds, -o files."""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symbackprop import cli, files, toml_data
from symbackprop.arguments import tolerance
from symbackprop.builtin import example_text
from symbackprop.defaults import MAX_NESTING, MAX_SPEC_BYTES
from symbackprop.errors import SpecError, SymbackpropError
from symbackprop.quoting import VALUE_LIMIT, one_line, quoted
from symbackprop.spec import load_spec, parse_spec

SEED = example_text("seed")


def error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line of ``main(argv)``, which must exit with status 2."""
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and len(captured.err) < 2048
    return captured.err


# ----------------------------------------------------------------------------- spec reading


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_device_is_refused_before_reading(device: str) -> None:
    with pytest.raises(SpecError, match=r"expected a regular file, got a device$"):
        load_spec(device)


def test_a_directory_and_a_fifo_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)  # no writer: opening it would block forever
    with pytest.raises(SpecError, match=r"got a FIFO \(named pipe\)$"):
        load_spec(fifo)
    with pytest.raises(SpecError, match=r"got a directory$"):
        load_spec(tmp_path)


def test_a_spec_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text(SEED + "#" * (MAX_SPEC_BYTES - len(SEED.encode())) + "\n")
    with pytest.raises(SpecError, match=rf"larger than the limit of {MAX_SPEC_BYTES} bytes$"):
        load_spec(path)
    with pytest.raises(SpecError, match="larger than the limit"):
        parse_spec(path.read_text())


def test_a_spec_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "padded.toml"
    path.write_text(SEED + "#" * (MAX_SPEC_BYTES - len(SEED.encode()) - 1) + "\n")
    assert path.stat().st_size == MAX_SPEC_BYTES
    assert load_spec(path).layers == (2, 3, 2)


def test_minus_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(SEED.encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    loaded = load_spec("-")
    assert loaded.source == "<stdin>" and loaded == parse_spec(SEED, "<stdin>")


def test_shapes_are_checked_before_numbers_become_rationals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    converted: list[object] = []
    original = toml_data.Float.rational
    monkeypatch.setattr(
        toml_data.Float, "rational", lambda self: converted.append(1) or original(self)
    )
    rows = ", ".join(["[0.5, 0.25]"] * 20000)  # W1 has 20000 rows, the network wants 3
    text = SEED.replace("W1 = [", f"W1 = [{rows}, ", 1)
    with pytest.raises(SpecError, match=r"\[parameters\] W1: expected a 3x2 matrix"):
        parse_spec(text)
    assert len(converted) < 10  # before: all 40000 numbers were converted first


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 400, 1000])
def test_deeply_nested_arrays_are_one_line_errors(depth: int) -> None:
    text = SEED.replace("[data]", f"[data]\nz = {'[' * depth}1{']' * depth}", 1)
    with pytest.raises(SpecError, match=rf"nested too deeply; the limit is {MAX_NESTING} levels$"):
        parse_spec(text)


def test_deeply_nested_tables_are_one_line_errors() -> None:
    text = SEED + "\n[training]\n" + ".".join(["t"] * 600) + " = 1\n"
    with pytest.raises(SpecError, match="nested too deeply"):
        parse_spec(text)


def test_nested_layers_value_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(SEED.replace("layers = [2, 3, 2]", f"layers = {'[' * 450}{']' * 450}"))
    assert "nested too deeply" in error_line(["derive", str(path)], capsys)


# ----------------------------------------------------------------------------- echoed values


def test_quoted_escapes_and_cuts() -> None:
    assert quoted("tanh") == "'tanh'"
    assert quoted("a\nb\x1b[31m") == "'a\\nb\\x1b[31m'"
    assert quoted("it's") == "'it\\'s'"
    long = quoted("x" * 10**6)
    assert len(long) == VALUE_LIMIT + 1 and long.endswith("…")
    assert one_line("a\nb\r\x07") == "a\\nb\\r\\x07"


def test_a_forged_error_line_stays_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "forge.toml"
    name = "relu\\nsymbackprop: error: all good\\u001b[2J"
    path.write_text(SEED.replace('activations = ["relu"', f'activations = ["{name}"', 1))
    err = error_line(["derive", str(path)], capsys)
    assert "unknown activation 'relu\\nsymbackprop: error: all good\\x1b[2J'" in err
    assert "\x1b" not in err


def test_huge_values_give_a_short_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_text(SEED.replace('activations = ["relu"', f'activations = ["{"x" * 10**6}"', 1))
    assert "unknown activation 'xxx" in error_line(["derive", str(path)], capsys)
    path.write_text(SEED.replace("layers = [2, 3, 2]", f"layers = {[0] * 10**5}"))
    assert "(100000 entries)" in error_line(["derive", str(path)], capsys)


def test_a_newline_in_a_key_or_a_file_name_stays_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "key\nname.toml"
    path.write_text(SEED.replace("[data]", '[data]\n"k\\ny" = 1', 1))
    err = error_line(["derive", str(path)], capsys)
    assert "key\\nname.toml" in err and "[data] 'k\\ny': unknown key" in err


def test_a_newline_in_the_file_name_does_not_split_the_markdown_heading(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "two\nlines.toml"
    path.write_text(SEED)
    assert cli.main(["derive", str(path), "--format", "markdown", "--sections", "notation"]) == 0
    title = capsys.readouterr().out.split("\n", 1)[0]
    assert title.startswith("# ") and "two\\\\nlines" in title


# ----------------------------------------------------------------------------- flags


def _numeric_options() -> list[tuple[str, str, argparse.Action]]:
    """Every (command, flag, action) of the parser whose type reads a number."""
    found = []
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if action.type is tolerance or getattr(action.type, "__qualname__", "").startswith(
                "integer."
            ):
                found.append((name, action.option_strings[-1], action))
    return found


def test_every_numeric_flag_is_found() -> None:
    flags = {(command, flag) for command, flag, _ in _numeric_options()}
    assert {("derive", "--digits"), ("check", "--random-points"), ("check", "--atol")} <= flags
    assert {("check-layer", "--seed"), ("derive", "--exact-limit")} <= flags


@pytest.mark.parametrize("value", ["1" + "0" * 30, "9" * 5000, "1e400", "-1"])
def test_every_numeric_flag_has_an_upper_bound(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for command, flag, _ in _numeric_options():
        argv = [command, *(["affine", "--module", "m"] if command == "check-layer" else [])]
        with pytest.raises(SystemExit) as stop:
            cli.main([*argv, f"{flag}={value}"])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.count("\n") == 1 and len(err) < 300
        assert f"argument {flag}: expected " in err and (" to " in err), (flag, err)


def test_digits_4301_is_refused_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["derive", "--digits", "4301"])
    assert "expected an integer from 1 to 1000, got 4301" in capsys.readouterr().err


# ----------------------------------------------------------------------------- output files


@pytest.mark.parametrize("command", ["derive", "check"])
def test_output_over_the_spec_is_refused(
    command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SEED)
    link = tmp_path / "link.toml"
    link.symlink_to(path)
    for output in (str(path), str(link), str(tmp_path / "." / "s.toml")):
        assert "is the spec file itself" in error_line([command, str(path), "-o", output], capsys)
    assert path.read_text() == SEED


def test_a_250_byte_file_name_can_be_written(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 245 + ".json")
    files.write_atomic(target, "{}\n")
    assert target.read_text() == "{}\n" and sorted(tmp_path.iterdir()) == [target]


def test_stale_temporary_files_of_dead_runs_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".symbackprop-{dead.pid}-0123abcd.tmp"
    live = tmp_path / f".symbackprop-{os.getppid()}-0123abcd.tmp"
    other = tmp_path / ".symbackprop-notes.tmp"
    for path in (stale, live, other):
        path.write_text("x")
    files.write_atomic(tmp_path / "out.txt", "ok\n")
    assert not stale.exists() and live.exists() and other.exists()


@pytest.mark.parametrize(
    ("signum", "raised"), [(signal.SIGTERM, files.Terminated), (signal.SIGINT, KeyboardInterrupt)]
)
def test_a_signal_during_the_write_removes_the_temporary_file(
    signum: int, raised: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.txt"
    target.write_text("before\n")

    def killed(source: object, destination: object) -> None:
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(files.os, "replace", killed)
    with pytest.raises(raised) as stop:
        files.write_atomic(target, "after\n" * 10**5)
    assert sorted(tmp_path.iterdir()) == [target] and target.read_text() == "before\n"
    if signum == signal.SIGTERM:
        assert stop.value.code == 143  # type: ignore[attr-defined]
    assert signal.getsignal(signal.SIGTERM) is not None


def test_a_full_standard_output_is_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "symbackprop", "example", "seed"],
        stdout=open("/dev/full", "w"),  # noqa: SIM115
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == "symbackprop: error: standard output: cannot write: No space left on device\n"
    )


def test_an_ascii_terminal_gets_escapes_not_a_traceback() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "LC_ALL": "C", "LANG": "C"}
    result = subprocess.run(
        [sys.executable, "-m", "symbackprop", "derive", "--format", "text"],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0 and result.stderr == b""
    assert "\\u" in result.stdout.decode("ascii")


def test_symbackprop_error_is_the_only_exception_of_parse_spec() -> None:
    with pytest.raises(SymbackpropError):
        parse_spec("x = " + "[" * 100_000)


def test_an_example_name_as_output_is_not_the_spec(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["derive", "seed", "-o", "seed", "--no-expanded"]) == 0
    assert (tmp_path / "seed").read_text().startswith("symbackprop derivation of seed")


def test_derive_reads_the_spec_from_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"[network]\n")))
    err = error_line(["derive", "-"], capsys)
    assert err == "symbackprop: error: <stdin>: [parameters]: missing table\n"


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ("N=100000", "N=100000: expected N <= 64"),
        ("D=2x3x4x5x6", "D=2x3x4x5x6: expected at most 4 sizes of at most 64 each"),
        ("N=64,D=64x64", "the sizes multiply to 786432; the limit is 100000"),
        ("N=" + "9" * 5000, "expected an integer"),
    ],
)
def test_check_layer_shape_sizes_are_bounded(shape: str, message: str) -> None:
    from symbackprop.layercheck.kinds import lookup
    from symbackprop.layercheck.sizes import parse_shape

    with pytest.raises(SymbackpropError, match=message):
        parse_shape(lookup("affine"), shape)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_real_signal_in_the_write_window_leaves_no_temporary_file(
    signum: int, tmp_path: Path
) -> None:
    child = (
        "import os, sys, time\n"
        "from symbackprop import files\n"
        "files.os.replace = lambda a, b: time.sleep(60)  # hold the write window open\n"
        "files.write_atomic(sys.argv[1], 'x' * 10**6)\n"
    )
    target = tmp_path / "out.txt"
    process = subprocess.Popen([sys.executable, "-c", child, str(target)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".symbackprop-*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the million characters are written
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == (143 if signum == signal.SIGTERM else -signal.SIGINT)
    assert list(tmp_path.iterdir()) == [], err
