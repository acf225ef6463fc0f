"""The command line, through ``main(argv) -> int``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from symbackprop.cli import main
from symbackprop.spec import example_names, load_spec, parse_spec


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_derive_text_shows_every_entry(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["derive"], capsys)
    assert status == 0 and err == ""
    assert out.count("  compact:  ") == 17 and out.count("  value:    ") == 17  # 6 + 3 + 6 + 2
    assert "dW2[0,1] = dJ/dW^(2)_12\n  compact:  a^(1)_2*(yhat_1 - y_1)\n" in out
    assert "  exact:    3/(5*(1 + exp(27/50)))\n  value:    0.220912549358\n" in out
    assert "dJ/dz^(2)_1 = yhat_1 - y_1    [one-hot target]" in out


def test_derive_json_digits_and_convention(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        ["derive", "seed", "--format", "json", "--digits", "4", "--relu-prime-at-zero", "1/2"],
        capsys,
    )
    document = json.loads(out)
    assert status == 0
    assert document["gradients"]["W2"]["value"][0] == ["0.1105", "0.2209", "0.3314"]
    assert document["conventions"] == {
        "relu_prime_at_zero": "1/2",
        "digits": 4,
        "indexing": "names like dW2[0,1] and z1[0] are 0-based (NumPy); the math, like W^(2)_12 "
        "and z^(1)_1, is 1-based: dW2[0,1] = dJ/dW^(2)_12",
    }


def test_derive_reports_a_kink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "kink.toml"
    spec.write_text(
        load_spec("seed").text.replace("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, -0.5, 0.1]")
    )
    status, out, _ = run(["derive", str(spec)], capsys)
    assert status == 0
    assert (
        "note: pre-activation z1[1] is exactly 0: the gradient there depends on the convention"
        in out
    )


def test_no_expanded(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["derive", "--no-expanded"], capsys)
    assert "expanded:" not in out


def test_output_file_is_written_atomically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous")
    assert run(["derive", "--format", "json", "-o", str(target)], capsys)[:2] == (0, "")
    assert json.loads(target.read_text())["spec"] == "seed"
    assert run(["derive", "missing.toml", "-o", str(target)], capsys)[0] == 2
    assert json.loads(target.read_text())["spec"] == "seed"  # untouched by the failed run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary left
    fresh = tmp_path / "fresh.json"
    assert run(["derive", "--format", "json", "-o", str(fresh)], capsys)[0] == 0
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would, not mkstemp's 0600


def test_unwritable_output_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["derive", "-o", str(tmp_path / "no" / "dir" / "out.txt")], capsys)
    assert status == 2 and err.startswith("symbackprop: error: ") and err.count("\n") == 1


def test_output_dash_is_stdout_and_empty_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(["derive", "--format", "json", "-o", "-"], capsys)
    assert status == 0 and json.loads(out)["spec"] == "seed"
    status, out, err = run(["derive", "-o", ""], capsys)
    assert (status, out) == (2, "") and "-o/--output: expected a file name" in err
    assert list(tmp_path.iterdir()) == []


def test_output_through_a_symlink_keeps_the_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("previous")
    link.symlink_to(real.name)
    assert run(["derive", "--format", "json", "-o", str(link)], capsys)[0] == 0
    assert link.is_symlink() and json.loads(real.read_text())["spec"] == "seed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_output_to_a_pipe_is_written_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As with -o /dev/null: a device or pipe cannot be replaced by a file (as root it could)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    status, out, _ = run(["check", "--random-points", "0", "-o", str(fifo)], capsys)
    received, _ = reader.communicate(timeout=30)
    assert (status, out) == (0, "")
    assert received.rstrip().endswith("Result: ok (exit status 0)")
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_example_lists_and_prints_parseable_specs(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["example"], capsys)
    assert status == 0 and out.split() == example_names()
    for name in example_names():
        status, text, _ = run(["example", name], capsys)
        assert status == 0 and parse_spec(text, f"example '{name}'") == load_spec(name)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["derive", "--digits", "0"],
            "argument --digits: expected an integer from 1 to 1000, got 0",
        ),
        (["derive", "--relu-prime-at-zero", "2"], "argument --relu-prime-at-zero: invalid choice"),
        (["derive", "--format", "pdf"], "argument --format: invalid choice: 'pdf'"),
        (["frobnicate"], "argument command: invalid choice"),
        (
            ["derive", "--exact-limit", "-1"],
            "--exact-limit: expected an integer from 0 to 1000000, got -1",
        ),
        (
            ["derive", "--expand-limit", "x"],
            "--expand-limit: expected an integer from 0 to 1000000, got 'x'",
        ),
        (
            ["check", "--seed", "-1"],
            "argument --seed: expected an integer from 0 to 4294967295, got -1",
        ),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
        pytest.fail("argparse should have exited")  # pragma: no cover
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert message in err and err.count("\n") == 1


def test_example_error_is_caught(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["example", "nope"], capsys)
    assert status == 2 and err.startswith("symbackprop: error: example 'nope': no such built-in")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_output_is_identical_across_hash_seeds(fmt: str) -> None:
    outputs = set()
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-m", "symbackprop", "derive", "--format", fmt],
            capture_output=True,
            check=True,
            env=env,
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
