"""batchnorm, layernorm and dropout: proofs, every oracle, spec errors, rendering, an example.

The textbook forms are proven equal to the chain rule for abstract symbols (and wrong ones are
not); ``check`` compares the exact gradients with the lambdified ones, the NumPy reference
(:mod:`symbackprop.reference_norm`) and finite differences; the published example's numbers
are reproduced to their printed precision.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy import Add, Integer, Rational, Symbol, expand
from test_examples import EXAMPLES, Published, matrix_cases

from symbackprop import check, derive, parse_spec, reference_norm
from symbackprop.chain import reverse
from symbackprop.cli import main
from symbackprop.layers import LAYERS
from symbackprop.layers.normalization import EPS, BatchNorm
from symbackprop.proofs import _proof
from symbackprop.stack_derivation import StackDerivation

BN = (("eps", EPS), ("unbiased", False))
BN_UNBIASED = (("eps", Rational(1, 1000)), ("unbiased", True))
LN = (("eps", EPS),)
DROP = (("mask", ((1, 0, 1), (0, 1, 1))), ("p", Rational(4, 5)))
DROP_MAPS = (("mask", ((((1, 0), (1, 1)),), (((0, 1), (1, 0)),))), ("p", Rational(1, 2)))


# --- the textbook forms, proven --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "config", "shape", "samples"),
    [
        pytest.param("batchnorm", BN, (3,), 4, id="batchnorm 4x3"),
        pytest.param("batchnorm", BN, (1,), 2, id="batchnorm 2x1"),
        pytest.param("batchnorm", BN_UNBIASED, (2,), 3, id="batchnorm unbiased 3x2"),
        pytest.param("batchnorm", BN, (2, 2, 2), 2, id="spatial batchnorm 2x2x2x2"),
        pytest.param("batchnorm", BN_UNBIASED, (1, 2, 3), 1, id="spatial unbiased 1 sample"),
        pytest.param("layernorm", LN, (4,), 1, id="layernorm 4"),
        pytest.param("layernorm", LN, (2, 2, 2), 1, id="layernorm maps"),
        pytest.param("dropout", DROP, (3,), 2, id="dropout 2x3"),
        pytest.param("dropout", DROP_MAPS, (1, 2, 2), 2, id="dropout maps"),
    ],
)
def test_the_textbook_form_equals_the_chain_rule(
    kind: str, config: Any, shape: tuple[int, ...], samples: int
) -> None:
    assert _proof(kind, config, shape, samples)


def _without_gamma(self: Any, config: Any, xs: Any, params: Any, ups: Any, cache: Any) -> Any:
    """Knet.jl #288: gamma dropped from dx (gamma = 1 would hide it)."""
    ones = {**params, "gamma": np.array([Integer(1)] * len(params["gamma"]), dtype=object)}
    dxs, _ = ORIGINAL(self, config, xs, ones, ups, cache)
    return dxs, ORIGINAL(self, config, xs, params, ups, cache)[1]


def _biased_backward(self: Any, config: Any, xs: Any, params: Any, ups: Any, cache: Any) -> Any:
    """n - 1 in the forward pass but n in the backward pass."""
    return ORIGINAL(self, {**config, "unbiased": False}, xs, params, ups, cache)


ORIGINAL = BatchNorm.textbook_batch


@pytest.mark.parametrize("wrong", [_without_gamma, _biased_backward])
def test_a_wrong_batchnorm_form_is_not_proven(wrong: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BatchNorm, "textbook_batch", wrong)
    _proof.cache_clear()
    try:
        assert not _proof("batchnorm", BN_UNBIASED, (2,), 3)
    finally:
        _proof.cache_clear()


def test_dropout_without_the_scale_is_not_proven(monkeypatch: pytest.MonkeyPatch) -> None:
    kind = LAYERS["dropout"]
    original = type(kind).textbook_batch

    def unscaled(self: Any, config: Any, *args: Any) -> Any:
        return original(self, {**config, "p": Integer(1)}, *args)

    monkeypatch.setattr(type(kind), "textbook_batch", unscaled)
    _proof.cache_clear()
    try:
        assert not _proof("dropout", DROP, (3,), 2)
    finally:
        _proof.cache_clear()


# --- specs, checked by every oracle ----------------------------------------------------------


def _spec(layers: str, params: str, x: str, target: str, shape: str = "[3]") -> str:
    return (
        f'[network]\ninput = {shape}\nloss = "cross_entropy"\n\n{layers}\n'
        f"[parameters]\n{params}\n[data]\nx = {x}\n{target}\n"
    )


DENSE_OUT = '[[layers]]\ntype = "dense"\nunits = 2\nactivation = "softmax"\n'
W_OUT = "W{n} = [[0.1, 0.2, -0.3], [0.4, -0.5, 0.6]]\nb{n} = [0.0, 0.1]\n"
X4 = "[[1.0, 2.0, 0.5], [0.0, -1.0, 1.5], [2.0, 0.5, -0.5], [0.3, 0.2, 0.1]]"
LABELS4 = "labels = [0, 1, 1, 0]"

BATCHNORM = _spec(
    '[[layers]]\ntype = "batchnorm"\n\n' + DENSE_OUT,
    "gamma1 = [1.0, 0.5, 2.0]\nbeta1 = [0.0, 0.1, -0.2]\n" + W_OUT.format(n=2),
    X4,
    LABELS4,
)
UNBIASED = _spec(
    '[[layers]]\ntype = "dense"\nunits = 3\n\n'
    '[[layers]]\ntype = "batchnorm"\nunbiased = true\neps = 0.001\nactivation = "tanh"\n\n'
    + DENSE_OUT,
    "W1 = [[0.5, -0.2, 0.1], [0.3, 0.8, -0.4], [-0.6, 0.2, 0.9]]\nb1 = [0.1, 0.0, -0.1]\n"
    "gamma2 = [1.5, 0.7, 1.0]\nbeta2 = [0.2, -0.1, 0.0]\n" + W_OUT.format(n=3),
    X4,
    LABELS4,
)
SPATIAL = _spec(
    '[[layers]]\ntype = "conv2d"\nfilters = 2\nkernel = 2\n\n'
    '[[layers]]\ntype = "batchnorm"\nactivation = "relu"\n\n'
    '[[layers]]\ntype = "flatten"\n\n'
    '[[layers]]\ntype = "dense"\nunits = 2\nactivation = "softmax"\n',
    "W1 = [[[[0.2, -0.1], [0.4, 0.3]]], [[[-0.3, 0.5], [0.1, -0.2]]]]\nb1 = [0.0, 0.1]\n"
    "gamma2 = [1.2, 0.8]\nbeta2 = [0.1, -0.1]\n"
    "W3 = [[0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.2, 0.1], [0.3, 0.1, -0.4, 0.2, 0.5, -0.1, 0.0, 0.2]]\n"
    "b3 = [0.0, 0.0]\n",
    "[[[[1.0, 0.5, -0.5], [0.2, 0.3, 0.9], [-1.0, 0.4, 0.7]]], "
    "[[[0.1, -0.2, 0.6], [0.8, -0.7, 0.3], [0.5, 0.2, -0.4]]]]",
    "labels = [0, 1]",
    "[1, 3, 3]",
)
LAYERNORM = _spec(
    '[[layers]]\ntype = "layernorm"\neps = 0.01\n\n' + DENSE_OUT,
    "gamma1 = [1.0, 0.5, 2.0]\nbeta1 = [0.0, 0.1, -0.2]\n" + W_OUT.format(n=2),
    "[[1.0, 2.0, 0.5], [0.0, -1.0, 1.5]]",
    "labels = [0, 1]",
)
DROPOUT = _spec(
    '[[layers]]\ntype = "dense"\nunits = 3\nactivation = "relu"\n\n'
    '[[layers]]\ntype = "dropout"\np = 0.8\nmask = [[1, 0, 1], [0, 1, 1]]\n\n' + DENSE_OUT,
    "W1 = [[0.5, -0.2, 0.1], [0.3, 0.8, -0.4], [-0.6, 0.2, 0.9]]\nb1 = [0.1, 0.2, 0.3]\n"
    + W_OUT.format(n=2),
    "[[1.0, 2.0, 0.5], [0.0, -1.0, 1.5]]",
    "labels = [0, 1]",
)
SPECS = {
    "batchnorm": BATCHNORM,
    "unbiased": UNBIASED,
    "spatial": SPATIAL,
    "layernorm": LAYERNORM,
    "dropout": DROPOUT,
}


@pytest.mark.parametrize("name", SPECS)
def test_check_passes_every_oracle(name: str) -> None:
    report = check(parse_spec(SPECS[name], f"{name}.toml"), random_points=2)
    assert report.ok, report.to_text()
    assert {c.name for c in report.comparisons} == {
        "exact vs lambdified",
        "exact vs reference backprop",
        "exact vs finite differences",
    }


@pytest.mark.parametrize("name", SPECS)
def test_derive_proves_every_layer(name: str) -> None:
    d = derive(parse_spec(SPECS[name], f"{name}.toml"))
    assert isinstance(d, StackDerivation)
    assert all(d.proofs.values()), d.proofs


def test_a_single_sample_reference_gradient_is_wrong_when_the_batch_mixes() -> None:
    """The oracles can fail: the reference with each sample alone disagrees with the batch."""
    spec = parse_spec(BATCHNORM, "bn.toml")
    d = derive(spec)
    from symbackprop.checking.stack import _layer_dicts
    from symbackprop.reference_layers import backprop

    x = np.array(spec.x, dtype=np.float64)
    params = {k: np.array(v, dtype=np.float64) for k, v in spec.parameters.items()}
    y = np.array(spec.y, dtype=np.float64)
    batch = backprop(_layer_dicts(spec), params, x, y)
    exact = np.array(d.gradients["gamma1"], dtype=np.float64)
    np.testing.assert_allclose(batch["gamma1"], exact, rtol=1e-12)
    halves = [backprop(_layer_dicts(spec), params, x[k : k + 2], y[k : k + 2]) for k in (0, 2)]
    assert not np.allclose((halves[0]["gamma1"] + halves[1]["gamma1"]) / 2, exact)


# --- the NumPy reference on its own, against finite differences -----------------------------


def _numeric(f: Any, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[index] = h
        grad[index] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("shape", [(4, 3), (2, 2, 2, 3)], ids=["vectors", "maps"])
@pytest.mark.parametrize("unbiased", [False, True])
def test_reference_batchnorm_matches_finite_differences(
    shape: tuple[int, ...], unbiased: bool
) -> None:
    rng = np.random.default_rng(3)
    x, dout = rng.normal(size=shape), rng.normal(size=shape)
    gamma, beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])

    def loss(x: np.ndarray, g: np.ndarray = gamma, b: np.ndarray = beta) -> float:
        return float(np.sum(reference_norm.batchnorm_forward(x, g, b, 1e-5, unbiased)[0] * dout))

    _, cache = reference_norm.batchnorm_forward(x, gamma, beta, 1e-5, unbiased)
    dx, dgamma, dbeta = reference_norm.batchnorm_backward(dout, cache)
    np.testing.assert_allclose(dx, _numeric(loss, x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dgamma, _numeric(lambda g: loss(x, g), gamma), rtol=1e-5)
    np.testing.assert_allclose(dbeta, _numeric(lambda b: loss(x, gamma, b), beta), rtol=1e-5)


def test_reference_layernorm_and_dropout_match_finite_differences() -> None:
    rng = np.random.default_rng(4)
    x, dout = rng.normal(size=(3, 2, 2)), rng.normal(size=(3, 2, 2))
    gamma, beta = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))

    def loss(x: np.ndarray, g: np.ndarray = gamma) -> float:
        return float(np.sum(reference_norm.layernorm_forward(x, g, beta, 1e-3)[0] * dout))

    dx, dgamma, dbeta = reference_norm.layernorm_backward(
        dout, reference_norm.layernorm_forward(x, gamma, beta, 1e-3)[1]
    )
    np.testing.assert_allclose(dx, _numeric(loss, x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dgamma, _numeric(lambda g: loss(x, g), gamma), rtol=1e-5)
    np.testing.assert_allclose(dbeta, dout.sum(axis=0))
    mask = (rng.uniform(size=x.shape) < 0.5).astype(float)
    out, cache = reference_norm.dropout_forward(x, 0.5, mask)
    np.testing.assert_array_equal(out, 2 * x * mask)
    np.testing.assert_array_equal(reference_norm.dropout_backward(dout, cache), 2 * dout * mask)


# --- spec errors: one line, exit status 2, naming the file, the layer and the key -------------


def _bad(layers: str, params: str = "", x: str = X4, target: str = LABELS4) -> str:
    return _spec(layers + "\n" + DENSE_OUT, params + W_OUT.format(n=2), x, target)


BN_PARAMS = "gamma1 = [1, 1, 1]\nbeta1 = [0, 0, 0]\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _bad('[[layers]]\ntype = "batchnorm"', BN_PARAMS, "[1.0, 2.0, 0.5]", "label = 0"),
            "[[layers]] 1 (batchnorm): batch statistics need a batch: give [data] x as a list of "
            "at least 2 samples, got 1",
        ),
        (
            _bad('[[layers]]\ntype = "batchnorm"\neps = -0.1', BN_PARAMS),
            "[[layers]] 1 (batchnorm) eps: expected a number > 0, got -1/10",
        ),
        (
            _bad('[[layers]]\ntype = "batchnorm"\nunbiased = "yes"', BN_PARAMS),
            "[[layers]] 1 (batchnorm) unbiased: expected true or false, got string 'yes'",
        ),
        (
            _bad('[[layers]]\ntype = "batchnorm"\nmomentum = 0.9', BN_PARAMS),
            "[[layers]] 1 (batchnorm) momentum: unknown key; expected one of: type, activation, "
            "eps, unbiased",
        ),
        (
            _bad('[[layers]]\ntype = "batchnorm"', "gamma1 = [1, 1]\nbeta1 = [0, 0, 0]\n"),
            "[parameters] gamma1: expected an array of shape (3,): 3 entries here, got 2 entries",
        ),
        (
            _bad('[[layers]]\ntype = "dropout"\np = 0.5\nmask = [[1, 0, 1], [1, 1, 1]]'),
            "[[layers]] 1 (dropout) mask: expected an array of shape (4, 3): 4 entries here, "
            "got 2 entries",
        ),
        (
            _bad(
                '[[layers]]\ntype = "dropout"\np = 0.5\nmask = [[1, 0, 1], [1, 1], [1, 1, 1], [0, 0, 0]]'
            ),
            "[[layers]] 1 (dropout) mask[1]: expected an array of shape (4, 3): 3 entries here, "
            "got 2 entries",
        ),
        (
            _bad(
                '[[layers]]\ntype = "dropout"\np = 0.5\nmask = [[1, 0, 1], [1, 2, 1], [1, 1, 1], [0, 0, 0]]'
            ),
            "[[layers]] 1 (dropout) mask[1][1]: expected 0 or 1, got 2",
        ),
        (
            _bad(
                '[[layers]]\ntype = "dropout"\np = 0\nmask = [[1, 0, 1], [1, 1, 1], [1, 1, 1], [0, 0, 0]]'
            ),
            "[[layers]] 1 (dropout) p: expected a keep probability with 0 < p <= 1, got 0",
        ),
        (
            _bad(
                '[[layers]]\ntype = "dropout"\nmask = [[1, 0, 1], [1, 1, 1], [1, 1, 1], [0, 0, 0]]'
            ),
            "[[layers]] 1 (dropout) p: missing key",
        ),
    ],
)
def test_a_bad_spec_is_one_line_naming_file_layer_and_key(
    text: str, message: str, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "net.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"symbackprop: error: {path}: {message}\n"


# --- rendering ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "latex", "markdown", "mathml", "html"])
def test_every_format_renders_a_batchnorm_stack(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / "bn.toml"
    path.write_text(BATCHNORM, encoding="utf-8")
    out = tmp_path / f"out.{fmt}"
    assert main(["derive", str(path), "--format", fmt, "-o", str(out)]) == 0
    text = out.read_text("utf-8")
    if fmt == "json":
        document = json.loads(text)
        assert document["network"]["layers"][0]["options"] == {
            "eps": "1/100000",
            "unbiased": False,
        }
        assert {"mu^(1)_1", "sigma2^(1)_1", "xhat^(1)_1,1"} <= set(document["forward"])
    elif fmt in ("latex", "markdown"):
        for tex in (
            r"\mu^{(1)}_{1}",
            r"{\sigma^{(1)}_{1}}^{2}",
            r"\hat{x}^{(1)}_{1,1}",
            r"\gamma^{(1)}_{1}",
        ):
            assert tex in text, tex
    elif fmt in ("mathml", "html"):
        assert "<mi>μ</mi>" in text and "<mi>σ</mi>" in text and "<mi>γ</mi>" in text


def test_the_stages_come_one_named_intermediate_at_a_time() -> None:
    d = derive(parse_spec(BATCHNORM, "bn.toml"))
    assert isinstance(d, StackDerivation)
    stems = [stage[0].name.split("_")[0] for stage in d.graph.stages[:4]]
    assert stems == ["mu^(1)", "sigma2^(1)", "xhat^(1)", "z^(1)"]
    mu = d.values[Symbol("mu^(1)_1")]
    assert mu == Rational(33, 40)  # (1 + 0 + 2 + 0.3) / 4


# --- the published example -------------------------------------------------------------------

ALEX = "alexkode-batch-normalization"


@cache
def _alex() -> StackDerivation:
    d = derive(EXAMPLES / f"{ALEX}.toml")
    assert isinstance(d, StackDerivation)
    return d


@cache
def _alex_with_ones() -> dict[Symbol, Any]:
    """The source's dout = ones: the chain rule of J = sum(out) over the layer, exactly."""
    d = _alex()
    outputs = [s for out in d.graph.outputs[1] for s in out.ravel()]
    layer = {s: e for s, e in d.graph.definitions.items() if d.graph.positions.get(s) == 1}
    loss = Symbol("L")
    wrt = [*d.graph.parameters["gamma1"], *d.graph.parameters["beta1"]]
    wrt += [s for x in d.graph.inputs for s in x.ravel()]
    adjoints = reverse({**layer, loss: Add(*outputs)}, loss, wrt)
    values = dict(d.values)  # the forward values; the adjoints are overwritten, in order
    for symbol, expr in adjoints.definitions.items():
        values[symbol] = expr.xreplace(values)
    return {s: expand(g.xreplace(values)) for s, g in adjoints.parameters.items()}


ALEX_OUT = [["-1.2247", "-1.2247"], ["0", "0"], ["1.2247", "1.2247"]]
ALEX_NUMBERS = [
    *matrix_cases(
        "out",
        lambda i, j: lambda: _alex().values[_alex().graph.outputs[1][i][j]],
        ALEX_OUT,
    ),
    *[
        Published(
            f"dgamma[{c}]",
            lambda c=c: _alex_with_ones()[_alex().graph.parameters["gamma1"][c]],
            "0",
        )
        for c in range(2)
    ],
    *[
        Published(
            f"dbeta[{c}]", lambda c=c: _alex_with_ones()[_alex().graph.parameters["beta1"][c]], "3"
        )
        for c in range(2)
    ],
    *matrix_cases(
        "dx",
        lambda i, j: lambda: _alex_with_ones()[_alex().graph.inputs[i][j]],
        [["0", "0"]] * 3,
    ),
]


@pytest.mark.parametrize("number", ALEX_NUMBERS, ids=lambda n: n.label)
def test_published_number(number: Published) -> None:
    number.check()


def test_the_published_dx_is_exactly_zero_and_check_passes() -> None:
    assert all(_alex_with_ones()[s] == 0 for x in _alex().graph.inputs for s in x.ravel())
    report = check(EXAMPLES / f"{ALEX}.toml")
    assert report.ok, report.to_text()


# --- property: random shapes, symbolic = reference = finite differences -----------------------

PROFILE = os.environ.get("SYMBACKPROP_HYPOTHESIS", "ci")
numbers = st.integers(-150, 150).map(lambda k: f"{k / 100:.2f}")


def _array(draw: Any, shape: tuple[int, ...]) -> Any:
    if not shape:
        return draw(numbers)
    return "[" + ", ".join(_array(draw, shape[1:]) for _ in range(shape[0])) + "]"


@st.composite
def norm_stacks(draw: Any) -> str:
    kind = draw(st.sampled_from(["batchnorm", "layernorm", "dropout"]))
    maps = draw(st.booleans())
    shape = (draw(st.integers(1, 2)), 2, 2) if maps else (draw(st.integers(2, 3)),)
    samples = draw(st.integers(2, 3))
    table, params = f'[[layers]]\ntype = "{kind}"\n', ""
    if kind == "batchnorm":
        table += f"unbiased = {draw(st.sampled_from(['true', 'false']))}\n"
    if kind in ("batchnorm", "layernorm"):
        stat = (shape[0],) if kind == "batchnorm" else shape
        params = f"gamma1 = {_array(draw, stat)}\nbeta1 = {_array(draw, stat)}\n"
    else:
        bits = st.sampled_from(["0", "1"])
        mask = "[" + ", ".join(_bits(draw, bits, shape) for _ in range(samples)) + "]"
        table += f"p = {draw(st.sampled_from(['0.5', '0.8', '1']))}\nmask = {mask}\n"
    act = draw(st.sampled_from([None, "tanh", "sigmoid"]))
    table += f'activation = "{act}"\n' if act else ""
    flatten = '[[layers]]\ntype = "flatten"\n\n' if maps else ""
    width = int(np.prod(shape))
    number = 2 if params else 1
    params += f"W{number} = {_array(draw, (2, width))}\nb{number} = {_array(draw, (2,))}\n"
    x = "[" + ", ".join(_array(draw, shape) for _ in range(samples)) + "]"
    labels = [draw(st.integers(0, 1)) for _ in range(samples)]
    return _spec(
        f"{table}\n{flatten}{DENSE_OUT}", params, x, f"labels = {labels}", str(list(shape))
    )


def _bits(draw: Any, bits: Any, shape: tuple[int, ...]) -> str:
    if not shape:
        return draw(bits)
    return "[" + ", ".join(_bits(draw, bits, shape[1:]) for _ in range(shape[0])) + "]"


@settings(
    max_examples={"ci": 6, "explore": 100}[PROFILE],
    deadline=None,
    derandomize=PROFILE == "ci",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(norm_stacks())
def test_random_norm_stacks_agree_with_every_oracle(text: str) -> None:
    report = check(parse_spec(text, "random stack"), random_points=1)
    assert report.ok, text + report.to_text()
