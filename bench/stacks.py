"""Benchmark the commands a user types on stacks of layers; prints wall times for the README.

Run: ``python bench/stacks.py``. Each figure is one fresh ``symbackprop`` process (interpreter
start and imports included), the best of three runs, for

- the built-in ``cnn`` example (1x6x6 -> conv 2x3x3 relu -> max-pool 2 -> flatten -> dense 3
  softmax, 47 parameters): ``check``, ``derive`` (text) and ``derive --format json``;
- a 1x12x12 input -> conv 4x3x3 relu -> max-pool 2 -> flatten -> dense 10 softmax network
  (1,050 parameters, two-decimal numbers), the same three commands;
- ``rnn T=8 H=16``: 8 word indices -> embedding 10x8 -> rnn 16 over 8 steps -> temporal_dense
  10 -> temporal_cross_entropy (:func:`rnn_spec`, 650 parameters), the same three commands;
  issue 11's target is 10 s each (BPTT is proven at its representative size T=3, D=2, H=2).
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 3


def _array(shape: tuple[int, ...], rng: random.Random) -> str:
    if not shape:
        return f"{rng.randint(-100, 100) / 100:.2f}"
    return "[" + ", ".join(_array(shape[1:], rng) for _ in range(shape[0])) + "]"


def mnist_like_spec(seed: int = 0) -> str:
    """1x12x12 -> conv 4x3x3 relu -> max-pool 2 -> flatten -> dense 10 softmax."""
    rng = random.Random(seed)
    image = (
        "["
        + ", ".join(
            "[" + ", ".join(f"{rng.randint(0, 100) / 100:.2f}" for _ in range(12)) + "]"
            for _ in range(12)
        )
        + "]"
    )
    return f"""[network]
input = [1, 12, 12]
loss = "cross_entropy"

[[layers]]
type = "conv2d"
filters = 4
kernel = 3
activation = "relu"

[[layers]]
type = "max_pool2d"
size = 2

[[layers]]
type = "flatten"

[[layers]]
type = "dense"
units = 10
activation = "softmax"

[parameters]
W1 = {_array((4, 1, 3, 3), rng)}
b1 = {_array((4,), rng)}
W2 = {_array((10, 100), rng)}
b2 = {_array((10,), rng)}

[data]
x = [{image}]
label = 3
"""


def rnn_spec(steps: int = 8, units: int = 16, seed: int = 0) -> str:
    """Word indices -> embedding 10x8 -> rnn ``units`` over ``steps`` -> temporal_dense 10 ->
    temporal_cross_entropy; weights in [-0.3, 0.3] so tanh stays away from saturation."""
    rng = random.Random(seed)

    def small(shape: tuple[int, ...]) -> str:
        if not shape:
            return f"{rng.randint(-30, 30) / 100:.2f}"
        return "[" + ", ".join(small(shape[1:]) for _ in range(shape[0])) + "]"

    words = [rng.randrange(10) for _ in range(steps)]
    labels = [rng.randrange(10) for _ in range(steps)]
    return f"""[network]
input = [{steps}]
loss = "temporal_cross_entropy"

[[layers]]
type = "embedding"
vocabulary = 10
dim = 8

[[layers]]
type = "rnn"
units = {units}
h0 = [{small((units,))}]

[[layers]]
type = "temporal_dense"
units = 10

[parameters]
We1 = {small((10, 8))}
Wx2 = {small((8, units))}
Wh2 = {small((units, units))}
b2 = {small((units,))}
W3 = {small((units, 10))}
b3 = {small((10,))}

[data]
x = {words}
labels = {labels}
"""


def command(label: str, *args: str) -> None:
    """The best of :data:`RUNS` wall times of ``symbackprop ARGS`` in a fresh process."""
    times, size = [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "symbackprop", *args], capture_output=True, check=False
        )
        times.append(time.perf_counter() - start)
        size = len(done.stdout)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{label}: exit status {done.returncode}: {done.stderr.decode()}")
    print(f"{label:<58} {min(times):7.2f} s  {size / 1e3:9.1f} kB", flush=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "conv12.toml"
        big.write_text(mnist_like_spec())
        rnn = Path(folder) / "rnn.toml"
        rnn.write_text(rnn_spec())
        for name, spec in (
            ("cnn", "cnn"),
            ("1x12x12 conv 4x3x3 / pool / dense 10", str(big)),
            ("rnn T=8 H=16", str(rnn)),
        ):
            command(f"symbackprop check {name}", "check", spec)
            command(f"symbackprop derive {name}", "derive", spec)
            command(f"symbackprop derive {name} --format json", "derive", spec, "--format", "json")


if __name__ == "__main__":
    main()
