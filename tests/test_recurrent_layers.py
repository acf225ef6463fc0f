"""rnn and lstm: BPTT proven equal to the chain rule; symbolic = reference = finite differences
on whole networks; the spec's errors are one line with exit status 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy import Rational

from symbackprop import check, load_spec
from symbackprop.cli import main
from symbackprop.layers import LAYERS
from symbackprop.proofs import _proof

NETWORK = """
[network]
input = [{steps}, 2]
loss = {{ name = "squared_error", half = true, reduction = "sum" }}

[[layers]]
type = "{kind}"
units = 1
{states}
{extra}

[[layers]]
type = "flatten"

[parameters]
{parameters}

[data]
x = [{x}]
y = {y}
"""


def _spec(tmp_path: Path, kind: str, extra: str = "", states: str | None = None) -> Path:
    steps, width = 2, 4 if kind == "lstm" else 1
    if states is None:
        states = "h0 = [[0.1]]" + ("\nc0 = [[-0.2]]" if kind == "lstm" else "")
    wx = [[0.3 - 0.1 * k for k in range(width)], [0.2 * k - 0.1 for k in range(width)]]
    parameters = f"Wx1 = {wx}\nWh1 = [{[0.4 - 0.2 * k for k in range(width)]}]\n"
    parameters += f"b1 = {[0.05 * k for k in range(width)]}"
    last = "return_sequence = false" in extra
    text = NETWORK.format(
        steps=steps,
        kind=kind,
        states=states,
        extra=extra,
        parameters=parameters,
        x="[0.5, -0.4], [0.3, 0.8]",
        y="[0.2]" if last else "[0.2, -0.1]",
    )
    path = tmp_path / f"{kind}.toml"
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("extra", ["", "return_sequence = false"])
def test_check_agrees_with_reference_and_finite_differences(
    tmp_path: Path, kind: str, extra: str
) -> None:
    report = check(_spec(tmp_path, kind, extra), random_points=2)
    assert report.comparisons and all(c.ok for c in report.comparisons), report


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_textbook_bptt_is_proven_equal_to_the_chain_rule(kind: str) -> None:
    config = {"units": 1, "h0": ((0,),), "return_sequence": True}
    if kind == "lstm":
        config["c0"] = ((0,),)
    assert _proof(kind, tuple(sorted(config.items())), (2, 1), 1)


def test_a_bptt_without_the_recurrent_path_is_not_proven(monkeypatch) -> None:
    """The proof can fail: drop dh_t's path from h_{t+1} (Wh^T da_{t+1})."""
    kind = LAYERS["rnn"]
    original = np.ndarray.dot

    class NoRecurrence(type(kind)):  # type: ignore[misc]
        def textbook_batch(self, config, xs, params, upstreams, cache):  # type: ignore[no-untyped-def]
            wh = params["Wh"]
            zero = np.full(wh.shape, 0, dtype=object)
            return super().textbook_batch(config, xs, {**params, "Wh": zero}, upstreams, cache)

    monkeypatch.setitem(LAYERS, "rnn", NoRecurrence())
    config = (("h0", ((0,),)), ("return_sequence", True), ("units", 1))
    _proof.cache_clear()
    try:
        assert not _proof("rnn", config, (2, 1), 1)
    finally:
        _proof.cache_clear()
    assert original is np.ndarray.dot


def test_the_rnn_example_checks_a_whole_sequence_network() -> None:
    spec = load_spec("rnn")
    assert [layer.kind for layer in spec.layers] == ["embedding", "rnn", "temporal_dense"]
    assert {"Wx2", "Wh2", "b2"} <= set(spec.parameters)
    report = check("rnn", random_points=2)
    assert all(c.ok for c in report.comparisons), report
    parameters = sum(v.size for v in spec.parameters.values())  # type: ignore[union-attr]
    # dh0, one row of 3 units per sample, is judged with the parameters' gradients
    assert {c.entries for c in report.comparisons} == {parameters + 2 * 3}


@pytest.mark.parametrize(
    ("kind", "states", "extra", "message"),
    [
        ("rnn", "", "", "[[layers]] 1 (rnn) h0: missing key"),
        ("lstm", "h0 = [[0.1]]", "", "[[layers]] 1 (lstm) c0: missing key"),
        ("rnn", "h0 = [[0.1, 0.2]]", "", "[[layers]] 1 (rnn) h0[0]: expected an array of shape"),
        ("rnn", None, "size = 3", "[[layers]] 1 (rnn) size: unknown key"),
        ("rnn", None, 'return_sequence = "no"', "return_sequence"),
    ],
)
def test_bad_specs_are_one_line_errors(
    tmp_path: Path, capsys, kind: str, states: str | None, extra: str, message: str
) -> None:
    path = _spec(tmp_path, kind, extra, states)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and "Traceback" not in err, err


def _in_data(tmp_path: Path, kind: str, layer: str, data: str, extra: str = "") -> Path:
    """The network of :func:`_spec` with ``layer`` in the layer's table, ``data`` in [data]."""
    path = _spec(tmp_path, kind, extra, layer)
    path.write_text(path.read_text("utf-8").replace("[data]\n", f"[data]\n{data}\n"), "utf-8")
    return path


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_initial_states_in_data_mean_what_the_layer_keys_mean(tmp_path: Path, kind: str) -> None:
    states = "h0 = [[0.1]]" + ("\nc0 = [[-0.2]]" if kind == "lstm" else "")
    in_layer = load_spec(_spec(tmp_path, kind))
    (tmp_path / "data").mkdir()
    in_data = load_spec(_in_data(tmp_path / "data", kind, "", states))
    assert in_layer.layers == in_data.layers
    assert dict(in_data.layers[0].config)["h0"] == ((Rational(1, 10),),)
    report = check(in_data, random_points=1)
    assert report.comparisons and all(c.ok for c in report.comparisons), report


@pytest.mark.parametrize(
    ("kind", "layer", "data", "extra", "message"),
    [
        (
            "rnn",
            "h0 = [[0.1]]",
            "h0 = [[0.2]]",
            "",
            "[[layers]] 1 (rnn) h0: given in [data] too; give it in one place",
        ),
        ("lstm", "h0 = [[0.1]]", "c0 = [[1, 2]]", "", "[data] c0[0]: expected an array of shape"),
        ("rnn", "", "h0 = [[0.1]]\nc0 = [[0.1]]", "", "[data] c0: unknown key"),
        (
            "rnn",
            "",
            "h0 = [[0.1]]",
            '[[layers]]\ntype = "rnn"\nunits = 1',
            "[data] h0: layers 1, 2 all take h0; give it in each [[layers]] table",
        ),
    ],
)
def test_bad_initial_states_in_data_are_one_line_errors(
    tmp_path: Path, capsys, kind: str, layer: str, data: str, extra: str, message: str
) -> None:
    path = _in_data(tmp_path, kind, layer, data, extra)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and "Traceback" not in err, err


EXAMPLE = Path(__file__).parent.parent / "examples" / "prachub-bptt-walkthrough.toml"


def _rounds_to(value: object, printed: str) -> bool:
    """``value`` is within half a unit in the last printed digit of ``printed``."""
    decimals = len(printed.split(".")[1])
    return abs(float(value) - float(printed)) <= 0.5 * 10**-decimals  # type: ignore[arg-type]


def test_the_published_bptt_walkthrough_is_reproduced_and_its_slip_found() -> None:
    from symbackprop import derive

    d = derive(EXAMPLE)
    h = d.graph.outputs[1][0]
    yhat = d.graph.outputs[3][0]
    value = d.values
    assert _rounds_to(value[h[0, 0]], "0.4621") and _rounds_to(value[yhat[0]], "0.9242")
    # the source's h_2 = 0.7790 is a slip: tanh(1.04621) = 0.78033
    assert _rounds_to(value[h[1, 0]], "0.7803") and not _rounds_to(value[h[1, 0]], "0.7790")
    assert _rounds_to(value[yhat[1]], "1.5607") and not _rounds_to(value[yhat[1]], "1.558")
    assert _rounds_to(d.adjoint_value(yhat[0]), "-0.0758")
    # dL/dh_1 (the named step h^(1)_1,1) has two paths: the loss at t = 1 and h_2 through Wh;
    # the layer's output z^(1)_1,1 collects the first alone
    [step] = [s for s in d.graph.definitions if s.name == "h^(1)_1,1"]
    assert _rounds_to(d.adjoint_value(step), "-0.1859")
    assert _rounds_to(d.adjoint_value(h[0, 0]), "-0.1515")


@settings(max_examples=6, deadline=None)
@given(
    kind=st.sampled_from(["rnn", "lstm"]),
    steps=st.integers(1, 3),
    units=st.integers(1, 2),
    last=st.booleans(),
    seed=st.integers(0, 10**6),
)
def test_random_small_recurrent_networks_agree_everywhere(
    kind: str, steps: int, units: int, last: bool, seed: int
) -> None:
    """symbolic = reference = finite differences for random small recurrent networks."""
    import tempfile

    rng = np.random.default_rng(seed)

    def draw(*shape: int) -> str:
        return str(np.round(rng.uniform(-0.6, 0.6, shape), 2).tolist())

    width = 4 * units if kind == "lstm" else units
    states = f"h0 = {draw(1, units)}" + (f"\nc0 = {draw(1, units)}" if kind == "lstm" else "")
    text = NETWORK.format(
        steps=steps,
        kind=kind,
        states=states,
        extra="return_sequence = false" if last else "",
        parameters=f"Wx1 = {draw(2, width)}\nWh1 = {draw(units, width)}\nb1 = {draw(width)}",
        x=draw(steps, 2)[1:-1],
        y=draw(units if last else steps * units),
    ).replace("units = 1", f"units = {units}", 1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.toml"
        path.write_text(text, "utf-8")
        report = check(path, random_points=1)
    assert report.comparisons and all(c.ok for c in report.comparisons), report


def _lstm_in_data(tmp_path: Path) -> Path:
    return _in_data(tmp_path, "lstm", "", "h0 = [[0.1]]\nc0 = [[-0.2]]")


def _reference_states(spec: object) -> dict[tuple[int, str], np.ndarray]:
    """dh0 and dc0 of the independent NumPy reference at the spec's point."""
    from symbackprop import reference_layers
    from symbackprop.checking.stack import _layer_dicts

    states: dict[tuple[int, str], np.ndarray] = {}
    params = {k: v.astype(float) for k, v in spec.parameters.items()}  # type: ignore[attr-defined]
    options = {"loss": "squared_error", "reduction": "sum", "half": True}
    reference_layers.backprop(
        _layer_dicts(spec),  # type: ignore[arg-type]
        params,
        spec.x.astype(float),  # type: ignore[attr-defined]
        spec.y.astype(float),  # type: ignore[attr-defined]
        data=states,
        **options,
    )
    return states


def test_dh0_and_dc0_are_reported_in_text_and_json(tmp_path: Path) -> None:
    """The data gradients equal the reference's and central differences of its loss in h0."""
    import json

    from symbackprop import derive, reference_layers
    from symbackprop.checking.stack import _layer_dicts

    path = _lstm_in_data(tmp_path)
    derivation = derive(path)
    text = derivation.to_text(sections="gradients")
    document = json.loads(derivation.to_json(sections="gradients"))
    assert "Gradients of the data" in text and "dh0[0,0] = dJ/dh^(1)_0,1" in text
    assert "dc0[0,0] = dJ/dc^(1)_0,1" in text
    assert set(document["data_gradients"]) == {"h0", "c0"}
    assert document["data_gradients"]["c0"]["compact"] == [["dJ/dc^(1)_1,1*f^(1)_1,1"]]
    spec = load_spec(path)
    reference = _reference_states(spec)
    layers = _layer_dicts(spec)  # type: ignore[arg-type]
    params = {k: v.astype(float) for k, v in spec.parameters.items()}  # type: ignore[union-attr]
    for key in ("h0", "c0"):
        exact = float(derivation.data_gradients[key][0, 0])
        assert abs(exact - reference[(1, key)][0, 0]) < 1e-12
        step, losses = 1e-6, []
        for sign in (1, -1):
            moved = [dict(layer) for layer in layers]
            moved[0][key] = [[float(moved[0][key][0][0]) + sign * step]]
            options = {"loss": "squared_error", "reduction": "sum", "half": True}
            losses.append(
                reference_layers.loss(
                    moved, params, spec.x.astype(float), spec.y.astype(float), **options
                )
            )  # type: ignore[union-attr]
        assert abs(exact - (losses[0] - losses[1]) / (2 * step)) < 1e-8


def test_check_judges_dh0_against_every_oracle(tmp_path: Path, monkeypatch) -> None:
    """dh0 and dc0 are entries of each comparison; a reference with a wrong dh0 fails there."""
    from symbackprop import reference_recurrent

    path = _lstm_in_data(tmp_path)
    report = check(path, random_points=1)
    assert all(c.ok and c.entries == 16 + 2 for c in report.comparisons), report
    original = reference_recurrent.lstm_backward

    def no_dh0(dh, cache):  # type: ignore[no-untyped-def]
        dx, dh0, dc0, *rest = original(dh, cache)
        return (dx, 0 * dh0, dc0, *rest)

    monkeypatch.setattr(reference_recurrent, "lstm_backward", no_dh0)
    report = check(path, random_points=1)
    failing = {f.entry for c in report.comparisons for f in c.failures}
    assert failing == {"dh0[0,0]"}, failing


def test_two_recurrent_layers_report_each_h0_under_its_layer(tmp_path: Path) -> None:
    """With two layers that take h0, the data gradients are keyed h0_1 and h0_2."""
    from symbackprop import derive

    text = NETWORK.format(
        steps=2,
        kind="rnn",
        states="h0 = [[0.1]]",
        extra='[[layers]]\ntype = "rnn"\nunits = 1\nh0 = [[-0.3]]',
        parameters="Wx1 = [[0.3], [-0.1]]\nWh1 = [[0.4]]\nb1 = [0.05]\n"
        "Wx2 = [[0.7]]\nWh2 = [[-0.2]]\nb2 = [0.1]",
        x="[0.5, -0.4], [0.3, 0.8]",
        y="[0.2, -0.1]",
    )
    path = tmp_path / "two.toml"
    path.write_text(text, "utf-8")
    assert set(derive(path).data_gradients) == {"h0_1", "h0_2"}
    report = check(path, random_points=1)
    assert all(c.ok and c.entries == 7 + 2 for c in report.comparisons), report
