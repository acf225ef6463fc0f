"""The published worked examples in examples/, reproduced to every digit they print.

Each spec cites its source in a comment and lists the published numbers. Every number is
checked here against the exact value at the precision it was printed with (half a unit in its
last digit). Where the source is wrong, the spec's comment says why, and the test asserts the
correct value and that the published one is off at its own precision.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sympy import Expr, ImmutableMatrix, Rational, exp, log

from symbackprop import Derivation, derive, notation, reference
from symbackprop.cli import main
from symbackprop.spec import Training

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# --- exact values and how they were printed ---------------------------------------------------


def exact_decimal(value: Expr, digits: int = 40) -> Decimal:
    """``value`` to ``digits`` certified significant digits."""
    return Decimal(str(value.evalf(digits, strict=True))) if value != 0 else Decimal(0)


def rounds_to(value: Expr, published: str) -> bool:
    """Whether ``value`` is within half a unit of the last digit of ``published``."""
    target = Decimal(published)
    half_unit = Decimal(5).scaleb(int(target.as_tuple().exponent) - 1)
    return abs(exact_decimal(value) - target) <= half_unit


def float64_agrees(value: Expr, published: str) -> bool:
    """A float64 repr (16-17 digits) is trusted to 14 significant digits.

    Its last digits are binary round-off of the source's own arithmetic, not information.
    """
    target = Decimal(published)
    return abs(exact_decimal(value) - target) <= abs(target) * Decimal("1e-14")


@dataclass(frozen=True)
class Published:
    """One number a source printed, how to get it from a derivation, and its verdict.

    ``correct`` is set where the source is wrong: the value it should have printed.
    """

    label: str
    get: Callable[[], Expr]
    text: str
    float64: bool = False
    correct: str | None = None

    def check(self) -> None:
        value = self.get()
        shown = exact_decimal(value, 20)
        if self.correct is None:
            agrees = float64_agrees if self.float64 else rounds_to
            assert agrees(value, self.text), f"{self.label}: published {self.text}, exact {shown}"
        else:
            assert rounds_to(value, self.correct), f"{self.label}: exact {shown}"
            assert not rounds_to(value, self.text), f"{self.label}: {self.text} is right after all"


@cache
def example(name: str) -> Derivation:
    return derive(EXAMPLES / f"{name}.toml")


def _rational(value: Expr) -> Rational:
    """40 significant digits of ``value`` as an exact rational (error < 1e-39 relative)."""
    return Rational(str(value.evalf(40, strict=True)))


@cache
def stepped(name: str, learning_rate: Rational) -> Derivation:
    """The example with another learning rate for its step."""
    return derive(dataclasses.replace(example(name).spec, training=Training(learning_rate)))


@cache
def after_step(name: str) -> Derivation:
    """The example's network after its gradient-descent step (parameters to 40 digits)."""
    spec = example(name).spec
    updated = example(name).updated
    assert updated is not None
    weights = tuple(updated[f"W{l + 1}"].applyfunc(_rational) for l in range(spec.depth))
    biases = (
        None
        if spec.biases is None
        else tuple(updated[f"b{l + 1}"].applyfunc(_rational) for l in range(spec.depth))
    )
    return derive(dataclasses.replace(spec, weights=weights, biases=biases, training=None))


def forward(name: str, key: str, *index: int) -> Callable[[], Expr]:
    return lambda: example(name).values.forward[key][index]


def gradient(name: str, key: str, *index: int) -> Callable[[], Expr]:
    return lambda: example(name).values.gradients[key][index]


def delta(name: str, layer: int, *index: int) -> Callable[[], Expr]:
    """delta^(layer) = dJ/dz^(layer), 1-based layer."""
    return lambda: example(name).values.deltas[layer - 1][index]


def updated(name: str, key: str, *index: int) -> Callable[[], Expr]:
    return lambda: example(name).updated[key][index]  # type: ignore[index]


def updated_at(name: str, rate: Rational, key: str, *index: int) -> Callable[[], Expr]:
    return lambda: stepped(name, rate).updated[key][index]  # type: ignore[index]


def after(name: str, key: str, *index: int) -> Callable[[], Expr]:
    """A forward value of the network after the example's step."""
    return lambda: after_step(name).values.forward[key][index]


def sample_loss(derivation: Derivation, sample: int) -> Expr:
    return derivation.values.symbols[notation.sample_loss(sample)]


def matrix_cases(
    label: str, get: Callable[[int, int], Callable[[], Expr]], rows: list[list[str]]
) -> list[Published]:
    return [
        Published(f"{label}[{i},{j}]", get(i, j), text)
        for i, row in enumerate(rows)
        for j, text in enumerate(row)
    ]


# --- Mazur: sigmoid, 1/2 squared error, shared biases, one step ------------------------------

MAZUR = "mazur-step-by-step"


def _mazur_target(k: int) -> Expr:
    return example(MAZUR).spec.y[k, 0]


def _mazur_yhat(k: int) -> Expr:
    return example(MAZUR).values.forward["yhat"][k, 0]


def _mazur_d_output_d_hidden(output: int) -> Expr:
    """dE_o/dout_h1 = delta_o * w(h1 -> o)."""
    return example(MAZUR).values.deltas[1][output, 0] * example(MAZUR).spec.weights[1][output, 0]


MAZUR_NUMBERS = [
    Published("net_h1", forward(MAZUR, "z1", 0, 0), "0.3775"),
    Published("out_h1", forward(MAZUR, "a1", 0, 0), "0.593269992"),
    Published("out_h2", forward(MAZUR, "a1", 1, 0), "0.596884378"),
    Published("net_o1", forward(MAZUR, "z2", 0, 0), "1.105905967"),
    Published("out_o1", forward(MAZUR, "yhat", 0, 0), "0.75136507"),
    Published("out_o2", forward(MAZUR, "yhat", 1, 0), "0.772928465"),
    Published("E_o1", lambda: (_mazur_target(0) - _mazur_yhat(0)) ** 2 / 2, "0.274811083"),
    Published("E_o2", lambda: (_mazur_target(1) - _mazur_yhat(1)) ** 2 / 2, "0.023560026"),
    Published("E_total", forward(MAZUR, "loss", 0, 0), "0.298371109"),
    Published("dE/dout_o1", lambda: _mazur_yhat(0) - _mazur_target(0), "0.74136507"),
    Published("dout_o1/dnet_o1", lambda: _mazur_yhat(0) * (1 - _mazur_yhat(0)), "0.186815602"),
    Published("dE/dw5", gradient(MAZUR, "W2", 0, 0), "0.082167041"),
    Published("delta_o1", delta(MAZUR, 2, 0, 0), "0.138498562"),
    Published("dE_o1/dout_h1", lambda: _mazur_d_output_d_hidden(0), "0.055399425"),
    # a rounded intermediate: delta_o2 rounded to -0.038098237, times 0.50, rounded up
    Published(
        "dE_o2/dout_h1",
        lambda: _mazur_d_output_d_hidden(1),
        "-0.019049119",
        correct="-0.019049118",
    ),
    Published(
        "dE/dout_h1",
        lambda: _mazur_d_output_d_hidden(0) + _mazur_d_output_d_hidden(1),
        "0.036350306",
    ),
    Published(
        "dout_h1/dnet_h1",
        lambda: (
            example(MAZUR).values.forward["a1"][0, 0]
            * (1 - example(MAZUR).values.forward["a1"][0, 0])
        ),
        "0.241300709",
    ),
    Published("dE/dw1", gradient(MAZUR, "W1", 0, 0), "0.000438568"),
    *matrix_cases(
        "updated W1",
        lambda i, j: updated(MAZUR, "W1", i, j),
        [["0.149780716", "0.19956143"], ["0.24975114", "0.29950229"]],
    ),
    *matrix_cases(
        "updated W2",
        lambda i, j: updated(MAZUR, "W2", i, j),
        [["0.35891648", "0.408666186"], ["0.511301270", "0.561370121"]],
    ),
    Published(
        "E_total after one step",
        after(MAZUR, "loss", 0, 0),
        "0.291027924",
        correct="0.291027774",
    ),
]


# --- Schiendorfer: no biases, plain squared error, a summed batch, one step ------------------

SCHIENDORFER = "schiendorfer-worked-example"
SCHIENDORFER_STEP = "schiendorfer-worked-example-step"


def _schiendorfer_error(k: int) -> Expr:
    d = example(SCHIENDORFER)
    return d.values.forward["yhat"][k, 0] - d.spec.y[k, 0]


def _schiendorfer_hidden_gradient(unit: int) -> Expr:
    """grad_h_out = W2^T delta^(2): dL/dh for hidden unit ``unit``."""
    d = example(SCHIENDORFER)
    return (d.spec.weights[1].T * d.values.deltas[1])[unit, 0]


@cache
def _schiendorfer_tweaked() -> Derivation:
    """The post's intuitive tweak of the output weights: (v11, v12, v21, v22) = (2, -2.5, 0.3, 1.5)."""
    spec = example(SCHIENDORFER).spec
    w2 = ImmutableMatrix([[2, Rational(3, 10)], [Rational(-5, 2), Rational(3, 2)]])
    return derive(dataclasses.replace(spec, weights=(spec.weights[0], w2)))


def _float64(label: str, get: Callable[[], Expr], text: str) -> Published:
    return Published(label, get, text, float64=True)


SCHIENDORFER_NUMBERS = [
    _float64("h1_out", forward(SCHIENDORFER, "a1", 0, 0), "0.9999998874648379"),
    Published("y1_out (prose)", forward(SCHIENDORFER, "yhat", 0, 0), "0.7319"),
    Published("Y[0,0]", forward(SCHIENDORFER, "yhat", 0, 0), "0.73194171"),
    Published("Y[0,1]", forward(SCHIENDORFER, "yhat", 1, 0), "0.12303186"),
    _float64("sse", forward(SCHIENDORFER, "loss", 0, 0), "0.08699208259994781"),
    Published("L", forward(SCHIENDORFER, "loss", 0, 0), "0.08699208"),
    _float64("e1", lambda: _schiendorfer_error(0), "-0.2680582866305111"),
    _float64("e2", lambda: _schiendorfer_error(1), "0.12303185591001443"),
    _float64("grad_y1_out", lambda: 2 * _schiendorfer_error(0), "-0.5361165732610222"),
    _float64("grad_y2_out", lambda: 2 * _schiendorfer_error(1), "0.24606371182002887"),
    _float64("grad_y1_in", delta(SCHIENDORFER, 2, 0, 0), "-0.10518770232556676"),
    _float64("grad_y2_in", delta(SCHIENDORFER, 2, 1, 0), "0.026549048699963138"),
    Published("grad_Y_in[0,0]", delta(SCHIENDORFER, 2, 0, 0), "-0.1051877"),
    Published("grad_Y_in[0,1]", delta(SCHIENDORFER, 2, 1, 0), "0.02654905"),
    _float64("grad_v11", gradient(SCHIENDORFER, "W2", 0, 0), "-0.10518769048825163"),
    _float64("grad_v12", gradient(SCHIENDORFER, "W2", 1, 0), "0.02654904571226164"),
    _float64("grad_v21", gradient(SCHIENDORFER, "W2", 0, 1), "-0.0018919280994576303"),
    _float64("grad_v22", gradient(SCHIENDORFER, "W2", 1, 1), "0.0004775167642113309"),
    # his grad_V is our dJ/dW2 transposed
    *matrix_cases(
        "grad_V",
        lambda i, j: gradient(SCHIENDORFER, "W2", j, i),
        [["-0.10518769", "0.02654905"], ["-0.00189193", "0.00047752"]],
    ),
    _float64("grad_h1_out", lambda: _schiendorfer_hidden_gradient(0), "-0.15828579972549303"),
    _float64("grad_h2_out", lambda: _schiendorfer_hidden_gradient(1), "0.026801171818534586"),
    Published("grad_H[0,0]", lambda: _schiendorfer_hidden_gradient(0), "-0.1582858"),
    Published("grad_H[0,1]", lambda: _schiendorfer_hidden_gradient(1), "0.02680117"),
    _float64("grad_w12", gradient(SCHIENDORFER, "W1", 1, 0), "0.0014201436720081408"),
    _float64("grad_w22", gradient(SCHIENDORFER, "W1", 1, 1), "0.0004733812240027136"),
    # float64 cancellation in h1 (1 - h1) with h1 = sigmoid(16): right to 9 digits only
    Published(
        "grad_w11",
        gradient(SCHIENDORFER, "W1", 0, 0),
        "-5.34381483665323e-08",
        correct="-5.34381483557e-08",
    ),
    Published(
        "grad_w21",
        gradient(SCHIENDORFER, "W1", 0, 1),
        "-1.7812716122177433e-08",
        correct="-1.78127161186e-08",
    ),
    # ... which the 9-digit NumPy print of the same arrays hides: his grad_W is our dJ/dW1^T
    *matrix_cases(
        "grad_W",
        lambda i, j: gradient(SCHIENDORFER, "W1", j, i),
        [["-5.34381484e-08", "1.42014367e-03"], ["-1.78127161e-08", "4.73381224e-04"]],
    ),
    # the PyTorch reruns: float64 is right to the digits shown, float32 is not
    Published("torch float64 w11", gradient(SCHIENDORFER, "W1", 0, 0), "-5.3438e-08"),
    Published("torch float64 w21", gradient(SCHIENDORFER, "W1", 0, 1), "-1.7813e-08"),
    Published(
        "torch float32 w11",
        gradient(SCHIENDORFER, "W1", 0, 0),
        "-5.6607e-08",
        correct="-5.3438e-08",
    ),
    Published(
        "torch float32 w21",
        gradient(SCHIENDORFER, "W1", 0, 1),
        "-1.8869e-08",
        correct="-1.7813e-08",
    ),
    Published("torch w12", gradient(SCHIENDORFER, "W1", 1, 0), "0.0014"),
    Published("torch w22", gradient(SCHIENDORFER, "W1", 1, 1), "0.0005"),
    _float64(
        "tweaked y1_out",
        lambda: _schiendorfer_tweaked().values.forward["yhat"][0, 0],
        "0.8813624223958589",
    ),
    _float64(
        "tweaked y2_out",
        lambda: _schiendorfer_tweaked().values.forward["yhat"][1, 0],
        "0.07777132641389171",
    ),
    _float64(
        "tweaked sse",
        lambda: _schiendorfer_tweaked().values.forward["loss"][0, 0],
        "0.020123254031954686",
    ),
    # --- the batch of two and the step
    Published("initial loss #1", lambda: sample_loss(example(SCHIENDORFER_STEP), 0), "0.08699208"),
    Published("initial loss #2", lambda: sample_loss(example(SCHIENDORFER_STEP), 1), "0.33025203"),
    # his printed V (= our W2^T) is a step with alpha = 0.65, not 0.5
    *[
        Published(
            f"updated V[{i},{j}]",
            updated(SCHIENDORFER_STEP, "W2", j, i),
            printed,
            correct=correct,
        )
        for (i, j), printed, correct in [
            ((0, 0), "1.06837185", "1.05259373"),
            ((0, 1), "-2.01725687", "-2.01327451"),
            ((1, 0), "0.07134767", "0.11257513"),
            ((1, 1), "2.01595986", "2.01227682"),
        ]
    ],
    *[
        Published(
            f"V[{i},{j}] with alpha = 0.65",
            updated_at(SCHIENDORFER_STEP, Rational(13, 20), "W2", j, i),
            printed,
        )
        for (i, j), printed in [
            ((0, 0), "1.06837185"),
            ((0, 1), "-2.01725687"),
            ((1, 0), "0.07134767"),
            ((1, 1), "2.01595986"),
        ]
    ],
    *[
        Published(
            f"after the step: y{k + 1} of instance #{s + 1}",
            after(SCHIENDORFER_STEP, "yhat", k, s),
            text,
        )
        for s, row in enumerate([["0.74165987", "0.12162137"], ["0.52811432", "0.88207988"]])
        for k, text in enumerate(row)
    ],
    Published(
        "after the step: loss #1",
        lambda: sample_loss(after_step(SCHIENDORFER_STEP), 0),
        "0.08153138",
    ),
    Published(
        "after the step: loss #2",
        lambda: sample_loss(after_step(SCHIENDORFER_STEP), 1),
        "0.29280989",
    ),
]


# --- deeplearning.ai planar: tanh, sigmoid + BCE, a batch of 3, mean ------------------------

PLANAR = "deeplearning-ai-planar"

PLANAR_NUMBERS = [
    *matrix_cases(
        "Z1",
        lambda i, j: forward(PLANAR, "z1", i, j),
        [
            ["-0.00616586", "0.0020626", "0.0034962"],
            ["-0.05229879", "0.02726335", "-0.02646869"],
            ["-0.02009991", "0.00368692", "0.02884556"],
            ["0.02153007", "-0.01385322", "0.02600471"],
        ],
    ),
    *matrix_cases(
        "A1",
        lambda i, j: forward(PLANAR, "a1", i, j),
        [
            ["-0.00616578", "0.0020626", "0.00349619"],
            ["-0.05225116", "0.02725659", "-0.02646251"],
            ["-0.02009721", "0.0036869", "0.02883756"],
            ["0.02152675", "-0.01385234", "0.02599885"],
        ],
    ),
    *matrix_cases(
        "Z2",
        lambda i, j: forward(PLANAR, "z2", i, j),
        [["0.00092281", "-0.00056678", "0.00095853"]],
    ),
    *matrix_cases(
        "A2",
        lambda i, j: forward(PLANAR, "yhat", i, j),
        [["0.5002307", "0.49985831", "0.50023963"]],
    ),
    *matrix_cases(
        "dW1",
        lambda i, j: gradient(PLANAR, "W1", i, j),
        [
            ["0.00301023", "-0.00747267"],
            ["0.00257968", "-0.00641288"],
            ["-0.00156892", "0.003893"],
            ["-0.00652037", "0.01618243"],
        ],
    ),
    *matrix_cases(
        "db1",
        lambda i, j: gradient(PLANAR, "b1", i, j),
        [["0.00176201"], ["0.00150995"], ["-0.00091736"], ["-0.00381422"]],
    ),
    *matrix_cases(
        "dW2",
        lambda i, j: gradient(PLANAR, "W2", i, j),
        [["0.00078841", "0.01765429", "-0.00084166", "-0.01022527"]],
    ),
    Published("db2", gradient(PLANAR, "b2", 0, 0), "-0.16655712"),
]


# --- CS231n toy model: ReLU, softmax + cross-entropy, labels, a batch of 5, L2 ---------------

CS231N = "cs231n-two-layer-net"

CS231N_NUMBERS = [
    # correct_scores has one row per sample: our z2 transposed
    *matrix_cases(
        "correct_scores",
        lambda s, k: forward(CS231N, "z2", k, s),
        [
            ["-0.81233741", "-1.27654624", "-0.70335995"],
            ["-0.17129677", "-1.18803311", "-0.47310444"],
            ["-0.51590475", "-1.01354314", "-0.8504215"],
            ["-0.15419291", "-0.48629638", "-0.52901952"],
            ["-0.00618733", "-0.12435261", "-0.15226949"],
        ],
    ),
    Published("correct_loss", forward(CS231N, "loss", 0, 0), "1.30378789133"),
]


# --- nn-timeline: no biases, sigmoid + BCE gives yhat - y ------------------------------------

TIMELINE = "nn-timeline-2-2-1"

TIMELINE_NUMBERS = [
    Published("d2", delta(TIMELINE, 2, 0, 0), "-0.3527"),
    Published("dW2[0]", gradient(TIMELINE, "W2", 0, 0), "-0.1852"),
    Published("dW2[1]", gradient(TIMELINE, "W2", 0, 1), "-0.2026"),
]


# --- PostNetwork: sigmoid, softmax + cross-entropy, an arithmetic slip -----------------------

POSTNETWORK = "postnetwork-softmax"

POSTNETWORK_NUMBERS = [
    Published("z(1)", forward(POSTNETWORK, "z1", 0, 0), "-0.3"),
    Published("z(2)", forward(POSTNETWORK, "z1", 1, 0), "0"),
    Published("a(1)", forward(POSTNETWORK, "a1", 0, 0), "0.426"),
    Published("a(2)", forward(POSTNETWORK, "a1", 1, 0), "0.5"),
    Published("z(3)", forward(POSTNETWORK, "z2", 0, 0), "0.428"),
    Published("z(4)", forward(POSTNETWORK, "z2", 1, 0), "0.185", correct="0.157"),
    Published("yhat_1", forward(POSTNETWORK, "yhat", 0, 0), "0.561", correct="0.567"),
    Published("yhat_2", forward(POSTNETWORK, "yhat", 1, 0), "0.439", correct="0.433"),
    Published("L", forward(POSTNETWORK, "loss", 0, 0), "0.579", correct="0.567"),
]


PUBLISHED = {
    MAZUR: MAZUR_NUMBERS,
    SCHIENDORFER: SCHIENDORFER_NUMBERS,
    PLANAR: PLANAR_NUMBERS,
    CS231N: CS231N_NUMBERS,
    TIMELINE: TIMELINE_NUMBERS,
    POSTNETWORK: POSTNETWORK_NUMBERS,
}


@pytest.mark.parametrize(
    "number",
    [
        pytest.param(number, id=f"{name}: {number.label}")
        for name, numbers in PUBLISHED.items()
        for number in numbers
    ],
)
def test_published_number(number: Published) -> None:
    number.check()


# --- the explanations in the specs' comments, checked ----------------------------------------


def test_the_example_folder_holds_six_cited_sources() -> None:
    specs = sorted(EXAMPLES.glob("*.toml"))
    sources = set()
    for path in specs:
        text = path.read_text("utf-8")
        header = text.split("\n[", 1)[0]
        assert text.startswith("# Source: "), path.name
        assert "https://" in header, path.name
        sources.add(text.splitlines()[0])
    assert len(sources) >= 6
    covered = {path.stem for path in specs}
    assert {stem for stem in PUBLISHED} <= covered
    assert SCHIENDORFER_STEP in covered


def test_the_examples_cover_what_the_issue_asks_for() -> None:
    """sigmoid + 1/2 SE; tanh + sigmoid + BCE on a batch; ReLU + softmax + CE; no biases; L2."""
    specs = {name: example(name).spec for name in [*PUBLISHED, SCHIENDORFER_STEP]}
    assert any(
        s.activations[-1].name == "sigmoid"
        and s.loss.name == "squared_error"
        and dict(s.loss.options)["half"]
        for s in specs.values()
    )
    assert any(
        s.activations[0].name == "tanh"
        and s.activations[-1].name == "sigmoid"
        and s.loss.name == "binary_cross_entropy"
        and s.batched
        for s in specs.values()
    )
    assert any(
        s.activations[0].name == "relu" and s.loss.name == "cross_entropy" for s in specs.values()
    )
    assert any(s.biases is None for s in specs.values())
    assert any(s.l2 > 0 for s in specs.values())
    assert any(s.training is not None and not s.training.update_biases for s in specs.values())


# the stacks of layers (conv, pooling) are checked in test_examples_stacks.py
MLP_SPECS = [
    p
    for p in sorted(EXAMPLES.glob("*.toml"))
    if "layers" not in tomllib.loads(p.read_text("utf-8"))
]


@pytest.mark.parametrize("path", MLP_SPECS, ids=lambda p: p.stem)
def test_every_example_derives_from_the_command_line(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "derivation.json"
    assert main(["derive", str(path), "--format", "json", "--no-expanded", "-o", str(out)]) == 0
    document = json.loads(out.read_text("utf-8"))
    assert set(document["gradients"]) == set(example(path.stem).values.gradients)
    if example(path.stem).spec.training is None:
        assert document["updated"] is None
    else:
        assert set(document["updated"]) == set(document["gradients"])
        assert {"exact", "value"} <= set(document["updated"]["W1"])


def test_mazur_biases_stay_put_and_a_shared_bias_gradient_is_the_sum() -> None:
    """update_biases = false keeps Mazur's b1, b2; a shared bias's gradient sums the entries."""
    d = example(MAZUR)
    assert d.updated["b1"] == d.spec.biases[0]  # type: ignore[index]
    assert d.updated["b2"] == d.spec.biases[1]  # type: ignore[index]
    weights = [np.array(w.tolist(), dtype=float) for w in d.spec.weights]
    x = np.array(d.spec.x.tolist(), dtype=float)
    y = np.array(d.spec.y.tolist(), dtype=float)
    options: dict[str, Any] = {
        "activations": ["sigmoid", "sigmoid"],
        "loss": "squared_error",
        "reduction": "sum",
    }

    def shared(b1: float) -> float:
        biases = [np.full((2, 1), b1), np.full((2, 1), 0.6)]
        return reference.loss(weights, biases, x, y, **options)

    h = 1e-6
    numeric = (shared(0.35 + h) - shared(0.35 - h)) / (2 * h)
    exact = d.values.gradients["b1"][0, 0] + d.values.gradients["b1"][1, 0]
    assert numeric == pytest.approx(float(exact), rel=1e-8)


def _mazur_script(steps: int, deltas_after_update: bool) -> tuple[float, np.ndarray]:
    """Mazur's script as a loop; optionally backpropagating through the UPDATED w5..w8."""
    w1 = np.array([[0.15, 0.20], [0.25, 0.30]])
    w2 = np.array([[0.40, 0.45], [0.50, 0.55]])
    x, t = np.array([0.05, 0.10]), np.array([0.01, 0.99])

    def outputs() -> tuple[np.ndarray, np.ndarray]:
        h = 1 / (1 + np.exp(-(w1 @ x + 0.35)))
        return h, 1 / (1 + np.exp(-(w2 @ h + 0.60)))

    for _ in range(steps):
        h, o = outputs()
        delta_out = (o - t) * o * (1 - o)
        new_w2 = w2 - 0.5 * np.outer(delta_out, h)
        delta_hidden = ((new_w2 if deltas_after_update else w2).T @ delta_out) * h * (1 - h)
        w1, w2 = w1 - 0.5 * np.outer(delta_hidden, x), new_w2
    _, o = outputs()
    return float(0.5 * np.sum((o - t) ** 2)), o


def test_mazur_hidden_gradient_rounded_an_intermediate() -> None:
    """dE_o2/dout_h1 = -0.019049119: delta_o2 rounded to 9 decimals first, then times w7."""
    delta_o2 = example(MAZUR).values.deltas[1][1, 0]
    assert rounds_to(delta_o2, "-0.038098237")
    product = Decimal("-0.038098237") * Decimal("0.50")
    assert product.quantize(Decimal("1e-9"), ROUND_HALF_UP) == Decimal("-0.019049119")


def test_mazur_quoted_errors_come_from_an_update_order_slip() -> None:
    # one step as the post describes it: the exact step above, 0.291027774
    error, _ = _mazur_script(1, deltas_after_update=False)
    exact = after_step(MAZUR).values.forward["loss"][0, 0]
    assert error == pytest.approx(float(exact), rel=1e-12)
    # the quoted 0.291027924 is the step with hidden deltas through the updated w5..w8
    error, _ = _mazur_script(1, deltas_after_update=True)
    assert round(error, 9) == 0.291027924


def test_mazur_ten_thousand_steps() -> None:
    """The reference backprop iterated as the post describes, against the quoted numbers."""
    d = example(MAZUR)
    weights = [np.array(w.tolist(), dtype=float) for w in d.spec.weights]
    biases = [np.array(b.tolist(), dtype=float) for b in d.spec.biases]  # type: ignore[union-attr]
    x = np.array(d.spec.x.tolist(), dtype=float)
    y = np.array(d.spec.y.tolist(), dtype=float)
    options: dict[str, Any] = {
        "activations": ["sigmoid", "sigmoid"],
        "loss": "squared_error",
        "reduction": "sum",
    }
    for _ in range(10_000):
        grads, _ = reference.backprop(weights, biases, x, y, **options)
        weights = [w - 0.5 * g for w, g in zip(weights, grads, strict=True)]
    error = reference.loss(weights, biases, x, y, **options)
    outputs = reference.forward(weights, biases, x, options["activations"])[1][-1].ravel()
    # the correct values (spec comment), not the quoted 0.015912196 / 0.984065734 / 0.0000351085
    assert round(error, 10) == pytest.approx(0.0000351019, abs=1e-12)
    assert [round(float(o), 9) for o in outputs] == [0.01591362, 0.984064274]
    # the quoted outputs are the update-order variant's ...
    quoted_error, quoted = _mazur_script(10_000, deltas_after_update=True)
    assert [round(float(o), 9) for o in quoted] == [0.015912196, 0.984065734]
    # ... and the quoted error is not even theirs: they give 0.0000350848
    assert round(quoted_error, 10) == pytest.approx(0.0000350848, abs=1e-12)
    from_quoted = 0.5 * ((0.015912196 - 0.01) ** 2 + (0.984065734 - 0.99) ** 2)
    assert round(from_quoted, 10) == pytest.approx(0.0000350848, abs=1e-12)


def test_postnetwork_loss_follows_its_wrong_logit() -> None:
    """L = 0.579 is -ln softmax(0.428, 0.185)_1; yhat_1 = 0.561 is not even that."""
    z3, z4 = Rational("0.428"), Rational("0.185")
    yhat_1 = 1 / (1 + exp(z4 - z3))
    assert rounds_to(-log(yhat_1), "0.579")
    assert rounds_to(yhat_1, "0.560")
    assert not rounds_to(yhat_1, "0.561")


def test_timeline_output_delta_is_yhat_minus_y() -> None:
    """Sigmoid + BCE: the derived output error is yhat - y, as the page states."""
    d = example(TIMELINE)
    error = d.gradients.output_errors[0]
    yhat, y = d.network.output.activation[0, 0], d.network.y[0, 0]
    assert (error.steps[-1].rhs - (yhat - y)).expand() == 0
    assert d.values.deltas[1][0, 0] == d.values.forward["yhat"][0, 0] - d.spec.y[0, 0]
