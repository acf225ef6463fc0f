"""The chain-rule derivation: softmax + cross-entropy, the matrix form, ReLU'(0)."""

from __future__ import annotations

import pytest
from sympy import Add, Eq, ImmutableMatrix, Rational, expand

from symbackprop import derive
from symbackprop.activations import ReLUPrime
from symbackprop.gradients import gradients_of, matrix_form, partials
from symbackprop.network import build_network
from symbackprop.spec import example_text, parse_spec


def deep_spec(layers: str = "3-4-4-2") -> str:
    """A deeper relu/softmax network with small distinct weights."""
    sizes = [int(n) for n in layers.split("-")]
    lines = [
        "[network]",
        f"layers = {sizes}",
        f"activations = {['relu'] * (len(sizes) - 2) + ['softmax']}".replace("'", '"'),
        'loss = "cross_entropy"',
        "[parameters]",
    ]
    for l in range(len(sizes) - 1):
        rows = [
            [round(0.1 * ((i + 2 * j + 3 * l) % 7) - 0.25, 2) for j in range(sizes[l])]
            for i in range(sizes[l + 1])
        ]
        lines += [
            f"W{l + 1} = {rows}",
            f"b{l + 1} = {[0.05 * (i + 1) for i in range(sizes[l + 1])]}",
        ]
    lines += [
        "[data]",
        f"x = {[0.5 + 0.25 * j for j in range(sizes[0])]}",
        f"y = {[int(k == 0) for k in range(sizes[-1])]}",
    ]
    return "\n".join(lines)


def test_softmax_cross_entropy_gives_yhat_minus_y() -> None:
    net = build_network(parse_spec(example_text("seed")))
    grads = gradients_of(net)
    yhat, y = net.output.activation, net.y
    for error in grads.output_errors:
        k = error.unit
        assert error.steps[-1].rhs == yhat[k] - y[k]
        assert [s.reason for s in error.steps] == [
            "chain rule through the output activation",
            "expand and cancel",
            "one-hot target",
        ]
        assert error.assumption == Eq(Add(*y), 1)
        # before the assumption the result still carries sum_j y_j
        assert expand(error.steps[1].rhs - (yhat[k] * Add(*y) - y[k])) == 0


def test_compact_form_matches_the_issue_example() -> None:
    d = derive("seed")
    net = d.network
    assert (
        d.compact["W2"][0, 1]
        == (net.output.activation[0] - net.y[0]) * net.layers[0].activation[1]
    )


@pytest.mark.parametrize("layers", ["2-3-2", "3-4-4-2", "2-3-3-3-2"])
def test_matrix_form_equals_element_wise(layers: str) -> None:
    """delta^(l) = (W^(l+1))^T delta^(l+1) * f'(z^(l)) and dW = delta a^T, proved by expansion."""
    spec = parse_spec(deep_spec(layers)) if layers != "2-3-2" else parse_spec(example_text("seed"))
    net = build_network(spec)
    grads = gradients_of(net)
    assert grads.matrix_form_verified
    closed = grads.delta_substitutions()
    forms = matrix_form(net, list(grads.deltas), list(grads.local_derivatives))
    compact = grads.compact()
    for key, form in forms.items():
        if key.startswith("delta"):
            l = int(key.removeprefix("delta")) - 1
            element_wise = grads.deltas[l].xreplace(closed)
        else:
            element_wise = compact[key]
        difference = (form.xreplace(closed) - element_wise).applyfunc(expand)
        assert difference == ImmutableMatrix.zeros(*form.shape), key


def test_a_wrong_matrix_form_is_not_verified() -> None:
    """The verification can fail: a transposed recursion does not pass for a non-square layer."""
    net = build_network(parse_spec(example_text("seed")))
    grads = gradients_of(net)
    wrong = net.layers[1].weights * ImmutableMatrix.ones(3, 1)  # (2, 1), not (W^T delta)
    element_wise = grads.delta_definitions[0]
    assert any(expand(a - b) != 0 for a, b in zip(wrong, element_wise[:2], strict=False))


def test_gradients_come_from_diff_of_definitions() -> None:
    net = build_network(parse_spec(example_text("seed")))
    z = net.layers[0].z_definition[0]
    w, x = net.layers[0].weights[0, 1], net.x[1]
    assert partials(z)[w] == x and partials(z)[x] == w


@pytest.mark.parametrize(("convention", "expected"), [("0", 0), ("1/2", Rational(1, 2)), ("1", 1)])
def test_relu_prime_convention_at_an_exact_kink(convention: str, expected: Rational) -> None:
    # b1[1] = -0.5 makes z1[1] = 0.3*1 + 0.4*0.5 - 0.5 = 0 exactly
    spec = parse_spec(
        example_text("seed").replace("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, -0.5, 0.1]")
    )
    d = derive(spec, relu_prime_at_zero=Rational(convention))
    assert d.values.kinks == ("z1[1]",)
    assert d.values.forward["z1"][1] == 0
    delta2 = d.values.deltas[1]
    w2 = spec.weights[1]
    expected_delta = expected * (w2[0, 1] * delta2[0] + w2[1, 1] * delta2[1])
    assert expand(d.values.gradients["b1"][1] - expected_delta) == 0
    assert not d.values.gradients["b1"].has(ReLUPrime)


def test_heaviside_half_does_not_leak() -> None:
    spec = parse_spec(
        example_text("seed").replace("b1 = [0.1, 0.1, 0.1]", "b1 = [0.1, -0.5, 0.1]")
    )
    d = derive(spec)
    assert d.values.gradients["W1"][1, 0] == 0 and d.values.gradients["b1"][1] == 0


def test_no_kink_note_when_all_units_are_off_the_kink() -> None:
    assert derive("seed").values.kinks == ()


def _batch_text(output: str, loss: str, units: int, samples: int) -> str:
    """A 2-3-``units`` network with ``samples`` samples (two-digit sample indices)."""
    xs = ", ".join(f"[{(s % 5 - 2) / 10}, {(s % 3) / 10}]" for s in range(samples))
    if units == 1:
        ys = ", ".join(f"[{s % 2}]" for s in range(samples))
    else:
        ys = ", ".join(
            f"[{', '.join(str(int(k == s % units)) for k in range(units))}]"
            for s in range(samples)
        )
    w2 = ", ".join(f"[{0.1 * (k + 1)}, -0.2, 0.3]" for k in range(units))
    b2 = ", ".join("0.1" for _ in range(units))
    return (
        f'[network]\nlayers = [2, 3, {units}]\nactivations = ["tanh", "{output}"]\n'
        f"loss = {loss}\n[parameters]\nW1 = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]\n"
        f"b1 = [0.0, 0.1, -0.1]\nW2 = [{w2}]\nb2 = [{b2}]\n[data]\nx = [{xs}]\ny = [{ys}]\n"
    )


@pytest.mark.parametrize(
    ("output", "loss", "units"),
    [
        ("softmax", '"cross_entropy"', 3),
        ("sigmoid", '"binary_cross_entropy"', 1),
        ("identity", '{ name = "squared_error", half = true }', 2),
    ],
)
def test_renamed_output_errors_are_the_derived_ones(
    output: str, loss: str, units: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The output errors of samples 3..12, renamed from the first sample's, are exactly (argument
    for argument) what deriving each sample gives; only two samples are derived."""
    from symbackprop import gradients
    from symbackprop.gradients import _output_error, _output_errors, chain_rule

    net = build_network(parse_spec(_batch_text(output, loss, units, 12)))
    adjoints = chain_rule(net)
    derivations = []

    def counted(*args: object) -> object:
        derivations.append(args)
        return _output_error(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(gradients, "_output_error", counted)
    renamed = _output_errors(net, adjoints)
    assert len(derivations) == 2 * units  # the others were renamed
    derived = tuple(_output_error(net, adjoints, k, s) for s in range(12) for k in range(units))
    assert len(renamed) == 12 * units
    for got, want in zip(renamed, derived, strict=True):
        assert (got.unit, got.sample, got.assumption) == (want.unit, want.sample, want.assumption)
        for a, b in zip(got.steps, want.steps, strict=True):
            assert (a.reason, a.lhs, a.rhs) == (b.reason, b.lhs, b.rhs)
            assert str(a.rhs) == str(b.rhs)
