"""Property: for random small networks from the registries, symbolic = reference = finite differences.

Hypothesis draws the depth, the widths, every activation (with leaky-ReLU slopes), the loss
with its options and reduction, biases on or off, L2, a single sample or a batch, and the
numbers themselves (two-decimal values, read exactly by the spec). For each network the exact
symbolic gradients (as floats), the hand-written NumPy backprop and central finite differences
must agree; finite differences are skipped only for entries whose step straddles a ReLU kink.

The run is bounded (``max_examples``) and derandomised so CI is reproducible; set
``SYMBACKPROP_HYPOTHESIS=explore`` for a longer, random search.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import assert_three_oracles_agree

from symbackprop import NetworkSpec, parse_spec
from symbackprop.activations import ACTIVATIONS
from symbackprop.losses import LOSSES, REDUCTIONS

settings.register_profile(
    "ci",
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("SYMBACKPROP_HYPOTHESIS", "ci")

ELEMENTWISE = sorted(name for name, entry in ACTIVATIONS.items() if not entry.output_only)
numbers = st.integers(-150, 150).map(lambda k: f"{k / 100:.2f}")
slopes = st.sampled_from(["0.01", "0.1", "0.3"])


def _toml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@st.composite
def activation(draw: st.DrawFn, choices: list[str]) -> str:
    name = draw(st.sampled_from(choices))
    if name == "leaky_relu":
        return f'{{ name = "leaky_relu", slope = {draw(slopes)} }}'
    return f'"{name}"'


def matrix(draw: st.DrawFn, rows: int, cols: int) -> list[list[str]]:
    return [[draw(numbers) for _ in range(cols)] for _ in range(rows)]


@st.composite
def networks(draw: st.DrawFn) -> NetworkSpec:
    loss = draw(st.sampled_from(sorted(n for n, e in LOSSES.items() if e.output_rank == 1)))
    required = LOSSES[loss].output_activations
    if required is not None:
        (output,) = required
        output_text = f'"{output}"'
        outputs = draw(st.integers(2, 3)) if output == "softmax" else draw(st.integers(1, 2))
    else:
        output_text = draw(activation(sorted(ACTIVATIONS)))
        outputs = draw(st.integers(1, 3))
    depth = draw(st.integers(1, 3))
    layers = [draw(st.integers(1, 3)) for _ in range(depth)] + [outputs]
    hidden = [draw(activation(ELEMENTWISE)) for _ in range(depth - 1)]
    options = [f'name = "{loss}"', f'reduction = "{draw(st.sampled_from(REDUCTIONS))}"']
    if "half" in LOSSES[loss].options:
        options.append(f"half = {str(draw(st.booleans())).lower()}")
    biases = draw(st.booleans())
    samples = draw(st.integers(1, 3))
    batched = samples > 1 or draw(st.booleans())
    lines = [
        "[network]",
        f"layers = {layers}",
        f"activations = [{', '.join([*hidden, output_text])}]",
        f"loss = {{ {', '.join(options)} }}",
        f"biases = {str(biases).lower()}",
        f"l2 = {draw(st.sampled_from(['0', '0.01', '0.25']))}",
        "[parameters]",
    ]
    for l in range(depth):
        lines.append(f"W{l + 1} = {_toml(matrix(draw, layers[l + 1], layers[l]))}")
        if biases:
            lines.append(f"b{l + 1} = {_toml([draw(numbers) for _ in range(layers[l + 1])])}")
    x = matrix(draw, samples, layers[0])
    lines += ["[data]", f"x = {_toml(x if batched else x[0])}"]
    if loss == "cross_entropy":
        labels = [draw(st.integers(0, outputs - 1)) for _ in range(samples)]
        lines.append(f"labels = {labels}" if batched else f"label = {labels[0]}")
    else:
        values = (
            st.sampled_from(["0", "1", "0.25", "0.5"])
            if loss == "binary_cross_entropy"
            else numbers
        )
        y = [[draw(values) for _ in range(outputs)] for _ in range(samples)]
        lines.append(f"y = {_toml(y if batched else y[0])}")
    return parse_spec("\n".join(lines), "<hypothesis>")


@settings(settings.get_profile(PROFILE))
@given(networks())
def test_symbolic_equals_reference_equals_finite_differences(spec: NetworkSpec) -> None:
    assert_three_oracles_agree(spec)


@settings(settings.get_profile(PROFILE))
@given(networks())
def test_the_drawn_specs_cover_the_registries(spec: NetworkSpec) -> None:
    """A sanity check on the strategy itself: every drawn spec is valid and consistent."""
    assert len(spec.activations) == spec.depth
    assert spec.activations[-1].name in ACTIVATIONS
    assert spec.loss.reduction in REDUCTIONS
    assert (spec.biases is None) or len(spec.biases) == spec.depth
