"""Tests for symbackprop.render.markdown: MyST/Jupyter Book Markdown with ``$$`` equations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from symbackprop import derive
from symbackprop.cli import main
from symbackprop.render.blocks import Equation, blocks
from symbackprop.render.markdown import markdown_text

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def seed_markdown() -> str:
    return derive("seed").to_markdown()


def display_blocks(markdown: str) -> list[str]:
    """The bodies of the ``$$ ... $$`` blocks; fails on an unclosed one."""
    bodies, current = [], None
    for line in markdown.splitlines():
        if line == "$$":
            if current is None:
                current = []
            else:
                bodies.append("\n".join(current))
                current = None
        elif current is not None:
            assert line.strip(), "a blank line ends a paragraph inside $$ in MyST"
            current.append(line)
    assert current is None, "unclosed $$ block"
    return bodies


def test_every_equation_is_an_aligned_environment_in_dollars(seed_markdown: str) -> None:
    bodies = display_blocks(seed_markdown)
    equations = [b for b in blocks(derive("seed")) if isinstance(b, Equation)]
    assert bodies == [equation.latex for equation in equations]
    assert all(
        body.startswith(r"\begin{aligned}") and body.endswith(r"\end{aligned}") for body in bodies
    )


def test_no_bare_environment_outside_dollars(seed_markdown: str) -> None:
    outside = re.sub(r"^\$\$\n.*?\n\$\$$", "", seed_markdown, flags=re.MULTILINE | re.DOTALL)
    assert r"\begin{" not in outside


def test_title_sections_and_inline_math(seed_markdown: str) -> None:
    lines = seed_markdown.splitlines()
    assert lines[0] == "# Backpropagation, step by step: seed (2-3-2)"
    assert "## Notation" in lines and "## Gradients" in lines and "### Layer 1" in lines
    assert r"uses $\operatorname{ReLU}'(0) = 0$, one of the usual choices" in seed_markdown


def test_markdown_text_escapes_syntax() -> None:
    assert markdown_text("a_1 * [b] $5 <c> #d") == r"a\_1 \* \[b\] \$5 \<c\> \#d"


def test_sections_and_expanded_options() -> None:
    markdown = derive("seed").to_markdown(sections=["loss"], expanded=False)
    assert markdown.splitlines()[2] == "## Loss"
    assert "## Notation" not in markdown


def test_golden_markdown(seed_markdown: str) -> None:
    assert seed_markdown == (GOLDEN / "seed.md").read_text("utf-8"), (
        "the Markdown output changed: review it, then run python tests/regenerate_golden.py"
    )


def test_cli_markdown(capsys: pytest.CaptureFixture[str], seed_markdown: str) -> None:
    assert main(["derive", "--format", "markdown"]) == 0
    assert capsys.readouterr().out == seed_markdown
