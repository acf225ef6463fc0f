"""The docs' recipes (``docs/recipes/``) built as written: each ``build.sh`` in a fresh venv.

Building needs the recipe's tools from the package registry, so it runs only when
``SYMBACKPROP_REQUIRE_RECIPES=1`` (CI sets it) and is skipped otherwise. Each recipe gets a new
virtual environment with this checkout installed, then its own ``build.sh`` runs in a copy of
its directory. ``SYMBACKPROP_RECIPE_VENVS=DIR`` keeps the environments in ``DIR`` between runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "docs" / "recipes"
REQUIRE_ENV = "SYMBACKPROP_REQUIRE_RECIPES"
VENVS_ENV = "SYMBACKPROP_RECIPE_VENVS"
MATH = re.compile(r"<math\b.*?</math>", re.DOTALL)
MATHJAX = re.compile(r"<script[^>]*mathjax|MathJax\s*=", re.IGNORECASE)


def recipe_venv(name: str, tmp_path: Path) -> Path:
    """A virtual environment with this checkout installed (``symbackprop[docs]``); its ``bin``."""
    if os.environ.get(REQUIRE_ENV) != "1":
        pytest.skip(f"set {REQUIRE_ENV}=1 to install the {name} recipe's tools and build it")
    venv = Path(os.environ[VENVS_ENV]) / name if os.environ.get(VENVS_ENV) else tmp_path / "venv"
    bin_dir = venv / "bin"
    if not (bin_dir / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = [str(bin_dir / "python"), "-m", "pip", "install", "-q", f"{ROOT}[docs]"]
    subprocess.run(install, check=True, capture_output=True)
    return bin_dir


def build(name: str, tmp_path: Path) -> Path:
    """Run the recipe's ``build.sh`` in a copy of its directory; return the copy."""
    bin_dir = recipe_venv(name, tmp_path)
    book = shutil.copytree(RECIPES / name, tmp_path / name)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        ["bash", "-e", "build.sh"], cwd=book, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"{name}/build.sh failed:\n{result.stdout}\n{result.stderr}"
    return book


def test_jupyter_book_recipe_pins_jupyter_book_1() -> None:
    requirements = (RECIPES / "jupyter-book" / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^jupyter-book<2$", requirements, re.MULTILINE)
    script = (RECIPES / "jupyter-book" / "build.sh").read_text(encoding="utf-8")
    assert script.splitlines()[1].startswith("pip install -r requirements.txt")
    page = (ROOT / "docs" / "markdown.rst").read_text(encoding="utf-8")
    assert ".. literalinclude:: recipes/jupyter-book/requirements.txt" in page
    assert ".. literalinclude:: recipes/jupyter-book/build.sh" in page


def test_jupyter_book_recipe_builds_with_mathml(tmp_path: Path) -> None:
    book = build("jupyter-book", tmp_path)
    html = book / "_build" / "html"
    intro = (html / "intro.html").read_text(encoding="utf-8")
    derivation = (html / "derivation.html").read_text(encoding="utf-8")
    assert "Checked while this page was built" in intro
    for page in (intro, derivation):
        assert len(MATH.findall(page)) > 3
        assert not MATHJAX.search(page)  # (the pages' "mathjax_ignore" class is harmless)


def test_mkdocs_recipe_builds_with_the_derive_output(tmp_path: Path) -> None:
    site = build("mkdocs", tmp_path)
    page = (site / "site" / "index.html").read_text(encoding="utf-8")
    marker = (RECIPES / "mkdocs" / "docs" / "index.md").read_text(encoding="utf-8")
    args = re.search(r"<!-- symbackprop (.+?) -->", marker)
    assert args is not None
    fragment = subprocess.run(
        [sys.executable, "-m", "symbackprop", *args[1].split()],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert MATH.findall(page) == MATH.findall(fragment) != []
    assert "<script" not in fragment
