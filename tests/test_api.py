"""The Python API a new user reaches for: sections, NumPy arrays, exact entries, other points,
dict specs, plain lambdify and name spellings."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import sympy
from mpmath import mp, mpf

import symbackprop
from symbackprop.cli import main
from symbackprop.errors import SpecError, SymbackpropError
from symbackprop.numeric import lambdify_network, load_point
from symbackprop.reference import notebook_backprop

SEED = {
    "network": {"layers": [2, 3, 2], "activations": ["relu", "softmax"], "loss": "cross_entropy"},
    "parameters": {
        "W1": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],
        "b1": [0.1, 0.1, 0.1],
        "W2": [[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]],
        "b2": [0.2, 0.2],
    },
    "data": {"x": [1.0, 0.5], "y": [0, 1]},
}


@pytest.fixture(scope="module")
def seed() -> symbackprop.Derivation:
    return symbackprop.derive("seed")


# ----------------------------------------------------------------------------- sections


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html", "mathml", "text", "json"])
def test_sections_as_a_string_is_one_section(seed: symbackprop.Derivation, fmt: str) -> None:
    one = seed.to(fmt, sections="loss")
    assert one == seed.to(fmt, sections=["loss"])
    assert one != seed.to(fmt)


@pytest.mark.parametrize("fmt", ["markdown", "text", "json"])
def test_sections_as_a_comma_separated_string(seed: symbackprop.Derivation, fmt: str) -> None:
    assert seed.to(fmt, sections="gradients, loss") == seed.to(fmt, sections=["loss", "gradients"])


def test_to_markdown_gradients_string(seed: symbackprop.Derivation) -> None:
    text = seed.to_markdown(sections="gradients")
    assert "Gradients" in text and "Forward pass" not in text


def test_an_unknown_section_in_a_string_is_named(seed: symbackprop.Derivation) -> None:
    with pytest.raises(SymbackpropError, match=r"^unknown section 'gradient'; expected one of"):
        seed.to_text(sections="gradient")


def test_text_sections(seed: symbackprop.Derivation) -> None:
    text = seed.to_text(sections="output-error")
    assert "Output error" in text
    assert "Forward pass" not in text and "Gradients" not in text
    entries = [line for line in seed.to_text(sections="loss").splitlines() if line[:2] == "  "]
    assert len(entries) == 1 and entries[0].startswith("  loss ")  # the loss line alone


def test_json_sections_leave_out_the_others(seed: symbackprop.Derivation) -> None:
    document = json.loads(seed.to_json(sections="gradients"))
    assert "forward" not in document and "updated" not in document
    assert document["gradients"]["W2"]["value"][0][1] == seed.decimal(seed.exact("W2", 0, 1))
    loss = json.loads(seed.to_json(sections="loss"))
    assert list(loss["forward"]) == ["loss"] and "gradients" not in loss


def test_stack_text_and_json_take_sections() -> None:
    d = symbackprop.derive("cnn")
    text = d.to_text(sections="gradients")
    assert "Gradients" in text and "Forward pass" not in text and "Layers" not in text
    document = json.loads(d.to_json(sections=["forward"]))
    assert "forward" in document and "gradients" not in document and "backward" not in document


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_sections_for_text_and_json(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["derive", "--format", fmt, "--sections", "loss"])
    out = capsys.readouterr().out
    assert status == 0
    assert out == symbackprop.derive("seed").to(fmt, sections="loss")


# ----------------------------------------------------------------------------- numbers


def test_gradient_is_float64_of_the_exact_values(seed: symbackprop.Derivation) -> None:
    array = seed.gradient("W2")
    assert array.dtype == np.float64 and array.shape == (2, 3)
    mp.dps = 40
    exact = 3 / (5 * (1 + mp.exp(mpf(27) / 50)))  # dJ/dW^(2)_12, independently in mpmath
    assert array[0, 1] == float(exact)
    assert seed.gradient("b1").shape == (3, 1)


def test_gradient_matches_the_reference_backprop(seed: symbackprop.Derivation) -> None:
    spec = seed.spec
    point = load_point(spec)
    grads_w, grads_b = notebook_backprop(list(point.weights), list(point.biases), point.x, point.y)
    for l in range(spec.depth):
        np.testing.assert_allclose(seed.gradient(f"W{l + 1}"), grads_w[l], rtol=1e-12)
        np.testing.assert_allclose(
            seed.gradient(f"b{l + 1}"), np.reshape(grads_b[l], (-1, 1)), rtol=1e-12
        )


def test_unknown_gradient_key(seed: symbackprop.Derivation) -> None:
    with pytest.raises(SymbackpropError, match=r"^unknown gradient 'W3'; expected one of: W1"):
        seed.gradient("W3")


def test_exact_entry(seed: symbackprop.Derivation) -> None:
    assert seed.exact("W2", 0, 1) == sympy.Rational(3, 5) / (1 + sympy.exp(sympy.Rational(27, 50)))
    assert seed.exact("b2", 1) == seed.values.gradients["b2"][1, 0]
    assert seed.exact("loss") == seed.values.forward["loss"][0, 0]
    assert (
        seed.exact("yhat", 0) + seed.exact("yhat", 1) - 1 == 0
        or sympy.simplify(seed.exact("yhat", 0) + seed.exact("yhat", 1) - 1) == 0
    )
    with pytest.raises(SymbackpropError, match=r"^W2: index \(2, 0\) is out of range"):
        seed.exact("W2", 2, 0)
    with pytest.raises(SymbackpropError, match=r"^unknown key 'dW2'"):
        seed.exact("dW2", 0, 0)


def test_at_another_point_agrees_with_the_lambdified_network(
    seed: symbackprop.Derivation,
) -> None:
    weights = [[0.25, -0.5], [1.5, 0.75], [-1.0, 2.0]]
    moved = seed.at(W1=np.array(weights), x=[0.5, -1.0])
    assert moved.spec.weights[0][0, 1] == sympy.Rational(-1, 2)
    assert moved.spec.x[1] == -1 and moved.spec.weights[1] == seed.spec.weights[1]
    numeric = lambdify_network(seed).evaluate(load_point(moved.spec))
    for key in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(moved.gradient(key), numeric.gradients[key], rtol=1e-12)
        np.testing.assert_array_equal(
            seed.gradient(key, at={"W1": weights, "x": [0.5, -1.0]}), moved.gradient(key)
        )


def test_at_rejects_unknown_keys_and_shapes(seed: symbackprop.Derivation) -> None:
    with pytest.raises(SpecError, match=r"W3: unknown key of a point; expected one of: W1, b1"):
        seed.at(W3=[[1]])
    with pytest.raises(SpecError, match=r"\[parameters\] W1: expected a 3x2 matrix"):
        seed.at(W1=[[1, 2]])


# ----------------------------------------------------------------------------- dict specs


def test_spec_from_dict_equals_the_file() -> None:
    from_dict = symbackprop.spec_from_dict(SEED, "seed.toml")
    assert from_dict == replace(symbackprop.load_spec("seed"), source="seed.toml")
    assert from_dict.weights[0][0, 0] == sympy.Rational(1, 10)  # exact, never a float


def test_derive_and_check_accept_a_dict(seed: symbackprop.Derivation) -> None:
    d = symbackprop.derive(SEED)
    assert d.values.gradients == seed.values.gradients
    assert symbackprop.check(SEED, random_points=1).ok


def test_spec_from_dict_takes_exact_numbers() -> None:
    spec = dict(
        SEED, parameters=dict(SEED["parameters"], b2=[Fraction(1, 8), sympy.Rational(1, 4)])
    )
    assert list(symbackprop.spec_from_dict(spec).biases[1]) == [
        sympy.Rational(1, 8),
        sympy.Rational(1, 4),
    ]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"b2": [Fraction(1, 3), 0]}, r"^<dict>: parameters.b2\[0\]: expected a number with a "),
        ({"b2": [float("nan"), 0]}, r"^<dict>: \[parameters\] b2\[0\]: expected a finite number"),
        ({"b2": [object(), 0]}, r"^<dict>: parameters.b2\[0\]: expected a number, string"),
    ],
    ids=["fraction-1/3", "nan", "object"],
)
def test_spec_from_dict_errors(edit: dict, message: str) -> None:
    spec = dict(SEED, parameters=dict(SEED["parameters"], **edit))
    with pytest.raises(SpecError, match=message):
        symbackprop.spec_from_dict(spec)


def test_spec_from_dict_needs_a_dict() -> None:
    with pytest.raises(SpecError, match=r"^<dict>: expected a dict of tables, got list"):
        symbackprop.spec_from_dict([1, 2])  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- lambdify


@pytest.mark.parametrize(
    ("example", "form"),
    [("seed", "compact"), ("seed", "expanded"), ("cnn", "compact")],  # stacks: compact only
)
def test_forms_lambdify_with_plain_sympy(form: str, example: str) -> None:
    d = symbackprop.derive(example)
    table = getattr(d, form)
    for key, forms in table.items():
        rows = forms.tolist() if hasattr(forms, "tolist") else forms
        first = np.asarray(rows, dtype=object).ravel()[0]
        symbols = sorted(first.free_symbols, key=str)
        function = sympy.lambdify(symbols, first, "numpy")
        values = {
            s: d.values.symbols[s] if hasattr(d.values, "symbols") else d.values[s]
            for s in symbols
        }
        got = function(*[float(values[s]) for s in symbols])
        exact = d.values.gradients[key] if example == "seed" else d.gradients[key]
        want = np.asarray(exact.tolist() if hasattr(exact, "tolist") else exact, dtype=object)
        assert float(got) == pytest.approx(float(want.ravel()[0]), rel=1e-12, abs=1e-15), key


def test_lambdified_relu_prime_on_arrays() -> None:
    from symbackprop.activations import LeakyReLU, ReLU, ReLUPrime, Sigmoid

    z = sympy.Symbol("z")
    grid = np.array([-2.0, 0.0, 3.0])
    assert sympy.lambdify(z, ReLU(z), "numpy")(grid).tolist() == [0.0, 0.0, 3.0]
    assert sympy.lambdify(z, ReLUPrime(z), "numpy")(grid).tolist() == [0.0, 0.0, 1.0]
    leaky = sympy.lambdify(z, LeakyReLU(z, sympy.Rational(1, 10)), "numpy")(grid)
    np.testing.assert_allclose(leaky, [-0.2, 0.0, 3.0])
    np.testing.assert_allclose(
        sympy.lambdify(z, Sigmoid(z), "numpy")(grid), 1 / (1 + np.exp(-grid))
    )


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("activation", "canonical"),
    [
        ("ReLU", "relu"),
        ("Tanh", "tanh"),
        ("logistic", "sigmoid"),
        ("Leaky-ReLU", "leaky_relu"),
        ("LINEAR", "identity"),
    ],
)
def test_activation_names_any_case_and_aliases(activation: str, canonical: str) -> None:
    spec = {
        "network": {"layers": [1, 1], "activations": [activation], "loss": "squared_error"},
        "parameters": {"W1": [[0.5]], "b1": [0]},
        "data": {"x": [1], "y": [1]},
    }
    d = symbackprop.derive(spec)
    assert d.spec.activations[0].name == canonical
    assert f"1-1, {canonical}" in d.to_text()  # the output names the canonical one


@pytest.mark.parametrize(
    ("loss", "canonical"),
    [
        ("CE", "cross_entropy"),
        ("crossentropy", "cross_entropy"),
        ("Cross-Entropy", "cross_entropy"),
    ],
)
def test_loss_names_any_case_and_aliases(loss: str, canonical: str) -> None:
    spec = dict(SEED, network=dict(SEED["network"], loss=loss, activations=["Relu", "SoftMax"]))
    d = symbackprop.derive(spec)
    assert (
        d.spec.loss.name == canonical and json.loads(d.to_json())["network"]["loss"] == canonical
    )


def test_mse_is_squared_error() -> None:
    spec = {
        "network": {"layers": [1, 1], "activations": ["tanh"], "loss": "MSE"},
        "parameters": {"W1": [[0.5]], "b1": [0]},
        "data": {"x": [1], "y": [1]},
    }
    assert symbackprop.spec_from_dict(spec).loss.name == "squared_error"


def test_unknown_loss_still_rejected() -> None:
    spec = dict(SEED, network=dict(SEED["network"], loss="crossentropyy"))
    with pytest.raises(
        SpecError, match=r"^<dict>: \[network\] loss: unknown loss 'crossentropyy'"
    ):
        symbackprop.spec_from_dict(spec)


# ----------------------------------------------------------------------------- testing


def _wrong(weights: list, biases: list, x: np.ndarray, y: np.ndarray) -> tuple[list, list]:
    grads_w, grads_b = notebook_backprop(weights, biases, x, y)
    return [2 * g for g in grads_w], grads_b


@pytest.mark.parametrize(
    "call",
    [
        lambda: symbackprop.testing.assert_backprop_matches(_wrong, "seed", random_points=0),
        lambda: symbackprop.testing.assert_layer_matches(
            "relu", lambda x: (2 * x, x), lambda dout, cache: dout, random_points=0
        ),
    ],
    ids=["backprop", "layer"],
)
def test_assertions_hide_their_own_frames(call: object) -> None:
    import symbackprop.testing

    with pytest.raises(AssertionError) as info:
        call()  # type: ignore[operator]
    frames = [frame for frame, _ in traceback.walk_tb(info.value.__traceback__)]
    own = [f for f in frames if f.f_code.co_filename == symbackprop.testing.__file__]
    assert own, "the assertion's own frame is in the traceback"
    assert all(f.f_locals.get("__tracebackhide__") is True for f in own)
    assert sys.modules["symbackprop.testing"] is symbackprop.testing


# ----------------------------------------------------------------------------- parseable JSON


def test_json_sympy_fields_read_back_with_the_documented_locals(
    seed: symbackprop.Derivation,
) -> None:
    document = json.loads(seed.to_json())
    names = symbackprop.sympify_locals()
    for key, entry in document["gradients"].items():
        for i, row in enumerate(entry["compact_sympy"]):
            for j, text in enumerate(row):
                assert sympy.sympify(text, locals=names) == seed.compact[key][i, j]
        for i, row in enumerate(entry["expanded_sympy"]):
            for j, text in enumerate(row):
                assert sympy.sympify(text, locals=names) == seed.expanded[key][i][j]


def test_json_and_text_spell_the_compact_form_alike(seed: symbackprop.Derivation) -> None:
    compact = json.loads(seed.to_json())["gradients"]["W1"]["compact"][0][0]
    assert "ReLU'(z^(1)_1)" in compact and "ReLUPrime" not in compact
    assert f"  compact:  {compact}\n" in seed.to_text()


def test_stack_json_sympy_fields_read_back() -> None:
    d = symbackprop.derive("cnn")
    entry = json.loads(d.to_json())["gradients"]["W1"]
    first = np.asarray(entry["compact_sympy"], dtype=object).ravel()[0]
    assert sympy.sympify(first, locals=symbackprop.sympify_locals()) == d.compact["W1"].ravel()[0]


# ----------------------------------------------------------------------------- notebooks


def test_notebook_html_is_a_summary(seed: symbackprop.Derivation) -> None:
    summary = seed._repr_html_()
    full = seed.document()._repr_html_()
    assert len(summary) < len(full) / 10
    assert "2-3-2, relu -&gt; softmax, cross_entropy" in summary
    for value in seed.values.gradients["W2"]:
        assert f"<mn>{seed.decimal(abs(value))}</mn>" in summary  # every entry, computed
    assert "Output error" not in summary and "Output error" in full
    assert "d.document()" in summary


def test_notebook_latex_is_a_summary(seed: symbackprop.Derivation) -> None:
    summary = seed._repr_latex_()
    assert r"\frac{\partial J}{\partial W^{(2)}}" in summary and "Output error" not in summary
    assert seed.document()._repr_latex_() == seed.to_latex()


# ----------------------------------------------------------------------------- indexing, forms


def test_text_states_the_indexing_rule_and_shows_both_names(seed: symbackprop.Derivation) -> None:
    text = seed.to_text()
    header = text.splitlines()[2]
    assert header.startswith("indexing: names like dW2[0,1] and z1[0] are 0-based (NumPy)")
    assert header.endswith("is 1-based: dW2[0,1] = dJ/dW^(2)_12")
    assert "\ndW2[0,1] = dJ/dW^(2)_12\n  compact:  a^(1)_2*(yhat_1 - y_1)\n" in text
    assert "\ndb1[2] = dJ/db^(1)_3\n" in text
    assert "\n  z1[2] = z^(1)_3        = 9/10 = 0.9\n" in text


def test_the_example_in_the_rule_is_an_entry_of_the_network() -> None:
    d = symbackprop.derive("tests/specs/deep-tanh-batch.toml")
    assert d.to_text().splitlines()[2].endswith("dW4[0,1] = dJ/dW^(4)_12")
    assert "dW4[0,1] = dJ/dW^(4)_12\n" in d.to_text()


def test_a_short_exact_decimal_is_written_as_itself(seed: symbackprop.Derivation) -> None:
    assert seed.values.forward["z1"][0, 0] == sympy.Rational(3, 10)
    text, document = seed.to_text(), json.loads(seed.to_json())
    assert "= 3/10 = 0.3\n" in text and "0.300000000000" not in text
    assert document["forward"]["z1"]["value"][0] == ["0.3"]
    assert document["forward"]["z1"]["exact"][0] == ["3/10"]  # still exact for sympify
    assert r"z^{(1)}_{1} &= 0.1 \cdot 1 + 0.2 \cdot 0.5 + 0.1 = 0.3" in seed.to_latex()
    # a value that is not a short decimal keeps its exact form and its rounding
    assert "yhat[0] = yhat_1       = 1/(1 + exp(27/50))  ≈ 0.368187582264\n" in text


def test_values_of_one_kind_print_alike(seed: symbackprop.Derivation) -> None:
    text, tex = seed.to_text(), seed.to_latex()
    assert "1/(1 + exp(27/50))" in text and "1/(1 + exp(-27/50))" in text
    assert r"\frac{1}{1 + e^{27 / 50}}" in tex and r"\frac{1}{1 + e^{- 27 / 50}}" in tex
    assert r"e^{- 27 / 50} + 1" not in tex


def test_stack_gradient_and_exact() -> None:
    d = symbackprop.derive("cnn")
    exact = d.gradients["W1"]
    array = d.gradient("W1")
    assert array.dtype == np.float64 and array.shape == exact.shape
    first = (0,) * exact.ndim
    assert d.exact("W1", *first) == exact[first]
    assert array[first] == float(sympy.N(exact[first], 30))
    with pytest.raises(SymbackpropError, match=r"^unknown gradient 'W9'"):
        d.gradient("W9")
    with pytest.raises(SymbackpropError, match=r"^W1: index \(0,\) is out of range"):
        d.exact("W1", 0)


def test_docstring_examples_of_the_new_modules() -> None:
    import doctest

    from symbackprop import point, spec_dict, sympy_code

    for module in (spec_dict, point, sympy_code):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_stack_text_states_the_rule_and_writes_short_decimals() -> None:
    text = symbackprop.derive("cnn").to_text()
    assert text.splitlines()[2] == (
        "indexing: names are 0-based (NumPy); the math is 1-based: dW1[0,0,0,0] = dJ/dW^(1)_1,1,1,1"
    )
    assert "\ndW1[0,0,0,0] = dJ/dW^(1)_1,1,1,1\n" in text
    assert " = 3/5 = 0.6\n" in text and "0.600000000000" not in text
