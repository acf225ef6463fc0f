"""``derive --handout`` for [[layers]] stacks (cnn, rnn), in every block format.

Its numbers are checked against the independent NumPy reference
(:mod:`symbackprop.reference_layers`); the LaTeX is compiled with pdflatex (skipped when
missing, unless required) and its page count bounded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_render_pdflatex import compile_latex, overfull
from test_stack_picture import _reference

from symbackprop import derive
from symbackprop.render.block_parts import Equation, Heading
from symbackprop.render.figure import Figure
from symbackprop.render.stack_handout import stack_handout_blocks

HEADINGS = [
    "Notation",
    "The layers",
    "Forward pass",
    "Loss and output error",
    "One entry per layer kind, worked out",
    "Gradients",
]
_NUMBER = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"


def _equations(name: str, label: str) -> str:
    """The LaTeX of the handout's equations whose label starts with ``label``."""
    blocks = stack_handout_blocks(derive(name))
    return "\n".join(
        b.latex for b in blocks if isinstance(b, Equation) and b.label.startswith(label)
    )


def _matrices(latex: str) -> list[float]:
    """Every number inside the bmatrix environments of ``latex``, in order."""
    inside = re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", latex, flags=re.DOTALL)
    return [float(v) for part in inside for v in re.findall(_NUMBER, part)]


@pytest.mark.parametrize("name", ["cnn", "rnn"])
def test_sections_and_picture_in_order(name: str) -> None:
    blocks = stack_handout_blocks(derive(name))
    assert isinstance(blocks[0], Figure)
    headings = [b.text for b in blocks if isinstance(b, Heading) and b.level == 1]
    assert headings == HEADINGS


@pytest.mark.parametrize("name", ["cnn", "rnn"])
def test_every_gradient_matrix_is_the_reference_gradient(name: str) -> None:
    reference = _reference(name)
    for key, expected in reference.items():
        got = np.array(_matrices(_equations(name, f"handout/d{key}")))
        # row by row: a kernel per (filter, channel) and a wide matrix in column blocks
        assert got.size == expected.size, key
        ordered = expected.reshape(-1)  # kernels and rows in order; a wide matrix by blocks
        assert np.allclose(np.sort(got), np.sort(ordered), rtol=5e-6, atol=1e-12), key
        assert np.allclose(got, ordered, rtol=5e-6, atol=1e-12) or expected.ndim == 2, key


def test_cnn_worked_conv_entry_sums_to_the_reference() -> None:
    """dW1[0,0,0,0] as its sum over the 16 output positions, with the numbers put in."""
    latex = _equations("cnn", "handout/worked 1")
    substituted = latex.split("&= ")[-1].split(r"\approx")[0]
    products = re.findall(rf"([+-]?)\s*({_NUMBER}) \\cdot ({_NUMBER})", substituted)
    assert len(products) == 16  # 4 x 4 output positions of filter 1
    total = sum((-1 if s == "-" else 1) * float(a) * float(b) for s, a, b in products)
    expected = _reference("cnn")["W1"][0, 0, 0, 0]
    assert total == pytest.approx(expected, abs=1e-6)
    shown = float(re.findall(_NUMBER, latex.split(r"\approx")[-1])[0])
    assert shown == pytest.approx(expected, rel=5e-6)


def test_cnn_worked_entries_one_per_layer_kind() -> None:
    blocks = stack_handout_blocks(derive("cnn"))
    labels = [b.label for b in blocks if isinstance(b, Equation) and "worked" in b.label]
    assert labels == [f"handout/worked {p}" for p in (1, 2, 3, 4)]
    pool = _equations("cnn", "handout/worked 2")
    assert "argmax" in pool and r"\frac{\partial J}{\partial a^{(1)}_{1,1,2}}" in pool


def test_cnn_forward_tensors_are_the_reference_forward() -> None:
    """z^(1) per filter and the pooled maps, against a naive NumPy convolution."""
    d = derive("cnn")
    x = np.array(np.asarray(d.spec.x).tolist(), dtype=float)[0, 0]
    w = np.array(d.spec.parameters["W1"].tolist(), dtype=float)
    b = np.array(d.spec.parameters["b1"].tolist(), dtype=float)
    z = np.array(
        [
            [
                [(w[f, 0] * x[i : i + 3, j : j + 3]).sum() + b[f] for j in range(4)]
                for i in range(4)
            ]
            for f in range(2)
        ]
    )
    pooled = np.maximum(z, 0).reshape(2, 2, 2, 2, 2).max(axis=(2, 4))
    numbers = _matrices(_equations("cnn", "handout/forward 1"))
    assert np.allclose(numbers[:32], z.ravel()) and np.allclose(
        numbers[32:], np.maximum(z, 0).ravel()
    )
    assert np.allclose(_matrices(_equations("cnn", "handout/forward 2")), pooled.ravel())


@pytest.mark.parametrize("fmt", ["latex", "markdown", "html", "mathml"])
def test_every_format_has_the_picture_and_sections(fmt: str) -> None:
    text = derive("cnn").to(fmt, handout=True)
    assert ("tikzpicture" if fmt == "latex" else "<svg") in text
    for heading in HEADINGS:
        assert heading in text, heading


@pytest.mark.latex
def test_cnn_handout_compiles_and_is_short(tmp_path: Path) -> None:
    log = compile_latex(derive("cnn").to_latex(handout=True), tmp_path, "h")
    pages = re.search(r"Output written on h\.pdf \((\d+) pages?", log)
    assert pages is not None and 1 <= int(pages.group(1)) <= 3, pages  # measured: 3
    assert overfull(log) == []


@pytest.mark.latex
def test_rnn_handout_compiles(tmp_path: Path) -> None:
    log = compile_latex(derive("rnn").to_latex(handout=True), tmp_path, "h")
    assert overfull(log) == []


def test_handout_command_is_identical_across_hash_seeds(tmp_path: Path) -> None:
    outputs = []
    for seed in ("0", "1"):
        out = tmp_path / f"h{seed}.md"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        command = [sys.executable, "-m", "symbackprop", "derive", "cnn", "--handout"]
        command += ["--format", "markdown", "-o", str(out)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


EXAMPLES = Path(__file__).parent.parent / "examples"
STACK_EXAMPLES = sorted(
    p for p in EXAMPLES.glob("*.toml") if "[[layers]]" in p.read_text(encoding="utf-8")
)


@pytest.mark.latex
@pytest.mark.parametrize("path", STACK_EXAMPLES, ids=[p.stem for p in STACK_EXAMPLES])
def test_every_stack_example_handout_compiles(path: Path, tmp_path: Path) -> None:
    """Normalisation, conv and pooling, BPTT: every published stack example's handout."""
    d = derive(path)
    headings = [b.text for b in stack_handout_blocks(d) if isinstance(b, Heading)]
    assert [h for h in headings if h in HEADINGS] == HEADINGS
    log = compile_latex(d.to_latex(handout=True), tmp_path, "h")
    assert overfull(log) == []
