"""The user's code runs in a child process: whatever it does, exit status 0 means every
comparison ran and held, and anything else is one error line naming the function (status 2)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from symbackprop.cli import main

HOSTILE = """
import os, signal, sys
import numpy as np
from symbackprop.reference import notebook_backprop

def right(weights, biases, x, y):
    return notebook_backprop(weights, biases, x, y)

def exits(weights, biases, x, y):
    os._exit(0)

def crashes(weights, biases, x, y):
    os.kill(os.getpid(), signal.SIGSEGV)

def loops(weights, biases, x, y):
    while True:
        pass

def interrupts(weights, biases, x, y):
    raise KeyboardInterrupt

def generator_exit(weights, biases, x, y):
    raise GeneratorExit

class Custom(BaseException):
    pass

def custom(weights, biases, x, y):
    raise Custom("mine")

class BadFloat:
    def __float__(self):
        raise RuntimeError("no float")

class BadArray:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no array")

class BadList(list):
    def __len__(self):
        raise RuntimeError("no len")

    def __iter__(self):
        raise RuntimeError("no iter")

def bad_float(weights, biases, x, y):
    grads_w, grads_b = notebook_backprop(weights, biases, x, y)
    grads_w[0] = [[BadFloat()] * grads_w[0].shape[1]] * grads_w[0].shape[0]
    return grads_w, grads_b

def bad_array(weights, biases, x, y):
    grads_w, grads_b = notebook_backprop(weights, biases, x, y)
    return [BadArray() for _ in grads_w], grads_b

def bad_len(weights, biases, x, y):
    grads_w, grads_b = notebook_backprop(weights, biases, x, y)
    return BadList(grads_w), grads_b

def complex_(weights, biases, x, y):
    grads_w, grads_b = notebook_backprop(weights, biases, x, y)
    return [g + 0j for g in grads_w], grads_b

def complex_objects(weights, biases, x, y):
    grads_w, grads_b = notebook_backprop(weights, biases, x, y)
    return [np.array(g + 1e-3j, dtype=object) for g in grads_w], grads_b

def dict_complex(params, x, y):
    return {k: np.zeros(v.shape, complex) for k, v in params.items()}
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("user") / "hostile.py"
    path.write_text(HOSTILE)
    return path


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["check", "--random-points", "0", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _last_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("symbackprop: error: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("exits", r"exited with status 0 .*before returning its results"),
        ("crashes", r"killed by SIGSEGV before returning its results"),
        ("interrupts", r"your backprop raised KeyboardInterrupt"),
        ("generator_exit", r"your backprop raised GeneratorExit"),
        ("custom", r"your backprop raised Custom"),
        ("bad_float", r"grads_W\[0\] \(dW1\) that is not a numeric array: RuntimeError: no float"),
        ("bad_array", r"grads_W\[0\] \(dW1\) that is not a numeric array: RuntimeError: no array"),
        ("bad_len", r"grads_W that cannot be read: RuntimeError: no"),
        ("complex_", r"complex numbers in grads_W\[0\] \(dW1\); expected real gradients"),
        ("complex_objects", r"grads_W\[0\] \(dW1\) that is not a numeric array"),
        ("dict_complex", r"complex numbers in grads\['W1'\]"),
    ],
)
def test_hostile_backprop_is_one_error_naming_it(
    hostile: Path, function: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _check(capsys, "--backprop", f"{hostile}:{function}")
    assert (status, out) == (2, "")
    line = _last_line(err)
    assert line.startswith(f"symbackprop: error: --backprop {hostile}:{function}: "), line
    assert re.search(message, line), line


def test_an_infinite_loop_ends_at_the_timeout(
    hostile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = time.monotonic()
    status, out, err = _check(capsys, "--backprop", f"{hostile}:loops", "--timeout", "1.5")
    assert time.monotonic() - start < 30
    assert (status, out) == (2, "")
    assert _last_line(err) == (
        f"symbackprop: error: --backprop {hostile}:loops: did not finish within 1.5 s "
        "(raise the limit with --timeout)"
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import os\nos._exit(0)\n", r"exited with status 0"),
        ("import os\nos._exit(3)\n", r"exited with status 3"),
        ("raise KeyboardInterrupt\n", r"importing .* raised KeyboardInterrupt"),
        ("class E(BaseException): pass\nraise E()\n", r"importing .* raised E"),
        ("import time\ntime.sleep(600)\n", r"did not finish within 1 s"),
    ],
)
def test_hostile_imports(
    tmp_path: Path, code: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    module = tmp_path / "at_import.py"
    module.write_text(code)
    status, out, err = _check(capsys, "--backprop", f"{module}:backprop", "--timeout", "1")
    assert (status, out) == (2, "")
    line = _last_line(err)
    assert line.startswith(f"symbackprop: error: --backprop {module}:backprop: "), line
    assert re.search(message, line), line


def test_a_module_that_removes_its_folder_from_sys_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = tmp_path / "unpathed.py"
    module.write_text(
        "import sys, os\n"
        "sys.path.remove(os.path.dirname(os.path.abspath(__file__)))\n"
        "from symbackprop.reference import notebook_backprop as backprop\n"
    )
    status, out, err = _check(capsys, "--backprop", f"{module}:backprop")
    assert (status, err) == (0, ""), err
    assert "exact vs user backprop" in out


def test_a_correct_backprop_still_passes_and_prints_to_stderr(
    hostile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _check(capsys, "--backprop", f"{hostile}:right")
    assert (status, err) == (0, "")
    assert "exact vs user backprop" in out


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "1e9", "soon"])
def test_timeout_is_bounded(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--timeout", bad])
    assert exc.value.code == 2
    assert "argument --timeout: expected a number of seconds > 0 and <= 86400" in (
        capsys.readouterr().err
    )


LAYERS = """
import os
import numpy as np

def relu_forward(x):
    return np.maximum(0, x), x

def relu_backward(dout, x):
    return dout * (x > 0)

def exits_backward(dout, x):
    os._exit(0)

def loops_backward(dout, x):
    while True:
        pass

def interrupts_forward(x):
    raise KeyboardInterrupt

def complex_backward(dout, x):
    return (dout * (x > 0)).astype(complex)

class Custom(BaseException):
    pass

def custom_backward(dout, x):
    raise Custom
"""


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("layers") / "layers.py"
    path.write_text(LAYERS)
    return path


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ("--backward", "exits_backward"),
            r"relu_forward/exits_backward in \S+layers.py: the process running it exited "
            "with status 0",
        ),
        (
            ("--backward", "loops_backward", "--timeout", "1"),
            r"relu_forward/loops_backward in \S+layers.py: did not finish within 1 s",
        ),
        (
            ("--forward", "interrupts_forward"),
            r"interrupts_forward in \S+layers.py \(at .*\) raised KeyboardInterrupt",
        ),
        (
            ("--backward", "custom_backward"),
            r"custom_backward in \S+layers.py \(at .*\) raised Custom",
        ),
        (
            ("--backward", "complex_backward"),
            r"complex_backward in \S+layers.py \(at .*\) returned complex numbers in dx",
        ),
        (("--backward", "missing"), r"layers.py has no function 'missing'"),
    ],
)
def test_hostile_layer_functions(
    layers: Path, flags: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["check-layer", "relu", "--module", str(layers), "--random-points", "1", *flags])
    captured = capsys.readouterr()
    assert (status, captured.out) == (2, "")
    line = _last_line(captured.err)
    assert err_is_last(captured.err, line)
    assert re.search(message, line), line


def err_is_last(err: str, line: str) -> bool:
    """The error line is the last (and only) line check-layer prints."""
    return err.rstrip().splitlines()[-1] == line


def test_a_correct_layer_still_passes(layers: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check-layer", "relu", "--module", str(layers), "--random-points", "1"])
    assert (status, capsys.readouterr().err) == (0, "")


def test_the_pytest_helpers_isolate_module_level_functions(
    hostile: Path, layers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from symbackprop.isolation import importable
    from symbackprop.testing import assert_backprop_matches, assert_layer_matches

    monkeypatch.syspath_prepend(str(hostile.parent))
    monkeypatch.syspath_prepend(str(layers.parent))
    import hostile as user  # type: ignore[import-not-found]
    import layers as user_layers  # type: ignore[import-not-found]

    assert importable(user.exits) == ("hostile", "exits")
    assert importable(lambda: 0) is None
    with pytest.raises(
        AssertionError, match=r"hostile:exits: the process .* exited with status 0"
    ):
        assert_backprop_matches(user.exits, random_points=0)
    with pytest.raises(AssertionError, match=r"did not finish within 1 s"):
        assert_backprop_matches(user.loops, random_points=0, timeout=1)
    assert assert_backprop_matches(user.right, random_points=1).ok
    with pytest.raises(AssertionError, match=r"relu_forward/exits_backward: the process"):
        assert_layer_matches("relu", user_layers.relu_forward, user_layers.exits_backward)
    assert assert_layer_matches("relu", user_layers.relu_forward, user_layers.relu_backward).ok


def test_ctrl_c_while_the_users_code_runs_is_130_and_ends_the_child(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    started = tmp_path / "started"
    module = tmp_path / "endless.py"
    module.write_text(
        "import os\n"
        "def backprop(weights, biases, x, y):\n"
        f"    open({str(started)!r}, 'w').write(str(os.getpid()))\n"
        "    while True:\n"
        "        pass\n"
    )
    command = [sys.executable, "-m", "symbackprop", "check", "--random-points", "0"]
    command += ["--backprop", f"{module}:backprop"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    child = int(started.read_text())
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out, err) == (130, "", "symbackprop: interrupted\n")
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_unreadable_results_in_process_are_user_errors() -> None:
    """A library caller's own function (no child): still an error naming the result."""
    from collections.abc import Mapping

    import numpy as np

    from symbackprop.errors import UserBackpropError
    from symbackprop.userbackprop import call_backprop, call_dict_backprop

    class BadTuple(tuple):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("no iter")

    class BadDict(Mapping):  # type: ignore[type-arg]
        def __getitem__(self, key):  # type: ignore[no-untyped-def]
            raise RuntimeError("no item")

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(["W1"])

        def __len__(self) -> int:
            return 1

    w, x = [np.ones((1, 2))], np.ones((2, 1))
    with pytest.raises(UserBackpropError, match="its result that cannot be read: RuntimeError"):
        call_backprop(lambda *a: BadTuple((1, 2)), w, None, x, np.ones((1, 1)))
    with pytest.raises(UserBackpropError, match="a dict that cannot be read: RuntimeError"):
        call_dict_backprop(lambda *a: BadDict(), {"W1": w[0]}, x[:, 0], np.ones(1))


def test_an_unreadable_layer_result_in_process_is_a_user_error() -> None:
    from symbackprop.layercheck.user import LayerFunctionError, pair

    class BadTuple(tuple):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("no iter")

    with pytest.raises(LayerFunctionError, match="BadTuple that cannot be read: RuntimeError"):
        pair(BadTuple((1, 2)), "relu_forward", "(out, cache)")
