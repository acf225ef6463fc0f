"""The layer registry: spec form, textbook backward passes, the chain rule and the stack check.

Truth here is independent of the code under test: the chain rule's element-wise VJP (each
local derivative a ``sympy.diff``) against each layer's textbook tensor form, the naive NumPy
reference against central finite differences, and hand-computed numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sympy import Rational, Symbol, expand

from symbackprop import SpecError, check, load_spec, parse_spec
from symbackprop.chain import reverse
from symbackprop.cli import main
from symbackprop.layers import LAYERS
from symbackprop.layers.base import tensor
from symbackprop.stack_spec import StackSpec

SEED_AS_LAYERS = """
[network]
input = [2]
loss = "cross_entropy"

[[layers]]
type = "dense"
units = 3
activation = "relu"

[[layers]]
type = "dense"
units = 2
activation = "softmax"

[parameters]
W1 = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]
b1 = [0.1, 0.1, 0.1]
W2 = [[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]]
b2 = [0.2, 0.2]

[data]
x = [1.0, 0.5]
y = [0, 1]
"""


def test_a_dense_stack_on_a_vector_is_the_mlp_form() -> None:
    assert parse_spec(SEED_AS_LAYERS, "example 'seed'") == load_spec("seed")


def test_the_cnn_example_is_a_stack_with_the_documented_shapes() -> None:
    spec = load_spec("cnn")
    assert isinstance(spec, StackSpec)
    assert [layer.output_shape for layer in spec.layers] == [(2, 4, 4), (2, 2, 2), (8,), (3,)]
    assert {k: v.shape for k, v in spec.parameters.items()} == {
        "W1": (2, 1, 3, 3),
        "b1": (2,),
        "W2": (3, 8),
        "b2": (3,),
    }
    assert spec.parameters["W1"][0, 0, 0, 0] == Rational(1, 5)


CONV_SPEC = """
[network]
input = {input}
loss = "cross_entropy"

[[layers]]
type = "conv2d"
filters = 1
kernel = {kernel}
stride = {stride}
padding = {padding}

[[layers]]
type = "{pool}"
size = {size}

[[layers]]
type = "flatten"

[[layers]]
type = "dense"
units = 2
activation = "softmax"

[parameters]
W1 = [[[[1, 0, 1], [0, 1, 0], [1, 0, 1]]]]
b1 = [0]
W2 = {w2}
b2 = [0, 0]

[data]
x = {x}
{label}
"""
IMAGE = [[[(3 * i + j) % 5 for j in range(6)] for i in range(6)]]


def _conv(**given: Any) -> str:
    options = {
        "input": [1, 6, 6],
        "kernel": 3,
        "stride": 1,
        "padding": 0,
        "pool": "max_pool2d",
        "size": 2,
        "w2": [[1, 2, 3, 4], [4, 3, 2, 1]],
        "x": IMAGE,
        "label": "label = 0",
    }
    return CONV_SPEC.format(**{**options, **given})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"kernel": 7},
            "[[layers]] 1 (conv2d) kernel: kernel height 7 exceeds the padded input height 6",
        ),
        (
            {"stride": 2},
            "[[layers]] 1 (conv2d) stride: stride 2 does not tile the padded input height 6 "
            "with kernel height 3: (6 - 3) is not a multiple of 2",
        ),
        (
            {"size": 3},
            "[[layers]] 2 (max_pool2d) size: a window height of 3 with stride 3 does not tile "
            "the input height 4: (4 - 3) is not a multiple of 3",
        ),
        (
            {"pool": "maxpool"},
            f"[[layers]] 2 type: expected one of: {', '.join(sorted(LAYERS))}, got 'maxpool'",
        ),
        ({"padding": -1}, "[[layers]] 1 (conv2d) padding: expected an integer >= 0, got -1"),
    ],
)
def test_shapes_that_do_not_fit_name_the_layer_and_the_numbers(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError) as error:
        parse_spec(_conv(**options), "net.toml")
    assert str(error.value).startswith(f"net.toml: {message}")


def test_a_dense_layer_on_maps_asks_for_a_flatten() -> None:
    text = _conv().replace('type = "flatten"\n', 'type = "avg_pool2d"\nsize = 1\n')
    with pytest.raises(
        SpecError,
        match=r"\[\[layers\]\] 4 \(dense\): needs a vector as input, "
        r"got shape \(1, 2, 2\); add a flatten layer before it",
    ):
        parse_spec(text, "net.toml")


def test_a_kernel_of_the_wrong_shape_is_named_with_its_index() -> None:
    text = _conv().replace(
        "W1 = [[[[1, 0, 1], [0, 1, 0], [1, 0, 1]]]]", "W1 = [[[[1, 0], [0, 1, 0], [1, 0, 1]]]]"
    )
    with pytest.raises(
        SpecError,
        match=r"\[parameters\] W1\[0\]\[0\]\[0\]: expected an array of "
        r"shape \(1, 1, 3, 3\): 3 entries here, got 2 entries",
    ):
        parse_spec(text, "net.toml")


def test_the_cli_gives_one_line_and_status_2_for_a_bad_stack(tmp_path: Any, capsys: Any) -> None:
    path = tmp_path / "net.toml"
    path.write_text(_conv(kernel=7))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "kernel height 7 exceeds" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- textbook forms


def _symbols(stem: str, shape: tuple[int, ...]) -> np.ndarray:
    return tensor(shape, lambda index: Symbol(f"{stem}_{'_'.join(map(str, index))}"))


def _chain_rule_vjp(
    kind: str, config: dict[str, Any], shape: tuple[int, ...]
) -> tuple[dict, dict]:
    """The textbook backward pass and the chain rule's, for abstract input and upstream."""
    layer = LAYERS[kind]
    x = _symbols("x", shape)
    params = {k: _symbols(k, s) for k, s in layer.parameter_shapes(config, shape).items()}
    out = layer.forward(config, x, params)
    upstream = _symbols("g", out.shape)
    definitions = {Symbol(f"o_{i}"): e for i, e in enumerate(out.ravel())}
    loss = Symbol("L")
    definitions[loss] = sum(Symbol(f"o_{i}") * g for i, g in enumerate(upstream.ravel()))
    wrt = {"x": x, **params}
    adjoints = reverse(definitions, loss, [s for a in wrt.values() for s in a.ravel()])
    closed = {
        adjoints.symbols[o]: g
        for o, g in zip(list(definitions)[:-1], upstream.ravel(), strict=True)
    }
    engine = {
        k: np.array([adjoints.parameters[s].xreplace(closed) for s in a.ravel()]).reshape(a.shape)
        for k, a in wrt.items()
    }
    return layer.textbook(config, x, params, upstream), engine


@pytest.mark.parametrize(
    ("kind", "config", "shape"),
    [
        (
            "conv2d",
            {"filters": 2, "kernel": (3, 3), "stride": (2, 2), "padding": (1, 1)},
            (2, 5, 5),
        ),
        (
            "conv2d",
            {"filters": 1, "kernel": (2, 3), "stride": (1, 2), "padding": (0, 1)},
            (1, 3, 5),
        ),
        ("max_pool2d", {"size": (2, 2), "stride": (2, 2)}, (2, 4, 4)),
        ("max_pool2d", {"size": (3, 3), "stride": (1, 1)}, (1, 4, 4)),
        ("avg_pool2d", {"size": (2, 2), "stride": (1, 1)}, (2, 3, 3)),
        ("dense", {"units": 3}, (4,)),
        ("flatten", {}, (2, 2, 3)),
    ],
)
def test_the_textbook_backward_pass_equals_the_chain_rule(
    kind: str, config: dict[str, Any], shape: tuple[int, ...]
) -> None:
    textbook, engine = _chain_rule_vjp(kind, config, shape)
    assert set(textbook) == set(engine)
    for key, expected in engine.items():
        difference = [
            expand(a - b) for a, b in zip(textbook[key].ravel(), expected.ravel(), strict=True)
        ]
        assert difference == [0] * len(difference), key


def test_an_unrotated_kernel_is_not_the_chain_rule() -> None:
    """The proof can fail: dx with the kernel not rotated differs from the chain rule."""
    config = {"filters": 1, "kernel": (2, 2), "stride": (1, 1), "padding": (0, 0)}
    _, engine = _chain_rule_vjp("conv2d", config, (1, 3, 3))
    layer = LAYERS["conv2d"]
    x, w = _symbols("x", (1, 3, 3)), _symbols("W", (1, 1, 2, 2))
    unrotated = {"W": w[:, :, ::-1, ::-1], "b": _symbols("b", (1,))}
    wrong = layer.textbook(config, x, unrotated, _symbols("g", (1, 2, 2)))["x"]
    assert any(expand(a - b) != 0 for a, b in zip(wrong.ravel(), engine["x"].ravel(), strict=True))


# ----------------------------------------------------------------------------- the check


def test_check_of_the_cnn_example_passes_every_oracle() -> None:
    report = check("cnn", random_points=2)
    assert report.ok
    names = {c.name for c in report.comparisons}
    assert names == {
        "exact vs lambdified",
        "exact vs reference backprop",
        "exact vs finite differences",
    }
    assert all(c.entries == 47 and not c.flagged for c in report.comparisons)


def test_check_of_a_strided_padded_batched_stack() -> None:
    images = [[[[(3 * i + j + s) % 5 for j in range(7)] for i in range(7)]] for s in range(2)]
    text = _conv(input=[1, 7, 7], stride=2, padding=1, pool="avg_pool2d", x=images)
    spec = parse_spec(text.replace("label = 0", "labels = [0, 1]"), "batch.toml")
    assert isinstance(spec, StackSpec) and spec.batched and spec.samples == 2
    report = check(spec, random_points=2)
    assert report.ok, report.to_text()
    assert {c.entries for c in report.comparisons} == {9 + 1 + 8 + 2}


def _two_convolutions() -> str:
    text = _conv().replace(
        'type = "max_pool2d"\nsize = 2', 'type = "conv2d"\nfilters = 1\nkernel = 2'
    )
    return text.replace(
        "W2 = [[1, 2, 3, 4], [4, 3, 2, 1]]\nb2 = [0, 0]",
        "W2 = [[[[0.5, -1], [0.25, 2]]]]\nb2 = [0.5]\n"
        "W3 = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], [0.9, 0.7, 0.5, 0.3, 0.1, 0.2, 0.4, 0.6, 0.8]]"
        "\nb3 = [0, 0]",
    )


def test_check_fails_when_an_oracle_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reference that forgets the 180-degree rotation of the kernel is caught."""
    import symbackprop.reference_layers as reference_layers

    original = reference_layers._conv_backward

    def unrotated(layer: Any, w: np.ndarray, x: np.ndarray, g: np.ndarray) -> tuple:
        _, _, dx = original(layer, w[:, :, ::-1, ::-1], x, g)
        dw, db, _ = original(layer, w, x, g)
        return dw, db, dx

    spec = parse_spec(_two_convolutions(), "two.toml")
    assert check(spec, random_points=1).ok
    monkeypatch.setattr(reference_layers, "_conv_backward", unrotated)
    report = check(spec, random_points=1)
    failing = {f.entry.split("[")[0] for f in report.failures()}
    assert {c.name for c in report.comparisons if not c.ok} == {"exact vs reference backprop"}
    # db1 = sum of dx, and the sum of a full convolution does not see the rotation
    assert failing == {"dW1"}


# ----------------------------------------------------------------------------- derive


def test_derive_of_a_stack_gives_the_reference_gradients_exactly() -> None:
    from symbackprop import derive
    from symbackprop.checking.stack import _layer_dicts
    from symbackprop.reference_layers import backprop as reference_backprop
    from symbackprop.stack_derivation import StackDerivation

    d = derive("cnn")
    assert isinstance(d, StackDerivation)
    spec = d.spec
    floats = {k: np.array(v, dtype=float) for k, v in spec.parameters.items()}
    x, y = np.array(spec.x, dtype=float), np.array(spec.y, dtype=float)
    reference = reference_backprop(_layer_dicts(spec), floats, x, y)
    for key, exact in d.gradients.items():
        assert exact.shape == reference[key].shape
        for index in np.ndindex(*exact.shape):
            assert float(exact[index]) == pytest.approx(
                reference[key][index], rel=1e-12, abs=1e-15
            )
    assert d.proofs == {1: True, 2: True, 3: True, 4: True}


def test_derive_text_and_json_of_the_cnn_example(capsys: Any) -> None:
    import json

    assert main(["derive", "cnn"]) == 0
    text = capsys.readouterr().out
    assert text.count("(proven)") == 4 and "NOT" not in text
    assert "dJ/dz^(4)_1 = " in text and "... 26 more (--format json has every entry)" in text
    assert main(["derive", "cnn", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    w1 = document["gradients"]["W1"]
    assert w1["shape"] == [2, 1, 3, 3]
    assert np.array(w1["decimal"]).shape == (2, 1, 3, 3)
    assert [layer["backward_proven"] for layer in document["network"]["layers"]] == [True] * 4


def test_a_wrong_textbook_form_is_reported_not_proven(monkeypatch: pytest.MonkeyPatch) -> None:
    from symbackprop import derive
    from symbackprop.layers.pooling import MaxPool2D
    from symbackprop.proofs import _proof

    def last_maximum(self: Any, config: Any, x: Any, params: Any, upstream: Any) -> dict:
        flipped = original(self, config, x[:, ::-1, ::-1], params, upstream[:, ::-1, ::-1])
        return {"x": flipped["x"][:, ::-1, ::-1]}

    original = MaxPool2D.textbook
    monkeypatch.setattr(MaxPool2D, "textbook", last_maximum)
    _proof.cache_clear()
    try:
        assert derive("cnn").proofs == {1: True, 2: False, 3: True, 4: True}
    finally:
        _proof.cache_clear()


@pytest.mark.parametrize("fmt", ["latex", "markdown", "mathml", "html"])
def test_every_format_renders_a_stack(fmt: str, capsys: Any) -> None:
    assert main(["derive", "cnn", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "proven equal" in out and "argmax" in out


def test_markdown_of_a_stack_has_the_sections_asked_for(capsys: Any) -> None:
    assert main(["derive", "cnn", "--format", "markdown", "--sections", "gradients"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Backpropagation, step by step: cnn (1x6x6 input, 4 layers)\n")
    assert "## Gradients" in out and "## The layers" not in out
    assert out.count("$$\n") == 2 * 47  # one display per gradient entry


def test_a_format_without_a_stack_renderer_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import symbackprop.formats as formats

    formats.load()
    monkeypatch.setattr(formats, "STACK_FORMATS", {"json": None, "text": None})
    assert main(["derive", "cnn", "--format", "latex"]) == 2
    assert capsys.readouterr().err == (
        "symbackprop: error: example 'cnn': --format latex does not render [[layers]] stacks "
        "with convolution or pooling yet; expected one of: json, text\n"
    )


def test_derive_of_a_stack_is_the_same_under_every_hash_seed() -> None:
    import subprocess
    import sys

    outputs = {
        subprocess.run(
            [sys.executable, "-m", "symbackprop", "derive", "cnn", "--format", "json"],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


# ----------------------------------------------------------------------------- the user's backprop

USER_CNN = '''
import numpy as np


def backprop(params, x, y):
    """CS231n-style: conv (stride 1, no padding) -> ReLU -> 2x2 max-pool -> dense -> softmax."""
    w1, b1, w2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    f, c, kh, kw = w1.shape
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    z = np.zeros((f, h, w))
    for k in range(f):
        for i in range(h):
            for j in range(w):
                z[k, i, j] = np.sum(x[:, i:i + kh, j:j + kw] * w1[k]) + b1[k]
    a = np.maximum(z, 0)
    pooled = a.reshape(f, h // 2, 2, w // 2, 2).max(axis=(2, 4))
    logits = w2 @ pooled.ravel() + b2
    p = np.exp(logits - logits.max())
    p /= p.sum()
    dlogits = p - y
    grads = {"W2": np.outer(dlogits, pooled.ravel()), "b2": dlogits}
    dpooled = (w2.T @ dlogits).reshape(pooled.shape)
    da = np.zeros_like(a)
    for k in range(f):
        for i in range(h // 2):
            for j in range(w // 2):
                window = a[k, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                r, t = np.unravel_index(np.argmax(window), window.shape)
                da[k, 2 * i + r, 2 * j + t] += dpooled[k, i, j]
    dz = da * (z > 0)
    dw1 = np.zeros_like(w1)
    for k in range(f):
        for i in range(h):
            for j in range(w):
                dw1[k] += dz[k, i, j] * x[:, i:i + kh, j:j + kw]
    grads.update({"W1": dw1, "b1": dz.sum(axis=(1, 2))})
    return MISTAKE(grads)
'''


@pytest.mark.parametrize(
    ("mistake", "failing"),
    [("grads", set()), ("{**grads, 'b1': -grads['b1']}", {"db1"}), ("[grads]", None)],
)
def test_the_users_backprop_for_a_stack(
    mistake: str, failing: set[str] | None, tmp_path: Any, capsys: Any
) -> None:
    path = tmp_path / "user.py"
    path.write_text(USER_CNN.replace("MISTAKE(grads)", mistake))
    status = main(["check", "cnn", "--random-points", "2", "--backprop", f"{path}:backprop"])
    captured = capsys.readouterr()
    if failing is None:
        assert status == 2
        assert captured.err == (
            f"symbackprop: error: --backprop {path}:backprop: at the documented point: your "
            "backprop returned list; "
            "expected a dict of gradients keyed W1, b1, W2, b2\n"
        )
        return
    assert status == (1 if failing else 0), captured.out
    failures = {
        line.split(":")[0].strip().split("[")[0]
        for line in captured.out.splitlines()
        if ": computed " in line
    }
    assert failures == failing
    assert "exact vs user backprop" in captured.out


def test_complex_gradients_are_an_error_not_a_warning(tmp_path: Any, capsys: Any) -> None:
    path = tmp_path / "user.py"
    path.write_text(USER_CNN.replace("MISTAKE(grads)", "{**grads, 'W2': grads['W2'] + 0j}"))
    assert main(["check", "cnn", "--backprop", f"{path}:backprop"]) == 2
    assert "complex numbers in grads['W2']; expected real gradients" in capsys.readouterr().err


USER_MLP = """
import numpy as np


def backprop(params, x, y):
    z1 = params["W1"] @ x + params["b1"]
    a1 = np.maximum(z1, 0)
    z2 = params["W2"] @ a1 + params["b2"]
    p = np.exp(z2 - z2.max())
    p /= p.sum()
    d2 = p - y
    d1 = (params["W2"].T @ d2) * (z1 > 0)
    return {"W1": np.outer(d1, x), "b1": d1, "W2": np.outer(d2, a1), "b2": SCALE * d2}
"""


@pytest.mark.parametrize(("scale", "status"), [("1", 0), ("2", 1)])
def test_the_dict_convention_works_for_an_mlp(
    scale: str, status: int, tmp_path: Any, capsys: Any
) -> None:
    path = tmp_path / "user.py"
    path.write_text(USER_MLP.replace("SCALE", scale))
    assert main(["check", "seed", "--backprop", f"{path}:backprop"]) == status
    out = capsys.readouterr().out
    failing = {line.split(":")[0].strip() for line in out.splitlines() if ": computed " in line}
    assert failing == ({"db2[0]", "db2[1]"} if status else set())


def test_assert_backprop_matches_takes_a_stack_and_the_dict_convention(tmp_path: Any) -> None:
    from symbackprop.testing import assert_backprop_matches
    from symbackprop.userbackprop import load_backprop

    path = tmp_path / "user.py"
    path.write_text(USER_CNN.replace("MISTAKE(grads)", "grads"))
    assert assert_backprop_matches(load_backprop(f"{path}:backprop"), "cnn", random_points=1).ok
    path.write_text(USER_CNN.replace("MISTAKE(grads)", "{**grads, 'W2': 2 * grads['W2']}"))
    with pytest.raises(AssertionError, match="dW2"):
        assert_backprop_matches(load_backprop(f"{path}:backprop"), "cnn", random_points=1)


def test_a_kink_at_the_documented_point_is_not_judged_in_its_own_layer() -> None:
    """z^(1)_1,1,1 = (0 + 2 + 4 + 1 + 3) - 10 = 0 exactly, with a ReLU and no pooling after it.

    Its own kernel's entries straddle the kink in a finite difference; they are not judged.
    """
    text = _conv(pool="avg_pool2d", size=1, w2=[[1] * 16, [2] * 16])
    text = text.replace("padding = 0\n", 'padding = 0\nactivation = "relu"\n', 1)
    report = check(
        parse_spec(text.replace("b1 = [0]", "b1 = [-10]"), "kink.toml"), random_points=1
    )
    assert report.ok, report.to_text()
    (fd,) = [
        c
        for c in report.comparisons
        if c.name == "exact vs finite differences" and c.point == "documented point"
    ]
    assert "dW1[0,0,0,0]" in fd.flagged and "db1[0]" in fd.flagged
    assert any("z^(1)_1,1,1" in note for note in report.notes)


def test_a_tie_among_dead_relu_units_is_harmless_and_judged() -> None:
    """b1 = -2 makes every pre-activation negative: each max-pool window ties at ReLU = 0, but no
    gradient flows through a dead unit, so every entry is judged (and the conv's are 0)."""
    text = load_spec("cnn").text.replace("b1 = [0.12, -0.05]", "b1 = [-2, -2]")
    report = check(parse_spec(text, "dead.toml"), random_points=0)
    assert report.ok and not report.notes
    assert all(not c.flagged for c in report.comparisons)


def test_l2_on_a_dense_stack_is_the_mlp_l2_and_a_clear_error_on_a_conv_stack() -> None:
    dense = parse_spec(
        SEED_AS_LAYERS.replace('loss = "cross_entropy"', 'loss = "cross_entropy"\nl2 = 0.01'), "l2"
    )
    assert not isinstance(dense, StackSpec) and dense.l2 == Rational(1, 100)
    with pytest.raises(SpecError, match=r"\[network\] l2: not supported yet for stacks with"):
        parse_spec(
            _conv().replace('loss = "cross_entropy"', 'loss = "cross_entropy"\nl2 = 0.01'), "c"
        )
