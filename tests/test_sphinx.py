"""Tests for symbackprop.sphinx: tiny Sphinx projects built in a temporary directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from sphinx.application import Sphinx
from sphinx.cmd.build import build_main

import symbackprop.sphinx
from symbackprop.render.html import MATH_COLOUR, MATH_STYLE
from symbackprop.render.mathml import validate_core
from symbackprop.sphinx.directives import sections_option, spec_line
from symbackprop.sphinx.html_math import display_equations

CONF = 'extensions = ["symbackprop.sphinx"]\nhtml_math_renderer = "symbackprop"\n'
MATH_ELEMENT = re.compile(r"<math\b.*?</math>", re.DOTALL)

SPEC = """\
[network]
layers = [2, 2, 1]
activations = ["tanh", "sigmoid"]
loss = "squared_error"

[parameters]
W1 = [[0.5, -0.25], [0.75, 0.5]]
b1 = [0.0, 0.125]
W2 = [[1.0, -0.5]]
b2 = [0.25]

[data]
x = [1.0, 2.0]
y = [1]
"""


def write_project(root: Path, files: dict[str, str], conf: str = CONF) -> Path:
    """Write ``conf.py`` and ``files`` (dedented) under ``root``; return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "conf.py").write_text(conf, encoding="utf-8")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def sphinx_build(source: Path, *options: str, builder: str = "html") -> tuple[int, str, Path]:
    """Run ``sphinx-build`` in-process; return the exit status, the warnings and the output dir."""
    out = source / "_build" / builder
    warnings = source / "_build" / f"{builder}-warnings.txt"
    out.mkdir(parents=True, exist_ok=True)
    status = build_main(
        ["-q", "-b", builder, "-w", str(warnings), *options, str(source), str(out)]
    )
    return status, warnings.read_text(encoding="utf-8"), out


def page(out: Path, name: str = "index") -> str:
    return (out / f"{name}.html").read_text(encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    def make(files: dict[str, str], conf: str = CONF) -> Path:
        return write_project(tmp_path / "docs", files, conf)

    return make


# --- HTML: MathML, no MathJax -----------------------------------------------------------------


def test_derivation_becomes_mathml_core_without_mathjax(project: Callable[..., Path]) -> None:
    source = project(
        {
            "index.rst": """\
            Seed
            ====

            Inline :math:`z^{(1)} = W^{(1)} x + b^{(1)}` and a display equation:

            .. math::

               \\hat{y}_{k} = \\frac{e^{z_{k}}}{\\sum_{j=1}^{2} e^{z_{j}}}

            .. backprop-derivation:: seed
            """
        }
    )
    status, warnings, out = sphinx_build(source, "-W")
    assert status == 0, warnings
    assert warnings == ""
    html = page(out)
    maths = MATH_ELEMENT.findall(html)
    assert len(maths) > 5
    for mathml in maths:
        validate_core(mathml)
    assert 'display="inline"' in html and 'display="block"' in html
    assert 'class="symbackprop-derivation' in html
    for built in out.rglob("*.html"):
        assert "mathjax" not in built.read_text(encoding="utf-8").lower(), built
    assert "\\frac" not in html  # nothing left for a JavaScript renderer
    stylesheet = (out / "_static" / "symbackprop-math.css").read_text(encoding="utf-8")
    assert f"math {{ {MATH_STYLE} color: {MATH_COLOUR}; }}" in stylesheet  # as --format html
    assert "white-space: pre-wrap" in stylesheet  # check reports wrap instead of being cut off
    assert "_static/symbackprop-math.css" in html
    assert "the layer's activation function" in html  # the text is final: no smart quotes


def test_numbered_equation_has_number_and_permalink(project: Callable[..., Path]) -> None:
    source = project(
        {
            "index.rst": """\
            Numbers
            =======

            .. math::
               :label: chain

               \\delta^{(1)} &= \\left( W^{(2)} \\right)^{\\top} \\delta^{(2)} \\\\
                             &= a \\odot b

            See :eq:`chain`.
            """
        }
    )
    status, warnings, out = sphinx_build(source, "-W")
    assert status == 0, warnings
    html = page(out)
    assert 'id="equation-chain"' in html
    assert '<span class="eqno">(1)' in html
    assert 'data-environment="split"' in html


def test_unconvertible_math_is_a_warning_not_a_traceback(project: Callable[..., Path]) -> None:
    source = project({"index.rst": "Bad\n===\n\nSee :math:`\\notacommand{x}` here.\n"})
    status, warnings, out = sphinx_build(source)
    assert status == 0
    assert "index.rst:4: WARNING: cannot convert equation" in warnings
    assert "[symbackprop.mathml]" in warnings
    assert "Traceback" not in warnings
    assert "<code>\\notacommand{x}</code>" in page(out)


@pytest.mark.parametrize(
    ("latex", "nowrap", "expected"),
    [
        ("x = 1", False, ["x = 1"]),
        ("a = b\n\nc = d", False, ["a = b", "c = d"]),
        ("a &= b \\\\ &= c", False, ["\\begin{split}a &= b \\\\ &= c\\end{split}"]),
        (
            "\\begin{aligned} a &= b \\end{aligned}",
            False,
            ["\\begin{aligned} a &= b \\end{aligned}"],
        ),
        ("\\begin{align*} a &= b \\end{align*}", True, ["\\begin{aligned}a &= b\\end{aligned}"]),
        ("\\begin{equation} x \\end{equation}", True, ["x"]),
    ],
    ids=["single", "two-equations", "split", "environment", "nowrap-align", "nowrap-equation"],
)
def test_display_equations_follow_sphinx_conventions(
    latex: str, nowrap: bool, expected: list[str]
) -> None:
    assert display_equations(latex, nowrap=nowrap) == expected


# --- LaTeX builder -------------------------------------------------------------------------------


def test_latex_builder_gets_latex(project: Callable[..., Path]) -> None:
    source = project(
        {"index.rst": "Seed\n====\n\n.. backprop-derivation:: seed\n   :sections: gradients\n"}
    )
    status, warnings, out = sphinx_build(source, "-W", builder="latex")
    assert status == 0, warnings
    tex = "".join(path.read_text(encoding="utf-8") for path in out.glob("*.tex"))
    assert "\\partial" in tex
    assert "<math" not in tex


# --- the directive: options, checks and errors -------------------------------------------------


def test_spec_file_relative_to_the_document(project: Callable[..., Path]) -> None:
    source = project(
        {
            "guide/page.rst": """\
            Page
            ====

            .. backprop-derivation:: specs/net.toml
               :sections: forward
               :no-expanded:
            """,
            "guide/specs/net.toml": SPEC,
            "index.rst": "Index\n=====\n\n.. toctree::\n\n   guide/page\n",
        }
    )
    status, warnings, out = sphinx_build(source, "-W")
    assert status == 0, warnings
    assert "<math" in page(out, "guide/page")


def test_check_failure_is_a_warning_that_fails_dash_w(project: Callable[..., Path]) -> None:
    source = project(
        {"index.rst": "Notebook\n========\n\n.. backprop-derivation:: seed-notebook\n   :check:\n"}
    )
    status, warnings, _ = sphinx_build(source, "-W")
    assert status != 0
    assert "index.rst:4: WARNING: check failed for 'seed-notebook': 6 entries: " in warnings
    for entry in ("dW2[0,1]", "dW2[0,2]", "dW2[1,1]", "dW2[1,2]", "db2[0]", "db2[1]"):
        assert entry in warnings
    assert "[symbackprop.check]" in warnings


def test_passing_check_builds_cleanly(project: Callable[..., Path]) -> None:
    source = project({"index.rst": "Seed\n====\n\n.. backprop-derivation:: seed\n   :check:\n"})
    status, warnings, out = sphinx_build(source, "-W")
    assert status == 0, warnings
    assert 'class="symbackprop-checked"' in page(out)


@pytest.mark.parametrize(
    ("spec", "expect", "fails"),
    [("seed", "pass", False), ("seed-notebook", "fail", False), ("seed", "fail", True)],
    ids=["seed-passes", "notebook-fails-as-expected", "seed-unexpectedly-passes"],
)
def test_check_directive_shows_report_and_warns_on_unexpected_outcome(
    project: Callable[..., Path], spec: str, expect: str, fails: bool
) -> None:
    rst = f"Check\n=====\n\n.. backprop-check:: {spec}\n   :expect: {expect}\n"
    source = project({"index.rst": rst})
    status, warnings, out = sphinx_build(source, "-W")
    assert (status != 0) == fails, warnings
    assert ("[symbackprop.check]" in warnings) == fails
    assert "symbackprop-check" in page(out)


BAD_SPECS = {
    "unknown-activation": (
        SPEC.replace('["tanh", "sigmoid"]', '["tanhh", "sigmoid"]'),
        "net.toml:3: [network] activations[0]: unknown activation 'tanhh'",
    ),
    "wrong-shape": (
        SPEC.replace("W2 = [[1.0, -0.5]]", "W2 = [[1.0, -0.5, 2.0]]"),
        "net.toml:9: [parameters] W2[0]: expected a row of 2 numbers",
    ),
    "toml-syntax": (
        SPEC.replace('loss = "squared_error"', "loss = squared_error"),
        "net.toml:4: not valid TOML: Invalid value (at line 4, column 8)",
    ),
    "missing-table": (SPEC.split("[data]")[0], "net.toml: [data]: missing table"),
}


@pytest.mark.parametrize(("text", "message"), BAD_SPECS.values(), ids=BAD_SPECS.keys())
def test_bad_spec_is_a_warning_with_file_and_line(
    project: Callable[..., Path], text: str, message: str
) -> None:
    source = project(
        {
            "index.rst": "Bad\n===\n\nText.\n\n.. backprop-derivation:: net.toml\n",
            "net.toml": text,
        }
    )
    status, warnings, _ = sphinx_build(source)
    assert status == 0
    assert "Traceback" not in warnings
    location = f"{source / 'index.rst'}:6: WARNING: bad spec: {source / message}"
    assert location in warnings, warnings
    assert "[symbackprop.spec]" in warnings


def test_missing_spec_names_the_built_in_examples(project: Callable[..., Path]) -> None:
    source = project({"index.rst": "Bad\n===\n\n.. backprop-derivation:: nowhere.toml\n"})
    status, warnings, _ = sphinx_build(source)
    assert status == 0
    assert "index.rst:4: WARNING: bad spec: " in warnings
    assert "nowhere.toml: cannot read spec" in warnings
    assert "not a built-in example either (" in warnings


def test_unknown_section_is_reported_with_the_choices(project: Callable[..., Path]) -> None:
    source = project(
        {"index.rst": "Bad\n===\n\n.. backprop-derivation:: seed\n   :sections: forwards\n"}
    )
    _, warnings, _ = sphinx_build(source)
    assert "index.rst:4: ERROR: " in warnings
    assert "unknown section 'forwards'; expected one of: notation, forward, loss" in warnings


def test_sections_option_puts_sections_in_document_order() -> None:
    assert sections_option(" gradients, forward ") == ("forward", "gradients")
    with pytest.raises(ValueError, match=r"^unknown section 'x'"):
        sections_option("forward, x")


@pytest.mark.parametrize(
    ("key", "line"),
    [
        ("[network] layers", 2),
        ("[network] activations[1]", 3),
        ("[network] loss.reduction", 4),
        ("[parameters] W2[0][1]", 9),
        ("[data] y", 14),
        ("[data]", 12),
        ("[expected]", None),
        ("", None),
    ],
)
def test_spec_line_finds_the_key(key: str, line: int | None) -> None:
    assert spec_line(SPEC, key) == line


# --- incremental builds -------------------------------------------------------------------------


def test_changing_the_spec_rebuilds_only_the_documents_using_it(tmp_path: Path) -> None:
    source = write_project(
        tmp_path / "docs",
        {
            "index.rst": "Index\n=====\n\n.. toctree::\n\n   uses\n   other\n",
            "uses.rst": "Uses\n====\n\n.. backprop-derivation:: net.toml\n   :sections: loss\n",
            "other.rst": "Other\n=====\n\nNo spec here: :math:`x^2`.\n",
            "net.toml": SPEC,
        },
    )

    def build() -> tuple[Sphinx, list[str]]:
        app = Sphinx(
            source, source, source / "_build/html", source / "_build/doctrees", "html",
            status=StringIO(), warning=StringIO(),
        )  # fmt: skip
        read: list[str] = []
        # The event, not the console log: the log is coloured when CI sets FORCE_COLOR.
        app.connect("env-before-read-docs", lambda app, env, docnames: read.extend(docnames))
        app.build()
        return app, read

    app, read = build()
    assert sorted(read) == ["index", "other", "uses"]
    assert str(source / "net.toml") in {str(p) for p in app.env.dependencies["uses"]}
    before = page(source / "_build/html", "uses")

    spec = source / "net.toml"
    spec.write_text(SPEC.replace("y = [1]", "y = [0]"), encoding="utf-8")
    later = spec.stat().st_mtime + 10
    os.utime(spec, (later, later))
    _, read = build()
    assert read == ["uses"]
    assert page(source / "_build/html", "uses") != before


# --- packaging -----------------------------------------------------------------------------------


def test_setup_declares_parallel_safety() -> None:
    class App:
        def __getattr__(self, name: str) -> Callable[..., None]:
            return lambda *args, **kwargs: None

    metadata = symbackprop.sphinx.setup(App())  # type: ignore[arg-type]
    assert metadata["parallel_read_safe"] is True
    assert metadata["parallel_write_safe"] is True


def test_importing_symbackprop_does_not_import_sphinx() -> None:
    code = (
        "import sys, symbackprop, symbackprop.render, symbackprop.cli\n"
        "symbackprop.derive('seed')\n"
        "loaded = sorted(m for m in sys.modules if m == 'sphinx' or m.startswith('sphinx.')\n"
        "                or m.startswith('docutils'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
