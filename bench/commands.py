"""Time the commands users type, in fresh processes: wall time and peak memory.

Run: ``python bench/commands.py [--sizes seed,16-32-32-10,...] [--timeout SECONDS] [--naive]``
(sizes also ``784-64-10`` and ``cnn 1x28x28``, the MNIST-size cnn; ``--naive`` adds naive
SymPy, the expanded loss differentiated and lambdified, as a floor).

Each size is a spec file written to a temporary folder (two-decimal weights uniform in
[-1, 1], seeded), and each row one command run by ``/usr/bin/time`` in a new process, so that
interpreter start and imports count as a user sees them. Beside ``symbackprop derive`` in
every format and ``symbackprop check``, two floors run on the same file: a plain mpmath
backprop at 60 digits and a NumPy float64 backprop (``bench/floors.py``). A command past the
timeout is stopped and shown as ``> T``. The output is a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sympy import ImmutableMatrix, Rational

from symbackprop.spec import ActivationSpec, LossSpec, NetworkSpec
from symbackprop.spec_writer import spec_toml

FORMATS = ("text", "json", "latex", "html")
HERE = Path(__file__).resolve().parent
#: The MNIST-size convolutional network (a [[layers]] stack, written by :func:`cnn_toml`).
CNN = "cnn 1x28x28"


@dataclass(frozen=True)
class Size:
    """A dense network to time: widths, hidden activation and samples in the batch."""

    name: str
    layers: tuple[int, ...]
    hidden: str = "relu"
    samples: int = 1


SIZES = {
    size.name: size
    for size in (
        Size("16-32-32-10", (16, 32, 32, 10)),
        Size("deep 3x8 tanh", (3, 3, 3, 3, 3, 3, 3, 3, 3, 2), "tanh"),
        Size("8-16-4 batch 256", (8, 16, 4), samples=256),
        Size("32-64-10", (32, 64, 10)),
        Size("784-64-10", (784, 64, 10)),
    )
}


def random_spec(size: Size, seed: int = 0) -> NetworkSpec:
    """``size`` with two-decimal weights, biases and inputs uniform in [-1, 1]; softmax and
    cross-entropy; one-hot targets."""
    rng = random.Random(seed)

    def matrix(rows: int, cols: int) -> ImmutableMatrix:
        return ImmutableMatrix(rows, cols, lambda i, j: Rational(rng.randint(-100, 100), 100))

    layers, depth, m = size.layers, len(size.layers) - 1, size.samples
    return NetworkSpec(
        size.name,
        layers,
        (ActivationSpec(size.hidden),) * (depth - 1) + (ActivationSpec("softmax"),),
        LossSpec("cross_entropy"),
        tuple(matrix(layers[l + 1], layers[l]) for l in range(depth)),
        tuple(matrix(layers[l + 1], 1) for l in range(depth)),
        matrix(layers[0], m),
        ImmutableMatrix(layers[-1], m, lambda i, j: int(i == j % layers[-1])),
        batched=m > 1,
    )


def cnn_toml(seed: int = 0) -> str:
    """The MNIST-size cnn: 1x28x28 -> conv 8x3x3 relu -> max-pool 2 -> flatten -> dense 10
    softmax, two-decimal numbers uniform in [-1, 1] (inputs in [0, 1]), seeded."""
    rng = random.Random(seed)

    def numbers(count: int, low: int = -100) -> str:
        return ", ".join(f"{rng.randint(low, 100) / 100}" for _ in range(count))

    kernels = ",\n".join(f"  [[[{'], ['.join(numbers(3) for _ in range(3))}]]]" for _ in range(8))
    dense = ",\n".join(f"  [{numbers(8 * 13 * 13)}]" for _ in range(10))
    image = ",\n".join(f"  [{numbers(28, 0)}]" for _ in range(28))
    target = ", ".join(str(int(k == 3)) for k in range(10))
    return (
        '[network]\ninput = [1, 28, 28]\nloss = "cross_entropy"\n\n'
        '[[layers]]\ntype = "conv2d"\nfilters = 8\nkernel = 3\nactivation = "relu"\n\n'
        '[[layers]]\ntype = "max_pool2d"\nsize = 2\n\n[[layers]]\ntype = "flatten"\n\n'
        '[[layers]]\ntype = "dense"\nunits = 10\nactivation = "softmax"\n\n'
        f"[parameters]\nW1 = [\n{kernels},\n]\nb1 = [{numbers(8)}]\n"
        f"W2 = [\n{dense},\n]\nb2 = [{numbers(10)}]\n\n"
        f"[data]\nx = [[\n{image},\n]]\ny = [{target}]\n"
    )


def run(argv: list[str], timeout: float) -> str:
    """``argv`` in a fresh process: "wall s, peak MB", or "> timeout"."""
    command = ["/usr/bin/time", "-f", "%e %M", *argv]
    # a session of its own, so that a timeout stops the command as well as /usr/bin/time
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return f"> {timeout:.0f} s"
    if process.returncode not in (0, 1):
        tail = stderr.strip().splitlines()[-2:]
        raise SystemExit(f"{' '.join(argv)} exited with {process.returncode}: {tail}")
    wall, kilobytes = stderr.strip().splitlines()[-1].split()
    return f"{float(wall):.2f} s, {int(kilobytes) / 1024:.0f} MB"


def rows(
    name: str, spec: str, timeout: float, output: Path, naive: bool = False
) -> list[tuple[str, str, str]]:
    """(size, command, measurement) for every command on one spec (``naive``: also the naive
    SymPy floor, the expanded loss differentiated and lambdified)."""
    tool = [sys.executable, "-m", "symbackprop"]
    commands: list[tuple[str, list[str]]] = [
        (f"derive --format {fmt}", [*tool, "derive", spec, "--format", fmt, "-o", str(output)])
        for fmt in FORMATS
    ]
    commands.append(("check", [*tool, "check", spec, "-o", str(output)]))
    if spec.endswith(".toml") and name != CNN:
        for floor in ("mpmath", "numpy", *(("naive-sympy",) if naive else ())):
            script = [sys.executable, str(HERE / "floors.py"), floor, spec]
            commands.append((f"{floor} backprop (floor)", script))
    return [(name, label, run(argv, timeout)) for label, argv in commands]


def machine() -> str:
    """One line describing this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = [line.split(":", 1)[1].strip() for line in info if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="seed,16-32-32-10,deep 3x8 tanh,8-16-4 batch 256")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--naive", action="store_true", help="also time naive SymPy (diff, then lambdify)"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    print("| network | command | wall time, peak memory |\n|---|---|---|")
    tool = [sys.executable, "-m", "symbackprop"]
    for label, argv in (("--help", [*tool, "--help"]), ("example", [*tool, "example"])):
        print(f"| - | `symbackprop {label}` | {run(argv, args.timeout)} |", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for name in args.sizes.split(","):
            if name == "seed":
                spec = "seed"
            elif name == CNN:
                path = Path(folder) / "cnn-mnist.toml"
                path.write_text(cnn_toml(), encoding="utf-8")
                spec = str(path)
            else:
                path = Path(folder) / f"{name.replace(' ', '-')}.toml"
                path.write_text(spec_toml(random_spec(SIZES[name])), encoding="utf-8")
                spec = str(path)
            measured_rows = rows(name, spec, args.timeout, Path(folder) / "out", args.naive)
            for size, command, measured in measured_rows:
                print(f"| {size} | `{command}` | {measured} |", flush=True)


if __name__ == "__main__":
    main()
