"""symbackprop.picture and ``symbackprop draw``: the numbers, the geometry and the files.

The numbers on a picture are checked against mpmath evaluations of the seed's closed forms,
written here independently of the tool; the geometry against its own contract (no two label
boxes intersect, every edge label centred on its edge).
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mpmath
import pytest

from symbackprop import derive as _derive
from symbackprop.cli import main
from symbackprop.picture import draw
from symbackprop.picture.build import diagram, given_diagram
from symbackprop.picture.layout import Box, layout
from symbackprop.spec import load_spec

SPECS = Path(__file__).parent / "specs"
NET_3542 = SPECS / "net-3-5-4-2.toml"
EXAMPLES = Path(__file__).parent.parent / "examples"


@functools.cache
def derive(spec: object, *args: object) -> object:
    """One derivation per spec for the whole module (deriving is the slow part)."""
    return _derive(spec, *args)


def _four(value: mpmath.mpf) -> str:
    """``value`` to 4 significant digits, with the minus sign the picture prints."""
    return mpmath.nstr(value, 4, strip_zeros=False).replace("-", "−")


def test_seed_numbers_are_the_exact_values_rounded() -> None:
    mpmath.mp.dps = 30
    picture = diagram(derive("seed"), "both")
    yhat1 = 1 / (1 + mpmath.exp(mpmath.mpf(27) / 50))
    output = [unit[0].plain for unit in picture.columns[2].units]
    assert output == [_four(yhat1), _four(1 - yhat1)]
    assert picture.loss[0].plain == f"J = {_four(-mpmath.log(1 - yhat1))}"
    # dJ/dW2[0,1] = a1_2 (yhat_1 - y_1) = 0.6 yhat_1; the weight itself is 4/5
    weight, gradient = picture.edges[1][0][1]
    assert (weight.plain, gradient.plain) == ("0.8", _four(mpmath.mpf("0.6") * yhat1))
    assert gradient.role == "gradient"
    assert [line.plain for line in picture.columns[1].biases[0]] == [
        "b = 0.1",
        f"∂J/∂b = {_four(-mpmath.mpf('0.3') * yhat1)}",
    ]
    assert [t[0].plain for t in picture.targets] == ["y₁ = 0", "y₂ = 1"]


@pytest.mark.parametrize("mode", ["weights", "both", "only"])
def test_gradient_modes_choose_the_lines(mode: str) -> None:
    edge = diagram(derive("seed"), mode).edges[0][0][0]
    roles = {"weights": ["value"], "both": ["value", "gradient"], "only": ["gradient"]}
    assert [line.role for line in edge] == roles[mode]


@pytest.mark.parametrize(
    "spec", ["seed", NET_3542, SPECS / "deep.toml"], ids=["seed", "3542", "deep"]
)
@pytest.mark.parametrize("mode", ["weights", "both"])
def test_label_boxes_never_intersect_and_edge_labels_sit_on_edges(spec: object, mode: str) -> None:
    picture = layout(diagram(derive(spec), mode))
    boxes = [label.box for label in picture.labels]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b, gap=0), (a, b)
    edges = [label for label in picture.labels if label.kind == "edge"]
    assert len(edges) == sum(len(row) for rows in diagram(derive(spec)).edges for row in rows)
    for label in edges:
        assert label.edge is not None
        x1, y1, x2, y2 = label.edge
        cross = (x2 - x1) * (label.box.y - y1) - (y2 - y1) * (label.box.x - x1)
        assert abs(cross) / ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5 < 1e-6
        assert min(x1, x2) < label.box.x < max(x1, x2)
    for circle in picture.circles:
        unit = Box(circle.x, circle.y, 2 * circle.r, 2 * circle.r)
        assert not any(unit.overlaps(label.box, gap=0) for label in edges)


def test_box_overlap() -> None:
    assert Box(0, 0, 10, 10).overlaps(Box(9, 0, 10, 10), gap=0)
    assert not Box(0, 0, 10, 10).overlaps(Box(11, 0, 10, 10), gap=0)


def test_wide_layers_collapse_into_boxes(tmp_path: Path) -> None:
    weights = [[round(0.1 * (i + j) - 0.5, 1) for j in range(12)] for i in range(2)]
    spec = tmp_path / "wide.toml"
    spec.write_text(
        '[network]\nlayers = [12, 2]\nactivations = ["softmax"]\nloss = "cross_entropy"\n'
        f"[parameters]\nW1 = {weights}\nb1 = [0.1, 0.2]\n"
        f"[data]\nx = {[0.5] * 12}\ny = [0, 1]\n"
    )
    picture = diagram(_derive(spec))
    assert [line.plain for line in picture.columns[0].box] == ["x: 12 inputs"]
    assert not picture.columns[1].collapsed and picture.edges == ((),)
    drawn = layout(picture)
    assert len(drawn.rects) == 1 and len(drawn.segments) == 2  # box -> each output unit
    assert not any(label.kind == "edge" for label in drawn.labels)


def test_a_wide_hidden_layer_collapses_on_a_sheet_picture(tmp_path: Path) -> None:
    """An exercise's picture (given numbers only) boxes a 12-unit layer, with its size,
    activation and parameter count, like the derivation's picture."""
    w1 = [[round(0.1 * (i - j), 1) for j in range(2)] for i in range(12)]
    w2 = [[round(0.1 * (i + j) - 0.5, 1) for j in range(12)] for i in range(2)]
    spec = tmp_path / "wide.toml"
    spec.write_text(
        '[network]\nlayers = [2, 12, 2]\nactivations = ["relu", "softmax"]\n'
        'loss = "cross_entropy"\n'
        f"[parameters]\nW1 = {w1}\nb1 = {[0.1] * 12}\nW2 = {w2}\nb2 = [0.1, 0.2]\n"
        "[data]\nx = [0.5, 0.2]\ny = [0, 1]\n"
    )
    count = len(w1) * len(w1[0]) + len(w1)
    given = given_diagram(load_spec(str(spec)))
    full = diagram(_derive(spec))
    assert given.columns[1].box == full.columns[1].box
    assert [line.plain for line in given.columns[1].box] == [
        f"a⁽¹⁾: {len(w1)} units",
        "relu",
        f"{count} parameters",
    ]
    assert given.edges == ((), ()) and not given.columns[2].collapsed
    assert [unit[0].plain for unit in given.columns[2].units] == ["ŷ₁", "ŷ₂"]


def test_draw_help_imports_no_sympy() -> None:
    code = (
        "import sys\nfrom symbackprop.cli import main\n"
        "try:\n    main(['draw', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('sympy', 'numpy', 'drawsvg') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"


def test_stack_layers_are_boxes_with_shapes() -> None:
    picture = diagram(derive("cnn"))
    lines = [[line.plain for line in c.box] for c in picture.columns]
    assert lines[0] == ["input", "1×6×6"]
    assert lines[1] == ["conv2d, relu", "1×6×6 → 2×4×4", "20 parameters"]  # 2*1*3*3 + 2
    assert lines[-1] == ["dense, softmax", "8 → 3", "27 parameters"]  # 3*8 + 3
    norm = diagram(derive(EXAMPLES / "alexkode-batch-normalization.toml"))
    assert norm.columns[1].box[-1].plain == "4 parameters"  # gamma1 and beta1, 2 each
    assert all(not c.gradient for c in picture.columns)  # gradients only when asked for


def test_svg_is_deterministic_and_has_one_text_per_label() -> None:
    first, second = draw(derive("seed")), draw(derive("seed"))
    assert first == second and isinstance(first, str)
    assert first.startswith("<?xml") and "<svg" in first
    assert first.count('class="label"') == len(layout(diagram(derive("seed"))).labels)
    assert "0.3682" in first and "J = 0.4592" in first


def test_tikz_has_every_label() -> None:
    tikz = draw(derive("seed"), "tikz", gradients="both")
    assert isinstance(tikz, str)
    assert tikz.count("\\node") == len(layout(diagram(derive("seed"), "both")).labels)
    assert "$-0.1105$" in tikz and "\\begin{tikzpicture}" in tikz


def test_draw_command_writes_each_format(tmp_path: Path) -> None:
    for name in ("net.svg", "net.tex"):
        assert main(["draw", "-o", str(tmp_path / name)]) == 0
    assert (tmp_path / "net.svg").read_text().startswith("<?xml")
    assert "tikzpicture" in (tmp_path / "net.tex").read_text()


@pytest.mark.latex
def test_draw_pdf(tmp_path: Path) -> None:
    if shutil.which("pdflatex") is None:
        if os.environ.get("SYMBACKPROP_REQUIRE_LATEX") == "1":
            pytest.fail("pdflatex is not installed, but SYMBACKPROP_REQUIRE_LATEX=1")
        pytest.skip("pdflatex is not installed")
    leaky = str(SPECS / "leaky-relu-label.toml")  # leaky_relu: an underscore in TeX
    for name, argv in (("seed", ["seed", "--gradients"]), ("cnn", ["cnn"]), ("leaky", [leaky])):
        target = tmp_path / f"{name}.pdf"
        assert main(["draw", *argv, "-o", str(target)]) == 0
        assert target.read_bytes().startswith(b"%PDF")


def test_draw_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["draw", "-o", str(tmp_path / "net.png")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"symbackprop: error: -o {tmp_path / 'net.png'}: unknown picture format '.png'; "
        "expected one of: .pdf, .svg, .tex\n"
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["draw", "--gradients", "--gradients-only"])
    assert exit_info.value.code == 2


def test_draw_is_identical_across_hash_seeds() -> None:
    outputs = set()
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-m", "symbackprop", "draw", "--gradients"],
            capture_output=True,
            check=True,
            env=env,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
