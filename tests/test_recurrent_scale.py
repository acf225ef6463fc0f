"""A long, wide recurrence derives: exact values nested past the evaluation limit stay exact,
and BPTT is proven at a representative size that a wrong BPTT still fails."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from sympy import tanh

from symbackprop import derive, load_spec, reference_layers
from symbackprop.checking.stack import _layer_dicts
from symbackprop.layers import LAYERS
from symbackprop.proofs import _proof, proof_size, prove_textbook
from symbackprop.stack_derivation import STACK_NEST_LIMIT, _Nesting


def _numbers(shape: tuple[int, ...], rng: random.Random) -> str:
    if not shape:
        return f"{rng.randint(-40, 40) / 100:.2f}"
    return "[" + ", ".join(_numbers(shape[1:], rng) for _ in range(shape[0])) + "]"


def _rnn(tmp_path: Path, steps: int, units: int, kind: str = "rnn") -> Path:
    """Words -> embedding 5x3 -> ``kind`` ``units`` over ``steps`` -> temporal_dense 4."""
    rng = random.Random(steps * 100 + units)
    width = 4 * units if kind == "lstm" else units
    states = f"h0 = [{_numbers((units,), rng)}]"
    if kind == "lstm":
        states += f"\nc0 = [{_numbers((units,), rng)}]"
    text = f"""[network]
input = [{steps}]
loss = "temporal_cross_entropy"

[[layers]]
type = "embedding"
vocabulary = 5
dim = 3

[[layers]]
type = "{kind}"
units = {units}
{states}

[[layers]]
type = "temporal_dense"
units = 4

[parameters]
We1 = {_numbers((5, 3), rng)}
Wx2 = {_numbers((3, width), rng)}
Wh2 = {_numbers((units, width), rng)}
b2 = {_numbers((width,), rng)}
W3 = {_numbers((units, 4), rng)}
b3 = {_numbers((4,), rng)}

[data]
x = {[rng.randrange(5) for _ in range(steps)]}
labels = {[rng.randrange(4) for _ in range(steps)]}
"""
    path = tmp_path / f"{kind}{steps}x{units}.toml"
    path.write_text(text, "utf-8")
    return path


def test_deeply_nested_exact_values_match_the_reference_backprop(tmp_path: Path) -> None:
    """Six steps of four units nest tanh past the limit: those values are substituted as written,
    and every gradient still equals the independent NumPy backprop."""
    path = _rnn(tmp_path, 6, 4)
    d = derive(path)
    nesting = _Nesting()
    last = d.graph.stages[-1]
    assert any(nesting.depth(d.values[s]) > STACK_NEST_LIMIT for s in last)
    spec = load_spec(path)
    params = {k: np.array(v, dtype=np.float64) for k, v in spec.parameters.items()}
    expected = reference_layers.backprop(
        _layer_dicts(spec),
        params,
        np.array(spec.x, dtype=np.float64),
        np.array(spec.y, dtype=np.float64),
        loss="temporal_cross_entropy",
    )
    for key, gradient in expected.items():
        np.testing.assert_allclose(d.gradient(key), gradient, rtol=1e-10, atol=1e-13)


def test_an_unevaluated_value_is_the_same_number() -> None:
    """As written, tanh(-x) is not folded to -tanh(x), but it is the same exact value."""
    from symbackprop.exact import decimal, evaluating

    with evaluating(False):
        written = tanh(-tanh(tanh(1) / 3))
    assert written != -tanh(tanh(tanh(1) / 3))
    assert decimal(written, 30) == decimal(-tanh(tanh(tanh(1) / 3)), 30)


@pytest.mark.parametrize(("kind", "size"), [("rnn", "T=3, D=2, H=2"), ("lstm", "T=2, D=2, H=2")])
def test_a_long_wide_recurrence_is_proven_at_its_representative_size(
    tmp_path: Path, kind: str, size: str
) -> None:
    spec = load_spec(_rnn(tmp_path, 5, 3, kind))
    layer = spec.layers[1]
    assert proof_size(layer) == size
    assert prove_textbook(layer, spec.samples)
    assert LAYERS[kind].proof_size({**layer.options, "units": 2}, (2, 2)) is None


def test_the_derivation_says_at_which_size_bptt_was_proven(tmp_path: Path) -> None:
    d = derive(_rnn(tmp_path, 4, 3))
    assert d.proof_sizes == {2: "T=3, D=2, H=2"}
    assert "(proven at the representative size T=3, D=2, H=2)" in d.to_text()
    assert "proven at the representative size T=3, D=2, H=2" in d.to_markdown()
    assert '"backward_proven_at": "T=3, D=2, H=2"' in d.to_json()
    assert '"backward_proven_at": null' in d.to_json()


def test_a_wrong_bptt_fails_the_proof_at_the_representative_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dh_t without the path from h_{t+1}: caught at T=3, D=2, H=2 for a 5-step, 3-unit layer."""
    kind = LAYERS["rnn"]

    class NoRecurrence(type(kind)):  # type: ignore[misc]
        def textbook_batch(self, config, xs, params, upstreams, cache):  # type: ignore[no-untyped-def]
            zero = np.full(params["Wh"].shape, 0, dtype=object)
            dxs, grads = super().textbook_batch(
                config, xs, {**params, "Wh": zero}, upstreams, cache
            )
            return dxs, grads

    spec = load_spec(_rnn(tmp_path, 5, 3))
    layer = spec.layers[1]
    monkeypatch.setitem(LAYERS, "rnn", NoRecurrence())
    _proof.cache_clear()
    try:
        assert proof_size(layer) == "T=3, D=2, H=2"
        assert not prove_textbook(layer, spec.samples)
    finally:
        _proof.cache_clear()
