"""``draw --gradients`` for [[layers]] stacks: each box with parameters holds dJ/d(parameter).

The numbers are checked against the independent NumPy reference
(:mod:`symbackprop.reference_layers`), not against the derivation that printed them.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symbackprop import derive, reference_layers
from symbackprop.checking.stack import _layer_dicts
from symbackprop.picture import draw, stack_build
from symbackprop.picture.build import diagram
from symbackprop.picture.layout import layout


def _reference(name: str) -> dict[str, np.ndarray]:
    """dJ/d(each parameter) from the NumPy reference at the spec's documented point."""
    d = derive(name)
    spec = d.spec
    params = {k: np.array(v.tolist(), dtype=np.float64) for k, v in spec.parameters.items()}
    loss = {"loss": spec.loss.name, "reduction": spec.loss.reduction, **dict(spec.loss.options)}
    return reference_layers.backprop(
        _layer_dicts(spec),
        params,
        np.array(np.asarray(spec.x).tolist(), dtype=np.float64),
        np.array(np.asarray(spec.y).tolist(), dtype=np.float64),
        relu_prime_at_zero=float(d.options.relu_prime_at_zero),
        **loss,
    )


def _numbers(text: str) -> list[float]:
    return [float(v) for v in text.replace("−", "-").split("\u2002")]


@pytest.mark.parametrize("name", ["cnn", "rnn"])
def test_box_gradients_are_the_reference_gradients(name: str) -> None:
    reference = _reference(name)
    picture = diagram(derive(name), "both")
    seen = set()
    for column in picture.columns:
        key, rows = None, []
        lines = [*column.gradient, None]
        for line in lines:
            if line is None or line.plain.startswith("∂J/∂"):
                if key is not None:
                    whole, _, where = key.partition("[")
                    expected = reference[whole]
                    if where:
                        lead = tuple(int(i) for i in where.split(",")[: expected.ndim - 2])
                        expected = expected[lead]
                    got = np.array(rows).reshape(expected.shape)
                    # 3 significant digits: within 0.5 units of the third digit
                    scale = 10.0 ** (np.floor(np.log10(np.abs(expected) + 1e-300)) - 2)
                    assert np.all(np.abs(got - expected) <= 0.5 * scale + 1e-12), key
                    seen.add(whole)
                if line is not None:
                    key, rows = line.plain.removeprefix("∂J/∂"), []
            else:
                rows += _numbers(line.plain)
    assert seen == set(reference)


def test_a_large_parameter_shows_its_norm_and_largest_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stack_build, "MATRIX_ENTRIES", 8)
    reference = _reference("cnn")
    box = diagram(derive("cnn"), "only").columns[-1].gradient
    texts = [line.plain for line in box]
    assert texts[0] == "∂J/∂W2"  # 24 entries > 8
    norm = float(texts[1].split("= ")[1])
    largest = float(texts[2].split("= ")[1])
    assert norm == pytest.approx(np.linalg.norm(reference["W2"]), rel=5e-3)
    assert largest == pytest.approx(np.abs(reference["W2"]).max(), rel=5e-3)
    assert texts[3:] == ["∂J/∂b2", *texts[4:]] and len(texts) == 5  # b2: 3 entries, one row


EXAMPLES = Path(__file__).parent.parent / "examples"
STACKS: dict[str, object] = {
    "cnn": "cnn",
    "rnn": "rnn",
    **{
        p.stem: p
        for p in sorted(EXAMPLES.glob("*.toml"))
        if "[[layers]]" in p.read_text(encoding="utf-8")
    },
}


@pytest.mark.parametrize("mode", ["both", "only"])
@pytest.mark.parametrize("name", STACKS.values(), ids=STACKS.keys())
def test_stack_labels_never_overlap_and_stay_in_their_boxes(name: object, mode: str) -> None:
    picture = layout(diagram(derive(name), mode))
    for a, b in itertools.combinations(picture.labels, 2):
        assert not a.box.overlaps(b.box, gap=0), (a.lines[0].plain, b.lines[0].plain)
    for label in picture.labels:
        if label.kind in ("box", "gradient"):
            assert any(
                r.x - r.w / 2 <= label.box.x - label.box.w / 2
                and label.box.x + label.box.w / 2 <= r.x + r.w / 2
                and r.y - r.h / 2 <= label.box.y - label.box.h / 2
                and label.box.y + label.box.h / 2 <= r.y + r.h / 2
                for r in picture.rects
            )
        assert label.box.x + label.box.w / 2 <= picture.width
        assert label.box.y + label.box.h / 2 <= picture.height


def test_gradients_only_in_red_and_only_when_asked() -> None:
    plain = diagram(derive("cnn"))
    assert not any(c.gradient for c in plain.columns)
    both = diagram(derive("cnn"), "both")
    lines = [line for c in both.columns for line in c.gradient]
    assert lines and all(line.role == "gradient" for line in lines)
    assert [c.gradient == () for c in both.columns] == [True, False, True, True, False]
    assert "∂J/∂" in both.legend[0].plain and "∂J/∂" not in plain.legend[0].plain


def test_draw_gradients_command_for_a_stack(tmp_path: Path) -> None:
    for suffix in ("svg", "tex"):
        out = tmp_path / f"cnn.{suffix}"
        done = subprocess.run(
            [sys.executable, "-m", "symbackprop", "draw", "cnn", "--gradients", "-o", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        text = out.read_text(encoding="utf-8")
        assert "[0,0,:,:]" in text and "[1,0,:,:]" in text
    svg = draw(derive("cnn"), gradients="both")
    assert svg == draw(derive("cnn"), gradients="both")
    assert isinstance(svg, str) and svg.count('data-kind="gradient"') == 2
