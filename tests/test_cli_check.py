"""``symbackprop check`` through ``main(argv) -> int``: exit status 0 ok, 1 failed, 2 bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from symbackprop.cli import build_parser, main

NOTEBOOK_FAILURES = {"dW2[0,1]", "dW2[0,2]", "dW2[1,1]", "dW2[1,2]", "db2[0]", "db2[1]"}

USER_CODE = """
import numpy as np
from symbackprop.reference import notebook_backprop

def right(weights, biases, x, y):
    return notebook_backprop(weights, biases, x, y)

def _inner(x):
    raise ValueError("shapes do not align in my code")

def raising(weights, biases, x, y):
    return _inner(x)

def flat_bias(weights, biases, x, y):
    grads_w, grads_b = notebook_backprop(weights, biases, x, y)
    return grads_w, [g.ravel() for g in grads_b]

def one_layer(weights, biases, x, y):
    grads_w, grads_b = notebook_backprop(weights, biases, x, y)
    return grads_w[:1], grads_b

def with_nan(weights, biases, x, y):
    grads_w, grads_b = notebook_backprop(weights, biases, x, y)
    grads_w[1][0, 0] = np.nan
    return grads_w, grads_b

def not_a_pair(weights, biases, x, y):
    return notebook_backprop(weights, biases, x, y)[0][0]

def forgot_relu_prime(weights, biases, x, y):
    z1 = weights[0] @ x + biases[0]
    a1 = np.maximum(z1, 0)
    z2 = weights[1] @ a1 + biases[1]
    yhat = np.exp(z2 - z2.max(0)) / np.exp(z2 - z2.max(0)).sum(0)
    delta2 = (yhat - y) / x.shape[1]
    delta1 = weights[1].T @ delta2  # missing: * (z1 > 0)
    grads_w = [delta1 @ x.T, delta2 @ a1.T]
    return grads_w, [delta1.sum(1, keepdims=True), delta2.sum(1, keepdims=True)]


NOT_CALLABLE = 3
"""


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_backprop.py"
    path.write_text(USER_CODE)
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_seed_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["check"], capsys)
    assert (status, err) == (0, "")
    assert out.startswith("symbackprop check of seed: 2-3-2, relu -> softmax, cross_entropy\n")
    assert out.rstrip().endswith("Result: ok (exit status 0)")


def test_seed_notebook_exits_1_and_flags_six(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["check", "seed-notebook"], capsys)
    assert (status, err) == (1, "")
    flagged = {
        line.split(":")[0].strip() for line in out.splitlines() if "exceeds tolerance" in line
    }
    assert flagged == NOTEBOOK_FAILURES
    assert "The hand values are consistent with ŷ rounded to 0.368" in out


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["check", "seed-notebook", "--format", "json"], capsys)
    document = json.loads(out)
    assert status == 1 and document["ok"] is False
    assert {f["entry"] for f in document["failures"]} == NOTEBOOK_FAILURES
    status, out, _ = run(["check", "--format", "json", "--random-points", "0"], capsys)
    assert status == 0 and json.loads(out)["ok"] is True
    assert {c["point"] for c in json.loads(out)["comparisons"]} == {"documented point"}


def test_random_points_seed_and_convention(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "--format", "json", "--random-points", "2", "--relu-prime-at-zero", "1/2"]
    _, first, _ = run([*argv, "--seed", "1"], capsys)
    _, again, _ = run([*argv, "--seed", "1"], capsys)
    _, other, _ = run([*argv, "--seed", "2"], capsys)
    assert first == again != other
    document = json.loads(first)
    assert document["settings"]["relu_prime_at_zero"] == "1/2"
    assert [c["point"] for c in document["comparisons"]][:3] == [
        "documented point",
        "random point 1",
        "random point 2",
    ]


def test_tolerances(capsys: pytest.CaptureFixture[str]) -> None:
    """--rtol/--atol set the float64 tolerances: at 0 every rounded gradient fails."""
    argv = ["check", "--format", "json", "--random-points", "0"]
    status, out, _ = run([*argv, "--rtol", "0", "--atol", "0"], capsys)
    document = json.loads(out)
    assert status == 1 and (document["settings"]["rtol"], document["settings"]["atol"]) == (0, 0)
    failing = {c["name"] for c in document["comparisons"] if not c["ok"]}
    assert failing == {"exact vs lambdified", "exact vs reference backprop"}
    status, out, _ = run([*argv, "--rtol", "0", "--atol", "1e-15"], capsys)
    assert status == 0 and json.loads(out)["settings"]["atol"] == 1e-15
    for bad in ("nan", "inf", "-1e-9", "tight", "2"):
        with pytest.raises(SystemExit) as exc:
            main(["check", f"--atol={bad}"])
        assert exc.value.code == 2
        assert (
            f"argument --atol: expected a number from 0 to 1, got '{bad}'"
            in capsys.readouterr().err
        )


def test_report_written_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.json"
    status, out, err = run(
        ["check", "seed-notebook", "--format", "json", "-o", str(target)], capsys
    )
    assert (status, out, err) == (1, "", "")
    assert json.loads(target.read_text(encoding="utf-8"))["ok"] is False


def test_user_backprop_from_a_file(user_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["check", "--backprop", f"{user_file}:right"], capsys)
    assert (status, err) == (0, "")
    assert "exact vs user backprop" in out


def test_a_wrong_user_backprop_exits_1(
    user_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Forgetting ReLU' gives exactly the right numbers at the seed's documented point."""
    target = f"{user_file}:forgot_relu_prime"
    status, out, _ = run(["check", "--backprop", target, "--random-points", "0"], capsys)
    assert status == 0
    status, out, _ = run(["check", "--backprop", target], capsys)
    assert status == 1
    assert "exact vs user backprop at random point" in out


def test_user_backprop_as_a_module(
    user_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(user_file.parent)
    status, _, err = run(
        ["check", "--backprop", "my_backprop:right", "--random-points", "1"], capsys
    )
    assert (status, err) == (0, "")
    status, _, _ = run(["check", "--backprop", "symbackprop.reference:notebook_backprop"], capsys)
    assert status == 0


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("flat_bias", r"returned grads_b\[0\] \(db1\) of shape \(3,\); expected \(3, 1\)"),
        ("one_layer", r"returned 1 arrays in grads_W; expected 2 \(one per layer\)"),
        ("with_nan", r"returned NaN in grads_W\[1\] \(dW2\)"),
        ("not_a_pair", r"returned ndarray; expected \(grads_W, grads_b\), two lists of arrays"),
        ("NOT_CALLABLE", r"'NOT_CALLABLE' is not a function \(it is 'int'\)"),
        ("missing", r"has no function 'missing'"),
    ],
)
def test_bad_user_backprop_exits_2(
    user_file: Path, function: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(["check", "--backprop", f"{user_file}:{function}"], capsys)
    assert (status, out) == (2, "")
    assert err.startswith("symbackprop: error: ")
    assert re.search(message, err), err


def test_user_exception_is_one_line_naming_the_users_frame(
    user_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["check", "--backprop", f"{user_file}:raising"], capsys)
    assert status == 2 and err.count("\n") == 1
    assert "at the documented point: your backprop raised ValueError" in err
    assert "ValueError: shapes do not align in my code" in err
    assert f"(at {user_file}, line " in err and ", in _inner)" in err
    assert "symbackprop/check" not in err and "userbackprop.py" not in err


def test_import_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import numpy\nraise RuntimeError('fails at import')\n")
    status, _, err = run(["check", "--backprop", f"{broken}:f"], capsys)
    assert (
        status == 2
        and "RuntimeError: fails at import" in err
        and "broken.py, line 2, in <module>)" in err
    )
    for target, message in [
        (f"{tmp_path / 'absent.py'}:f", "no such file"),
        ("no_such_module_xyz:f", "no module named 'no_such_module_xyz'"),
        ("nocolon", "expected path/to/file.py:function or package.module:function"),
        ("..:f", "expected path/to/file.py:function or package.module:function"),
        (".sibling:f", "expected path/to/file.py:function or package.module:function"),
    ]:
        status, _, err = run(["check", "--backprop", target], capsys)
        assert status == 2 and message in err, err


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[network]\nlayers = [2, 2]\n")
    for argv in (["check", str(bad)], ["check", "no-such-example"]):
        status, out, err = run(argv, capsys)
        assert (status, out) == (2, "") and err.startswith("symbackprop: error: "), argv
    with pytest.raises(SystemExit) as exc:
        main(["check", "--random-points", "-3"])
    assert exc.value.code == 2


def test_help_says_the_code_is_imported() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    text = " ".join(subparsers.choices["check"].format_help().split())
    assert "the code is imported, which runs it" in text


def test_console_script_exit_status() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "symbackprop", "check", "seed-notebook", "--random-points", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "FAIL: 6 of 17 entries" in done.stdout


def test_user_output_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chatty = tmp_path / "chatty.py"
    chatty.write_text(
        "print('importing')\n"
        "from symbackprop.reference import notebook_backprop\n"
        "def backprop(w, b, x, y):\n"
        "    print('called')\n"
        "    return notebook_backprop(w, b, x, y)\n"
    )
    status, out, err = run(
        ["check", "--format", "json", "--backprop", f"{chatty}:backprop"], capsys
    )
    assert status == 0 and json.loads(out)["ok"] is True
    assert err.startswith("importing\ncalled\n")


def test_sys_exit_in_user_code_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "script.py"
    script.write_text("import sys\nsys.exit(3)\n")
    status, _, err = run(["check", "--backprop", f"{script}:backprop"], capsys)
    assert status == 2 and "importing" in err and "SystemExit: 3" in err
