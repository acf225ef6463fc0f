"""embedding, temporal_dense, attention and temporal_cross_entropy: proofs, every oracle,
spec errors, rendering, the NumPy reference against finite differences, and a property test.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy import Symbol, cancel, diff, exp

from symbackprop import check, derive, parse_spec, reference_sequence
from symbackprop.cli import main
from symbackprop.errors import SpecError
from symbackprop.layers import LAYERS
from symbackprop.layers.attention import Attention, backward_batch, softmax_backward
from symbackprop.layers.base import tensor
from symbackprop.proofs import _proof
from symbackprop.stack_derivation import StackDerivation

ATT = (("causal", False), ("dim", 2))
CAUSAL = (("causal", True), ("dim", 2))


# --- the textbook forms, proven --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "config", "shape"),
    [
        pytest.param("embedding", (("dim", 2), ("vocabulary", 2)), (4,), id="embedding repeats"),
        pytest.param("temporal_dense", (("units", 2),), (3, 2), id="temporal_dense 3x2"),
        pytest.param("attention", ATT, (2, 2), id="attention 2x2"),
        pytest.param("attention", CAUSAL, (3, 2), id="causal attention 3x2"),
        pytest.param("attention", (("causal", False), ("dim", 1)), (2, 3), id="attention d=1"),
    ],
)
def test_the_textbook_form_equals_the_chain_rule(
    kind: str, config: Any, shape: tuple[int, ...]
) -> None:
    assert _proof(kind, config, shape, 1)


def _diagonal(p: Any, dp: Any) -> Any:
    return p * dp


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param({"softmax_gradient": _diagonal}, id="softmax Jacobian without the rowsum"),
        pytest.param({"scale": 1}, id="no 1/sqrt(d) in the backward"),
    ],
)
def test_a_wrong_attention_form_is_not_proven(
    wrong: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def textbook(self: Any, config: Any, xs: Any, params: Any, ups: Any, cache: Any) -> Any:
        options = {"scale": 1 / np.sqrt(2), "softmax_gradient": softmax_backward, **wrong}
        return backward_batch(xs, params, ups, cache, **options)

    monkeypatch.setattr(Attention, "textbook_batch", textbook)
    _proof.cache_clear()
    try:
        assert not _proof("attention", ATT, (2, 2), 1)
    finally:
        _proof.cache_clear()


@pytest.mark.parametrize("n", [1, 2, 4])
def test_the_compact_softmax_backward_equals_the_elementwise_derivatives(n: int) -> None:
    """dS_j = sum_k dP_k dP_k/dS_j = P_j (dP_j - sum_k dP_k P_k), for every row length."""
    s = [Symbol(f"s{j}") for j in range(n)]
    dp = [Symbol(f"g{j}") for j in range(n)]
    p = [exp(v) / sum(exp(u) for u in s) for v in s]
    compact = softmax_backward(np.array([p], dtype=object), np.array([dp], dtype=object))
    for j in range(n):
        elementwise = sum(dp[k] * diff(p[k], s[j]) for k in range(n))
        assert cancel(elementwise - compact[0, j]) == 0
    if n > 1:  # and the diagonal alone is not
        assert cancel(dp[0] * diff(p[0], s[0]) - p[0] * dp[0]) != 0


def test_the_embedding_gradient_scatter_adds_repeated_indices() -> None:
    x = np.array([1, 0, 1], dtype=object)
    g = tensor((3, 2), lambda i: Symbol(f"g{i[0]}{i[1]}"))
    params = {"We": tensor((2, 2), lambda i: Symbol(f"w{i[0]}{i[1]}"))}
    grads = LAYERS["embedding"].textbook({"vocabulary": 2, "dim": 2}, x, params, g)
    assert grads["We"][1, 0] == g[0, 0] + g[2, 0]
    assert grads["We"][0, 1] == g[1, 1]


# --- specs, checked by every oracle ----------------------------------------------------------


def _spec(layers: str, params: str, data: str, shape: str = "[3]", loss: str = "") -> str:
    loss = loss or '"temporal_cross_entropy"'
    return (
        f"[network]\ninput = {shape}\nloss = {loss}\n\n{layers}\n"
        f"[parameters]\n{params}\n[data]\n{data}\n"
    )


EMBED = '[[layers]]\ntype = "embedding"\nvocabulary = 3\ndim = 2\n\n'
WE = "We1 = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.2]]\n"


def _dense(n: int, units: int = 3, activation: str = "") -> tuple[str, str]:
    layer = f'[[layers]]\ntype = "temporal_dense"\nunits = {units}\n{activation}\n'
    rows = [[round(0.1 * (i + 2 * j) - 0.25, 2) for j in range(units)] for i in range(2)]
    return layer, f"W{n} = {rows}\nb{n} = {[0.05 * j for j in range(units)]}\n"


ATTENTION = '[[layers]]\ntype = "attention"\ndim = 2\ncausal = {causal}\n\n'
ATTENTION_PARAMS = (
    "Wq2 = [[0.2, -0.1], [0.1, 0.4]]\nWk2 = [[-0.3, 0.2], [0.5, 0.1]]\n"
    "Wv2 = [[0.4, 0.1], [-0.2, 0.3]]\n"
)
BATCH = (
    "x = [[0, 2, 0], [1, 1, 2]]\nlabels = [[1, 0, 2], [2, 2, 0]]\nmask = [[1, 1, 0], [1, 0, 1]]"
)


def _specs() -> dict[str, str]:
    d3, p3 = _dense(3)
    plain, plain_params = _dense(2)
    tanh, tanh_params = _dense(2, activation='activation = "tanh"')
    return {
        "embedding-dense": _spec(EMBED + plain, WE + plain_params, BATCH),
        "one-sample-tanh": _spec(
            EMBED + tanh + d3,
            WE + tanh_params + p3.replace("W3 = [", "W3 = [[0.3, -0.1, 0.2], ", 1),
            "x = [2, 2, 1]\nlabels = [0, 1, 2]",
        ),
        "attention": _spec(
            EMBED + ATTENTION.format(causal="false") + d3, WE + ATTENTION_PARAMS + p3, BATCH
        ),
        "causal-attention": _spec(
            EMBED + ATTENTION.format(causal="true") + d3,
            WE + ATTENTION_PARAMS + p3,
            "x = [2, 0, 2]\nlabels = [1, 0, 2]\nmask = [1, 1, 0]",
        ),
        "sequence-input": _spec(
            ATTENTION.format(causal="true") + d3,
            ATTENTION_PARAMS.replace("2 =", "1 =") + p3.replace("3 =", "2 ="),
            "x = [[0.5, -1.0], [0.25, 0.75]]\nlabels = [2, 0]",
            shape="[2, 2]",
        ),
    }


SPECS = _specs()


@pytest.mark.parametrize("name", SPECS)
def test_check_passes_every_oracle(name: str) -> None:
    report = check(parse_spec(SPECS[name], f"{name}.toml"), random_points=2)
    assert report.ok, report.to_text()
    assert {c.name for c in report.comparisons} == {
        "exact vs lambdified",
        "exact vs reference backprop",
        "exact vs finite differences",
    }


def test_derive_proves_every_layer_and_the_mask_zeroes_a_step() -> None:
    d = derive(parse_spec(SPECS["causal-attention"], "causal.toml"))
    assert isinstance(d, StackDerivation)
    assert all(d.proofs.values()), d.proofs
    unmasked = derive(parse_spec(SPECS["causal-attention"].replace("mask = [1, 1, 0]", ""), "u"))
    assert isinstance(unmasked, StackDerivation)
    assert d.gradients["W3"][0, 0] != unmasked.gradients["W3"][0, 0]


def test_a_masked_step_does_not_change_the_gradients() -> None:
    """Another label at a masked step gives the same exact gradients."""
    text = SPECS["embedding-dense"]
    other = text.replace("labels = [[1, 0, 2]", "labels = [[1, 0, 0]")
    a, b = (derive(parse_spec(t, "s.toml")) for t in (text, other))
    assert isinstance(a, StackDerivation) and isinstance(b, StackDerivation)
    for key in a.gradients:
        assert np.array_equal(a.gradients[key], b.gradients[key])
    changed = text.replace("labels = [[1, 0, 2]", "labels = [[2, 0, 2]")
    c = derive(parse_spec(changed, "s.toml"))
    assert isinstance(c, StackDerivation)
    assert not np.array_equal(a.gradients["W2"], c.gradients["W2"])


SMALL = _spec(
    '[[layers]]\ntype = "embedding"\nvocabulary = 2\ndim = 1\n\n'
    '[[layers]]\ntype = "attention"\ndim = 1\ncausal = true\n\n'
    '[[layers]]\ntype = "temporal_dense"\nunits = 2\n',
    "We1 = [[0.5], [-0.5]]\nWq2 = [[0.3]]\nWk2 = [[0.2]]\nWv2 = [[0.7]]\n"
    "W3 = [[0.4, -0.6]]\nb3 = [0.1, 0.0]\n",
    "x = [1, 0]\nlabels = [1, 0]",
    shape="[2]",
)


@pytest.mark.parametrize(
    ("fmt", "needle"),
    [
        ("text", "P^(2)_2,1"),
        ("latex", "P^{(2)}_{2,1}"),
        ("html", "<mi>P</mi>"),
        ("mathml", "<mi>P</mi>"),
        ("markdown", "P^{(2)}_{2,1}"),
        ("json", '"P^(2)_2,1"'),
    ],
)
def test_every_format_renders_the_attention_weights(fmt: str, needle: str) -> None:
    d = derive(parse_spec(SMALL, "small.toml"))
    out = d.to(fmt)
    assert needle in out
    if fmt == "json":
        json.loads(out)


# --- spec errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            SMALL.replace("x = [1, 0]", "x = [1, 2]"),
            r"^s\.toml: \[data\] x: expected word indices: integers in \[0, 1\] for the "
            r"embedding, got 2 at \[1\]$",
        ),
        (
            SMALL.replace("x = [1, 0]", "x = [1, 0.5]"),
            r"^s\.toml: \[data\] x: expected word indices: integers in \[0, 1\]",
        ),
        (
            SMALL.replace("labels = [1, 0]", "labels = [1, 0, 1]"),
            r"^s\.toml: \[data\] labels: expected 2 integers \(one per step\), got \[1, 0, 1\]$",
        ),
        (
            SMALL.replace("labels = [1, 0]", "labels = [1, 2]"),
            r"^s\.toml: \[data\] labels\[1\]: expected an integer in 0\.\.1, got 2$",
        ),
        (
            SMALL.replace("labels = [1, 0]", "labels = [1, 0]\nmask = [1, 2]"),
            r"^s\.toml: \[data\] mask\[1\]: expected an integer in 0\.\.1, got 2$",
        ),
        (
            SMALL.replace("labels = [1, 0]", "label = 1"),
            r"^s\.toml: \[data\] labels: a sequence loss takes labels",
        ),
        (
            SMALL.replace('"temporal_cross_entropy"', '"squared_error"'),
            r"^s\.toml: \[\[layers\]\] 3: the last layer must give a vector for the loss, got "
            r"shape \(2, 2\)$",
        ),
        (
            SMALL.replace('type = "attention"', 'type = "embedding"\nvocabulary = 2', 1),
            r"^s\.toml: \[\[layers\]\] 2 \(embedding\) vocabulary: unknown key|"
            r"^s\.toml: \[\[layers\]\] 2 \(embedding\)",
        ),
        (
            SMALL.replace('type = "temporal_dense"', 'type = "dense"'),
            r"^s\.toml: \[\[layers\]\] 3 \(dense\): needs a vector as input, got shape \(2, 1\)",
        ),
    ],
)
def test_bad_specs_name_the_key(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(text, "s.toml")


def test_an_embedding_after_the_first_layer_is_rejected() -> None:
    text = _spec(
        ATTENTION.format(causal="false") + EMBED + _dense(3)[0],
        "",
        "x = [[0.5, -1.0]]\nlabels = [0]",
        shape="[1, 2]",
    )
    with pytest.raises(SpecError, match=r"\[\[layers\]\] 2 \(embedding\): takes word indices"):
        parse_spec(text, "s.toml")


def test_the_cli_reports_a_bad_index_in_one_line(tmp_path: Any, capsys: Any) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SMALL.replace("x = [1, 0]", "x = [1, -1]"))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[data] x: expected word indices" in err


def test_a_sequence_loss_on_an_mlp_is_rejected() -> None:
    text = (
        '[network]\nlayers = [2, 2]\nactivations = ["identity"]\nloss = "temporal_cross_entropy"'
        "\n[parameters]\nW1 = [[1, 0], [0, 1]]\nb1 = [0, 0]\n[data]\nx = [1, 2]\ny = [0, 1]\n"
    )
    with pytest.raises(SpecError, match=r"is per time step for temporal_cross_entropy"):
        parse_spec(text, "s.toml")


# --- the NumPy reference on its own, against finite differences -----------------------------


def _numeric(f: Any, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[index] = h
        grad[index] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("causal", [False, True])
def test_reference_attention_matches_finite_differences(causal: bool) -> None:
    rng = np.random.default_rng(1)
    x, dout = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 3, 2))
    ws = [rng.normal(size=(2, 2)) for _ in range(3)]
    _, cache = reference_sequence.attention_forward(x, *ws, causal)
    grads = reference_sequence.attention_backward(dout, cache)

    def at(k: int) -> Any:
        def f(v: np.ndarray) -> float:
            args = [x, *ws]
            args[k] = v
            return float(np.sum(reference_sequence.attention_forward(*args, causal)[0] * dout))

        return f

    for k, g in enumerate(grads):
        np.testing.assert_allclose(g, _numeric(at(k), [x, *ws][k]), rtol=1e-6, atol=1e-8)


def test_reference_embedding_affine_and_loss_match_finite_differences() -> None:
    rng = np.random.default_rng(2)
    idx, table = np.array([[0, 2, 0]]), rng.normal(size=(3, 2))
    dout = rng.normal(size=(1, 3, 2))
    _, cache = reference_sequence.word_embedding_forward(idx, table)
    np.testing.assert_allclose(
        reference_sequence.word_embedding_backward(dout, cache),
        _numeric(
            lambda w: float(np.sum(reference_sequence.word_embedding_forward(idx, w)[0] * dout)),
            table,
        ),
        atol=1e-8,
    )
    x, w, b = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 4)), rng.normal(size=4)
    up = rng.normal(size=(2, 3, 4))
    _, cache = reference_sequence.temporal_affine_forward(x, w, b)
    dx, dw, db = reference_sequence.temporal_affine_backward(up, cache)
    for got, which in ((dx, 0), (dw, 1), (db, 2)):

        def f(v: np.ndarray, which: int = which) -> float:
            args = [x, w, b]
            args[which] = v
            return float(np.sum(reference_sequence.temporal_affine_forward(*args)[0] * up))

        np.testing.assert_allclose(got, _numeric(f, [x, w, b][which]), atol=1e-8)
    scores, y, mask = rng.normal(size=(2, 3, 4)), np.array([[0, 3, 1], [2, 2, 0]]), np.eye(2, 3)
    _, dscores = reference_sequence.temporal_softmax_loss(scores, y, mask)
    np.testing.assert_allclose(
        dscores,
        _numeric(lambda s: reference_sequence.temporal_softmax_loss(s, y, mask)[0], scores),
        atol=1e-8,
    )


# --- random small sequence networks: symbolic = reference = finite differences -------------


@st.composite
def _networks(draw: Any) -> str:
    steps, vocabulary = draw(st.integers(1, 3)), draw(st.integers(2, 3))
    dim, classes = draw(st.integers(1, 2)), draw(st.integers(2, 3))
    attention, causal = draw(st.booleans()), draw(st.booleans())
    number = st.integers(-8, 8).map(lambda k: k / 8)

    def array(*shape: int) -> list[Any]:
        if len(shape) == 1:
            return [draw(number) for _ in range(shape[0])]
        return [array(*shape[1:]) for _ in range(shape[0])]

    layers = f'[[layers]]\ntype = "embedding"\nvocabulary = {vocabulary}\ndim = {dim}\n\n'
    params = f"We1 = {array(vocabulary, dim)}\n"
    n = 2
    if attention:
        layers += ATTENTION.format(causal=str(causal).lower()).replace("dim = 2", f"dim = {dim}")
        params += "".join(f"{w}2 = {array(dim, dim)}\n" for w in ("Wq", "Wk", "Wv"))
        n = 3
    layers += f'[[layers]]\ntype = "temporal_dense"\nunits = {classes}\n'
    params += f"W{n} = {array(dim, classes)}\nb{n} = {array(classes)}\n"
    index = st.integers(0, vocabulary - 1)
    x = [draw(index) for _ in range(steps)]
    labels = [draw(st.integers(0, classes - 1)) for _ in range(steps)]
    mask = [1] + [draw(st.integers(0, 1)) for _ in range(steps - 1)]
    data = f"x = {x}\nlabels = {labels}\nmask = {mask}"
    return _spec(layers, params, data, shape=f"[{steps}]")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_networks())
def test_random_sequence_networks_agree_with_every_oracle(text: str) -> None:
    report = check(parse_spec(text, "random.toml"), random_points=1)
    assert report.ok, text + report.to_text()


def test_a_mask_needs_a_sequence_loss() -> None:
    text = (
        '[network]\ninput = [2]\nloss = "squared_error"\n\n[[layers]]\ntype = "dense"\n'
        'units = 1\n\n[[layers]]\ntype = "dense"\nunits = 1\n\n'
        "[parameters]\nW1 = [[1, 2]]\nb1 = [0]\nW2 = [[1]]\nb2 = [0]\n"
        "[data]\nx = [1, 2]\ny = [1]\nmask = [1]\n"
    )
    with pytest.raises(SpecError, match=r"\[data\] mask: unknown key|\[data\] mask: only for"):
        parse_spec(text, "s.toml")


# --- check-layer: the drawn points and the staged exact side --------------------------------


def test_the_staged_exact_attention_equals_the_closed_form() -> None:
    """The attention kind's exact side, evaluated one stage at a time, equals the closed form."""
    from dataclasses import replace

    from symbackprop.layercheck.exact import build, evaluate
    from symbackprop.layercheck.kinds import lookup
    from symbackprop.layercheck.points import draw_points

    staged = lookup("attention")
    closed = replace(staged, staged=None)
    sizes = {"N": (1,), "T": (2,), "D": (2,), "d": (1,), "causal": (1,)}
    exact = build(staged, sizes)
    [point] = draw_points(staged, sizes, exact, 1, seed=3)
    a, b = evaluate(exact, point.exact), evaluate(build(closed, sizes), point.exact)
    for key in a:
        for index in np.ndindex(*a[key].shape):
            assert abs(a[key][index] - b[key][index]) < 1e-50, key


def test_drawn_words_repeat_and_the_mask_is_in_the_targets() -> None:
    from symbackprop.layercheck.exact import build
    from symbackprop.layercheck.kinds import lookup
    from symbackprop.layercheck.points import draw_points
    from symbackprop.layercheck.sizes import parse_shape

    kind = lookup("word_embedding")
    sizes = parse_shape(kind, None)
    for point in draw_points(kind, sizes, build(kind, sizes), 3, seed=0):
        x = point.arrays["x"]
        assert x.reshape(-1)[-1] == x.reshape(-1)[0]
        assert np.array_equal(np.argmax(np.array(point.exact["onehot"], dtype=int), -1), x)
    kind = lookup("temporal_softmax_loss")
    sizes = parse_shape(kind, None)
    for point in draw_points(kind, sizes, build(kind, sizes), 3, seed=0):
        t = np.array(point.exact["t"], dtype=int)
        mask, y = point.arrays["mask"], point.arrays["y"]
        assert np.array_equal(t.sum(-1), mask.astype(int))
        assert all(t[i][y[i]] == 1 for i in np.ndindex(*y.shape) if mask[i])


def _user_backprop(assign: bool) -> Any:
    """A CS231n-style backprop of embedding -> temporal_dense -> temporal_cross_entropy."""

    def backprop(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> Any:
        words, labels, mask = x.astype(int), y.argmax(-1), y.sum(-1) > 0
        emb = params["We1"][words]
        scores = emb @ params["W2"] + params["b2"]
        p = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
        dscores = (p - np.eye(p.shape[-1])[labels]) * mask[..., None] / x.shape[0]
        dwe = np.zeros_like(params["We1"])
        if assign:
            dwe[words] = dscores @ params["W2"].T
        else:
            np.add.at(dwe, words, dscores @ params["W2"].T)
        w2 = np.einsum("ntd,ntm->dm", emb, dscores)
        return {"We1": dwe, "W2": w2, "b2": dscores.sum(axis=(0, 1))}

    return backprop


def test_a_users_sequence_backprop_is_checked() -> None:
    spec = parse_spec(SPECS["embedding-dense"], "s.toml")
    assert check(spec, backprop=_user_backprop(False), random_points=1).ok
    wrong = check(spec, backprop=_user_backprop(True), random_points=1)
    assert not wrong.ok
    assert all(c.ok for c in wrong.comparisons if c.name != "exact vs user backprop")
