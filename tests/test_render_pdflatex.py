"""The LaTeX output compiles with pdflatex, with no errors and nothing running off the page.

Skipped when pdflatex is missing, unless ``SYMBACKPROP_REQUIRE_LATEX=1`` (CI sets it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from symbackprop import derive

TESTS = Path(__file__).parent
REQUIRE_ENV = "SYMBACKPROP_REQUIRE_LATEX"
SPECS = {
    "seed": "seed",
    "cnn": "cnn",
    **{path.stem: path for path in sorted((TESTS / "specs").glob("*.toml"))},
}

pytestmark = pytest.mark.latex


def require_pdflatex() -> str:
    """The pdflatex executable; skip (or fail when required) if it is missing."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"pdflatex is not installed, but {REQUIRE_ENV}=1")
        pytest.skip("pdflatex is not installed")
    return pdflatex


def compile_latex(source: str, folder: Path, name: str) -> str:
    """Run pdflatex on ``source``; return the log. Fails the test on a LaTeX error."""
    pdflatex = require_pdflatex()
    (folder / f"{name}.tex").write_text(source, encoding="utf-8")
    result = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (folder / f"{name}.log").read_text("latin-1")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, f"pdflatex failed: {errors}\n{log[-3000:]}"
    assert (folder / f"{name}.pdf").exists()
    return log


def overfull(log: str) -> list[str]:
    """Every overfull box warning (an equation or paragraph running off the page)."""
    return re.findall(r"^Overfull \\[hv]box .*$", log, flags=re.MULTILINE)


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_standalone_document_compiles_without_overfull_boxes(spec: object, tmp_path: Path) -> None:
    log = compile_latex(derive(spec).to_latex(standalone=True), tmp_path, "derivation")
    assert overfull(log) == []


def test_fragment_needs_only_amsmath_and_amssymb(tmp_path: Path) -> None:
    (tmp_path / "fragment.tex").write_text(derive("seed").to_latex(), encoding="utf-8")
    wrapper = (
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\usepackage{amssymb}\n"
        "\\begin{document}\n\\input{fragment.tex}\n\\end{document}\n"
    )
    compile_latex(wrapper, tmp_path, "wrapper")


def test_missing_pdflatex_skips_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="pdflatex is not installed"):
        require_pdflatex()
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="SYMBACKPROP_REQUIRE_LATEX=1"):
        require_pdflatex()
