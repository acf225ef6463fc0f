"""``derive --handout``: the short document, in every format, and the prose rules of every
rendered derivation (no command-line flags, no lead-in stranded before its equation)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sympy import Rational

from symbackprop import derive as _derive
from symbackprop.cli import main
from symbackprop.render.handout import HANDOUT_DIGITS, long_rational

EXAMPLES = Path(__file__).parent.parent / "examples"
MAZUR = EXAMPLES / "mazur-step-by-step.toml"
HEADINGS = ["Notation", "Forward pass", "Loss", "Output error", "Backward pass", "Gradients"]
#: A command-line option in running text (``--format``; LaTeX escapes it as ``-{}-format``).
FLAG = re.compile(r"(?<![\w-])(--|-\{\}-)[a-z]")


@functools.cache
def derive(spec: object) -> object:
    return _derive(spec)


def _prose(document: str) -> str:
    """``document`` without its picture (SVG and TikZ carry no prose)."""
    document = re.sub(r"<svg.*?</svg>", "", document, flags=re.S)
    return re.sub(r"\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", "", document, flags=re.S)


@pytest.mark.parametrize("fmt", ["latex", "markdown", "html", "mathml"])
def test_handout_has_every_part_in_every_format(fmt: str) -> None:
    document = derive("seed").to(fmt, handout=True)
    document = document[document.find("</nav>") + 1 :]  # after the HTML page's contents
    positions = [document.find(heading) for heading in HEADINGS]
    assert -1 not in positions and positions == sorted(positions), positions
    picture = "\\begin{tikzpicture}" if fmt == "latex" else "<svg"
    assert document.find(picture) < positions[0]
    assert "One entry, worked out" in document and "As matrices" in document
    assert "Layer 2" in document and "One gradient-descent step" not in document
    # the full derivation's expanded forms and element-wise recursion are left out
    assert "expanded" not in document and "Backward recursion" not in document


def test_handout_shows_the_update_when_there_is_one() -> None:
    document = derive(MAZUR).to("markdown", handout=True)
    assert "## One gradient-descent step" in document


def test_handout_decimals_are_the_exact_values_rounded() -> None:
    document = derive("seed").to("latex", handout=True)
    # yhat_1 = 1/(1 + e^(27/50)) = 0.368187582264...; the handout shows 6 digits
    assert r"\hat{y} &= \operatorname{softmax}(z^{(2)}) \approx \begin{bmatrix}" in document
    assert "0.368188" in document and "0.368187582264" not in document


def test_long_rationals_are_decimals() -> None:
    assert not long_rational(Rational(3, 10))
    assert long_rational(Rational(10**HANDOUT_DIGITS + 1, 3))
    assert not long_rational(Rational(10**HANDOUT_DIGITS - 1, 7))
    document = derive(EXAMPLES / "cs231n-two-layer-net.toml").to("latex", handout=True)
    digits = [len(run) for run in re.findall(r"\d+", _prose(document))]
    assert max(digits) <= HANDOUT_DIGITS, max(digits)


def test_title_and_author() -> None:
    d = derive("seed")
    tex = d.to("latex", handout=True, title="Backprop & you", author="A. Lecturer")
    assert "\\title{Backprop \\& you}\n\\author{A. Lecturer}" in tex
    page = d.to("html", handout=True, title="Backprop & you", author="A. Lecturer")
    assert "<title>Backprop &amp; you</title>" in page and "<h1>Backprop &amp; you</h1>" in page
    assert '<meta name="author" content="A. Lecturer">' in page
    markdown = d.to("markdown", title="Backprop", author="A. Lecturer")
    assert markdown.startswith("# Backprop\n\nA. Lecturer\n\n")
    assert "\\author{}" in d.to("latex", standalone=True)  # no tool name as the author


@pytest.mark.parametrize("handout", [False, True], ids=["full", "handout"])
@pytest.mark.parametrize("fmt", ["latex", "markdown", "html"])
def test_no_command_line_flags_in_the_prose(fmt: str, handout: bool) -> None:
    for spec in ("seed", EXAMPLES / "cs231n-two-layer-net.toml"):
        options = {"handout": True} if handout else {}
        if fmt == "latex" and not handout:
            options["standalone"] = True
        prose = _prose(derive(spec).to(fmt, **options))
        assert not FLAG.search(prose), FLAG.search(prose)


@pytest.mark.parametrize("handout", [False, True], ids=["full", "handout"])
def test_a_lead_in_shares_a_paragraph_with_its_equation(handout: bool) -> None:
    """TeX never breaks a page just before a display that is in the same paragraph."""
    tex = derive("seed").to("latex", standalone=True, handout=handout)
    lead_ins = re.findall(r":\n(\n?)\\\[", tex)
    assert lead_ins and set(lead_ins) == {""}


@pytest.mark.latex
def test_seed_handout_fits_three_pages(tmp_path: Path) -> None:
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        if os.environ.get("SYMBACKPROP_REQUIRE_LATEX") == "1":
            pytest.fail("pdflatex is not installed, but SYMBACKPROP_REQUIRE_LATEX=1")
        pytest.skip("pdflatex is not installed")
    assert main(["derive", "--handout", "--format", "latex", "-o", str(tmp_path / "h.tex")]) == 0
    done = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "h.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    log = (tmp_path / "h.log").read_text(errors="replace")
    assert done.returncode == 0, log[-2000:]
    pages = re.search(r"Output written on h\.pdf \((\d+) pages?", log)
    assert pages is not None and 1 <= int(pages.group(1)) <= 3, pages
    assert "Overfull \\hbox" not in log


def test_handout_command_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "--handout", "--format", "text"]) == 2
    assert capsys.readouterr().err == (
        "symbackprop: error: --handout cannot be used with --format text\n"
    )
    assert main(["derive", "--handout", "--sections", "loss", "--format", "latex"]) == 2
    assert "--sections cannot be used with --handout" in capsys.readouterr().err
    assert main(["derive", "cnn", "--handout", "--format", "text"]) == 2  # stacks too
    assert "--handout cannot be used with --format text" in capsys.readouterr().err
