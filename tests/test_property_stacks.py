"""Property: for random small stacks of layers, chain rule = reference = finite differences.

Hypothesis draws the input shape, one or two convolutions (filters, kernel, stride, padding,
activation), optional max- or average-pooling, a flatten, one or two dense layers, the loss,
a single sample or a batch, and two-decimal numbers. ``check`` must then hold at the
documented point and at a random point: the chain rule's exact gradients against their
lambdified float64 form, the naive NumPy reference and central finite differences.

Bounded (``max_examples``) and derandomised for CI, as in ``test_property.py``.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop import check, parse_spec

PROFILE = os.environ.get("SYMBACKPROP_HYPOTHESIS", "ci")
EXAMPLES = {"ci": 12, "explore": 200}[PROFILE]
ACTIVATIONS = [None, "relu", "tanh", "sigmoid", "leaky_relu", "softplus"]
numbers = st.integers(-150, 150).map(lambda k: f"{k / 100:.2f}")


def _tiling(draw: Any, size: int, largest: int) -> tuple[int, int] | None:
    """A (window, stride) that tiles ``size`` exactly, or None."""
    options = [
        (k, s) for k in range(1, min(largest, size) + 1) for s in (1, 2) if (size - k) % s == 0
    ]
    return draw(st.sampled_from(options)) if options else None


def _array(draw: Any, shape: tuple[int, ...]) -> Any:
    if not shape:
        return draw(numbers)
    return [_array(draw, shape[1:]) for _ in range(shape[0])]


def _toml(value: Any) -> str:
    return "[" + ", ".join(_toml(v) for v in value) + "]" if isinstance(value, list) else value


def _activation(name: str | None) -> str:
    return f'activation = "{name}"\n' if name else ""


@st.composite
def stacks(draw: Any) -> str:
    channels, size = draw(st.integers(1, 2)), draw(st.integers(3, 6))
    shape = (channels, size, size)
    tables, params, number = [], {}, 0
    for _ in range(draw(st.integers(1, 2))):
        padding = draw(st.integers(0, 1))
        tiling = _tiling(draw, shape[1] + 2 * padding, 3)
        if tiling is None:
            break
        (kernel, stride), filters = tiling, draw(st.integers(1, 2))
        number += 1
        params[f"W{number}"] = (filters, shape[0], kernel, kernel)
        params[f"b{number}"] = (filters,)
        tables.append(
            f'type = "conv2d"\nfilters = {filters}\nkernel = {kernel}\nstride = {stride}\n'
            f"padding = {padding}\n" + _activation(draw(st.sampled_from(ACTIVATIONS)))
        )
        side = (shape[1] + 2 * padding - kernel) // stride + 1
        shape = (filters, side, side)
    pool = draw(st.sampled_from([None, "max_pool2d", "avg_pool2d"]))
    tiling = _tiling(draw, shape[1], 2) if pool else None
    if pool and tiling:
        tables.append(f'type = "{pool}"\nsize = {tiling[0]}\nstride = {tiling[1]}\n')
        side = (shape[1] - tiling[0]) // tiling[1] + 1
        shape = (shape[0], side, side)
    tables.append('type = "flatten"\n')
    width = shape[0] * shape[1] * shape[2]
    units = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 1)))] + [3]
    softmax = draw(st.booleans())
    for position, n in enumerate(units):
        number += 1
        params[f"W{number}"], params[f"b{number}"] = (n, width), (n,)
        last = position == len(units) - 1
        act = ("softmax" if softmax else None) if last else draw(st.sampled_from(ACTIVATIONS))
        tables.append(f'type = "dense"\nunits = {n}\n' + _activation(act))
        width = n
    batch = draw(st.integers(1, 2))
    one = [_array(draw, (channels, size, size)) for _ in range(batch)]
    x = one if batch > 1 else one[0]
    labels = [draw(st.integers(0, 2)) for _ in range(batch)]
    target = f"labels = {labels}" if batch > 1 else f"label = {labels[0]}"
    loss = "cross_entropy" if softmax else "squared_error"
    text = f'[network]\ninput = [{channels}, {size}, {size}]\nloss = "{loss}"\n\n'
    text += "".join(f"[[layers]]\n{t}\n" for t in tables)
    text += "[parameters]\n" + "".join(
        f"{k} = {_toml(_array(draw, s))}\n" for k, s in params.items()
    )
    return text + f"\n[data]\nx = {_toml(x)}\n{target}\n"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=PROFILE == "ci",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stacks())
def test_random_stacks_agree_with_every_oracle(text: str) -> None:
    report = check(parse_spec(text, "random stack"), random_points=1)
    assert report.ok, text + report.to_text()
