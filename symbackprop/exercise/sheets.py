"""The students' sheets and the lecturer's key, in Markdown and LaTeX.

Formulas (the layer equations, the activations, the loss, exact answers) are printed by the
project's SymPy LaTeX printer from expressions; the numbers are :class:`DecimalNumber` atoms,
printed digit for digit.
"""

from __future__ import annotations

from collections.abc import Iterator

from sympy import Eq, Expr, ImmutableMatrix, MatrixSymbol, Rational, Symbol

from ..network import SymbolicNetwork
from ..picture.tikz import PACKAGES
from ..render.figure import Figure, figure_html, figure_latex
from ..render.latex_printer import DecimalNumber, latex, latex_text
from ..spec import NetworkSpec
from ..spec_writer import _value
from .draw import PLACES
from .key import TOLERANCE, Exercises, Student

#: LaTeX longer than this does not fit a line of the key's PDF: key.md and key.json carry it.
LONG_FORM = 400

_PREAMBLE = (
    "\\documentclass[11pt]{article}\n\\usepackage[margin=2cm]{geometry}\n"
    "\\usepackage{amsmath,amssymb}\n" + PACKAGES + "\\setlength{\\parindent}{0pt}\n"
)


def picture(spec: NetworkSpec, fmt: str) -> str:
    """The network's picture in ``fmt`` ("latex" or "markdown"): a TikZ figure or inline SVG.

    It shows only the given numbers (x, W, b and y), never an answer: the units carry their
    names and the loss is "J = ?" (:func:`~symbackprop.picture.build.given_diagram`).
    """
    from ..picture.build import given_diagram
    from ..picture.layout import layout
    from ..picture.svg import to_svg
    from ..picture.tikz import to_tikz

    drawn = layout(given_diagram(spec))
    block = Figure(to_svg(drawn, document=False).rstrip("\n"), to_tikz(drawn).rstrip("\n"))
    return figure_latex(block) if fmt == "latex" else figure_html(block)


def _decimal(value: Rational) -> DecimalNumber:
    return DecimalNumber(_value(value))


def _numbers(spec: NetworkSpec) -> Iterator[tuple[str, ImmutableMatrix]]:
    """The given numbers, named as in the notation: W^(1), b^(1), ..., x, y."""
    for l, w in enumerate(spec.weights):
        yield f"W^({l + 1})", w
        if spec.biases is not None:
            yield f"b^({l + 1})", spec.biases[l]
    yield "x", spec.x
    yield "y", spec.y


def _given(spec: NetworkSpec) -> list[str]:
    """One LaTeX equation per given matrix: W^{(1)} = [...]."""
    return [
        latex(Eq(Symbol(name), matrix.applyfunc(_decimal), evaluate=False))
        for name, matrix in _numbers(spec)
    ]


def _model(network: SymbolicNetwork) -> list[str]:
    """The layer equations, one activation definition per layer, and the loss, in LaTeX."""
    lines = []
    previous = "x"
    for layer in network.layers:
        n, m = layer.size, layer.weights.cols
        l = layer.index + 1
        z = MatrixSymbol(f"z^({l})", n, 1)
        w, a = MatrixSymbol(f"W^({l})", n, m), MatrixSymbol(previous, m, 1)
        right: Expr = w * a
        if layer.biases is not None:
            right = right + MatrixSymbol(f"b^({l})", n, 1)
        lines.append(latex(Eq(z, right, evaluate=False)))
        lines.append(latex(Eq(layer.activation[0], layer.a_definition[0], evaluate=False)))
        previous = f"a^({l})"
    lines.append(latex(Eq(Symbol("J"), network.loss_definition, evaluate=False)))
    return lines


def _intro(exercises: Exercises, student: Student) -> str:
    spec = student.spec
    samples = "one sample" if spec.samples == 1 else f"a batch of {spec.samples} samples (columns)"
    step = ""
    if spec.training is not None:
        step = (
            f" Then take one gradient-descent step with learning rate "
            f"{_value(spec.training.learning_rate)}."
        )
    return (
        f"The {exercises.title}, {samples}. Compute the forward pass, the loss and every "
        f"gradient by hand, to {PLACES} decimal places (answers within {TOLERANCE} count)."
        f"{step} The answer tables count entries from 0: z1[0] is the first unit of layer 1. "
        "Each activation is shown for the first unit of its layer; the others follow alike."
    )


# ----------------------------------------------------------------------------- Markdown


def sheet_markdown(exercises: Exercises, student: Student) -> str:
    """One student's sheet in Markdown (math in $$ blocks)."""
    lines = [f"# Backpropagation exercise, sheet {student.label}", "", _intro(exercises, student)]
    if figure := picture(student.spec, "markdown"):
        lines += ["", figure]
    lines += ["", "## The network", ""]
    lines += [f"$$\n{line}\n$$\n" for line in _model(exercises.network)]
    lines += ["## The numbers", ""]
    lines += [f"$$\n{line}\n$$\n" for line in _given(student.spec)]
    lines += ["## Your answers", ""]
    for key in dict.fromkeys(a.key for a in student.answers):
        lines += _blank_markdown(key, student.shape(key))
    return "\n".join(lines).rstrip() + "\n"


def _blank_markdown(key: str, shape: tuple[int, int]) -> list[str]:
    rows, cols = shape
    header = f"| `{key}` | " + " | ".join(f"col {j}" for j in range(cols)) + " |"
    rule = "|---|" + "---|" * cols
    body = [f"| row {i} | " + " | ".join(" " for _ in range(cols)) + " |" for i in range(rows)]
    return [header, rule, *body, ""]


def key_markdown(exercises: Exercises) -> str:
    """The lecturer's key: every answer of every sheet, exact and to 4 decimals."""
    lines = [f"# Answer key: {exercises.title}, seed {exercises.seed}", ""]
    for student in exercises.students:
        lines += [f"## Sheet {student.label}", ""]
        if student.unstable:
            lines += [_unstable_note(student), ""]
        lines += ["| entry | exact | answer |", "|---|---|---|"]
        lines += [f"| `{a.name}` | `{a.exact}` | {a.rounded} |" for a in student.answers]
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- LaTeX


def sheet_latex(exercises: Exercises, student: Student) -> str:
    """One student's sheet as a LaTeX document for pdflatex."""
    lines = [_PREAMBLE, "\\begin{document}"]
    lines.append(f"\\section*{{Backpropagation exercise, sheet {student.label}}}")
    lines.append(latex_text(_intro(exercises, student)))
    if figure := picture(student.spec, "latex"):
        lines.append(figure)
    lines.append("\\subsection*{The network}")
    lines += [f"\\[ {line} \\]" for line in _model(exercises.network)]
    lines.append("\\subsection*{The numbers}")
    lines += [f"\\[ {line} \\]" for line in _given(student.spec)]
    lines.append("\\subsection*{Your answers}")
    for key in dict.fromkeys(a.key for a in student.answers):
        lines += _blank_latex(key, student.shape(key))
    lines.append("\\end{document}")
    return "\n".join(lines) + "\n"


def _blank_latex(key: str, shape: tuple[int, int]) -> list[str]:
    rows, cols = shape
    spec = "|l|" + "p{2.2cm}|" * cols
    lines = [
        "\\par\\medskip\\noindent",
        f"\\begin{{tabular}}{{{spec}}}\\hline",
        f"\\texttt{{{latex_text(key)}}} & "
        + " & ".join(f"col {j}" for j in range(cols))
        + " \\\\\\hline",
    ]
    lines += [
        f"row {i} & " + " & ".join("" for _ in range(cols)) + " \\\\[1.5ex]\\hline"
        for i in range(rows)
    ]
    lines.append("\\end{tabular}")
    return lines


def key_latex(exercises: Exercises) -> str:
    """The lecturer's key as a LaTeX document: each answer exact and to 4 decimals."""
    lines = [_PREAMBLE, "\\begin{document}"]
    lines.append(f"\\section*{{Answer key: {latex_text(exercises.title)}, seed {exercises.seed}}}")
    for student in exercises.students:
        lines.append(f"\\subsection*{{Sheet {student.label}}}")
        if student.unstable:
            lines.append(latex_text(_unstable_note(student)))
        for a in student.answers:
            exact = a.exact_latex
            if len(exact) > LONG_FORM:
                exact = r"\text{(exact form in key.md and key.json)}"
            lines.append(
                f"\\[ \\texttt{{{latex_text(a.name)}}} = {exact} \\approx {a.rounded} \\]"
            )
    lines.append("\\end{document}")
    return "\n".join(lines) + "\n"


def _unstable_note(student: Student) -> str:
    return (
        f"By hand, with every intermediate rounded to {PLACES} decimals, these answers may "
        f"differ in the last decimal: {', '.join(student.unstable)} (no draw kept them all)."
    )


def answers_template(student: Student) -> str:
    """The answer file a student fills in (``[expected]`` form) for ``symbackprop grade``."""
    lines = [
        f"# Answers of sheet {student.label}: replace each 0 by your value to {PLACES} decimals,",
        "# then: symbackprop grade key.json this-file.toml",
        f'student = "{student.label}"',
        "",
        "[expected]",
    ]
    for key in dict.fromkeys(a.key for a in student.answers):
        rows, cols = student.shape(key)
        if key.startswith("loss"):
            lines.append(f"{key} = 0")
        elif student.spec.batched and key.startswith(("z", "a", "yhat")):
            lines.append(f"{key} = {[[0] * rows for _ in range(cols)]}")  # one row per sample
        elif cols == 1 and not key.startswith(("dW", "W")):
            lines.append(f"{key} = {[0] * rows}")
        else:
            lines.append(f"{key} = {[[0] * cols for _ in range(rows)]}")
    return "\n".join(lines) + "\n"
