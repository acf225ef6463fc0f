"""A derivation -> :class:`~.diagram.Diagram`: the exact values rounded to short decimals.

>>> from symbackprop import derive
>>> diagram(derive("seed")).columns[1].units[0][0].plain
'0.3'
"""

from __future__ import annotations

from typing import Any

from sympy import Expr

from ..errors import SymbackpropError
from .diagram import COLLAPSE_WIDTH, GRADIENT_MODES, Column, Diagram, Text
from .numbers import number
from .stack_build import stack_diagram

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


def _layer_name(l: int) -> tuple[str, str]:
    """The plain and TeX superscript of 1-based layer ``l``."""
    return f"({l})".translate(_SUP), f"^{{({l})}}"


def diagram(derivation: Any, gradients: str = "weights") -> Diagram:
    """The picture of ``derivation`` (an MLP's or a stack's).

    Args:
        derivation: What to draw.
        gradients: ``"weights"`` labels edges and biases with their values, ``"both"`` adds
            dJ/dW and dJ/db, ``"only"`` shows the gradients alone.

    Raises:
        SymbackpropError: An unknown ``gradients`` mode.
    """
    if gradients not in GRADIENT_MODES:
        raise SymbackpropError(
            f"unknown gradient labels '{gradients}'; expected one of: {', '.join(GRADIENT_MODES)}"
        )
    if getattr(derivation, "kind", "") == "stack":
        return stack_diagram(derivation, gradients)
    return _mlp_diagram(derivation, gradients)


def _mlp_diagram(derivation: Any, mode: str) -> Diagram:
    spec, values = derivation.spec, derivation.values
    columns = [_input_column(derivation, spec)]
    edges = []
    for l, weights in enumerate(spec.weights):
        columns.append(_layer_column(derivation, l, mode))
        collapsed = columns[-1].collapsed or columns[-2].collapsed
        gradient = values.gradients[f"W{l + 1}"]
        edges.append(
            ()
            if collapsed
            else tuple(
                tuple(
                    _pair(derivation, weights[i, j], gradient[i, j], mode, "", "")
                    for j in range(weights.cols)
                )
                for i in range(weights.rows)
            )
        )
    targets = _targets(derivation, spec, columns[-1])
    loss = (number(derivation, values.forward["loss"][0, 0], name="J|J"),)
    return Diagram(tuple(columns), tuple(edges), targets, loss, _legend(spec, mode))


def given_diagram(spec: Any) -> Diagram:
    """The picture of an exercise: only the numbers ``spec`` gives (x, W, b and y), each unit
    named instead of its activation, and the loss left to compute.

    >>> from symbackprop.spec import load_spec
    >>> given_diagram(load_spec("seed")).columns[1].units[0][0].plain
    'a₁⁽¹⁾'
    """
    columns = [_input_column(spec, spec)]
    edges = []
    for l, weights in enumerate(spec.weights):
        header, name, tex_name = _header(spec, l)
        if weights.rows > COLLAPSE_WIDTH:
            columns.append(_collapsed(spec, l, header, name, tex_name))
        else:
            columns.append(_given_column(spec, l, header, name, tex_name))
        collapsed = columns[-1].collapsed or columns[-2].collapsed
        edges.append(
            ()
            if collapsed
            else tuple(
                tuple((number(spec, weights[i, j]),) for j in range(weights.cols))
                for i in range(weights.rows)
            )
        )
    loss = (Text("J = ?", "$J = {?}$"),)
    legend = "Given: the inputs x, the weights W on the edges, the biases b and the targets y"
    tex_legend = (
        "Given: the inputs $x$, the weights $W$ on the edges, the biases $b$ and the targets $y$"
    )
    if spec.batched:
        legend += f"; sample 1 of {spec.x.cols}"
        tex_legend += f"; sample 1 of {spec.x.cols}"
    return Diagram(
        tuple(columns),
        tuple(edges),
        _targets(spec, spec, columns[-1]),
        loss,
        (Text(legend + ".", tex_legend + ".", "name"),),
    )


def _given_column(spec: Any, l: int, header: tuple[Text, ...], name: str, tex_name: str) -> Column:
    """Layer ``l``'s units named (a₁⁽¹⁾, ..., ŷ₁, ...), with their given biases."""
    plain_head, tex_head = (name[0], tex_name) if name == "ŷ" else ("a", "a")
    _, tex_sup = _layer_name(l + 1)
    sup = "" if name == "ŷ" else name[1:]
    units = []
    for i in range(spec.weights[l].rows):
        sub = str(i + 1).translate(_SUB)
        tex = f"${tex_head}_{{{i + 1}}}$" if name == "ŷ" else f"$a{tex_sup}_{{{i + 1}}}$"
        units.append((Text(f"{plain_head}{sub}{sup}", tex, "name"),))
    biases: tuple[tuple[Text, ...], ...] = ()
    if spec.biases is not None:
        biases = tuple(
            (number(spec, spec.biases[l][i, 0], "value", "b|b"),)
            for i in range(spec.weights[l].rows)
        )
    return Column(header, tuple(units), biases)


def _targets(source: Any, spec: Any, output: Column) -> tuple[tuple[Text, ...], ...]:
    """The target beside each output unit (none beside a box)."""
    if output.collapsed:
        return ()
    y = spec.y
    return tuple(
        (number(source, y[k, 0], name=f"y{str(k + 1).translate(_SUB)}|y_{{{k + 1}}}"),)
        for k in range(y.rows)
    )


def _pair(
    derivation: Any, value: Expr, gradient: Expr, mode: str, plain: str, tex: str
) -> tuple[Text, ...]:
    """The label lines of a parameter: its value, its gradient, or both."""
    value_name = f"{plain}|{tex}" if plain else ""
    gradient_name = f"∂J/∂{plain}|\\partial J/\\partial {tex}" if plain else ""
    lines = []
    if mode != "only":
        lines.append(number(derivation, value, "value", value_name))
    if mode != "weights":
        lines.append(number(derivation, gradient, "gradient", gradient_name))
    return tuple(lines)


def _input_column(derivation: Any, spec: Any) -> Column:
    x = spec.x
    header = (Text("x", "$x$", "name"),)
    if x.rows > COLLAPSE_WIDTH:
        return Column(header, (), box=(Text(f"x: {x.rows} inputs", f"$x$: {x.rows} inputs"),))
    return Column(header, tuple((number(derivation, x[j, 0]),) for j in range(x.rows)))


def _header(spec: Any, l: int) -> tuple[tuple[Text, ...], str, str]:
    """The column header of layer ``l`` (0-based), and the layer's plain and TeX name."""
    last = l == len(spec.weights) - 1
    sup, tex_sup = _layer_name(l + 1)
    activation = spec.activations[l].name
    tex_activation = activation.replace("_", r"\_")
    name, tex_name = ("ŷ", r"\hat{y}") if last else (f"a{sup}", f"a{tex_sup}")
    header = (
        Text(
            f"{name} = {activation}(z{sup})",
            f"${tex_name} = \\mathrm{{{tex_activation}}}(z{tex_sup})$",
            "name",
        ),
    )
    return header, name, tex_name


def _collapsed(spec: Any, l: int, header: tuple[Text, ...], name: str, tex_name: str) -> Column:
    """Layer ``l`` as one box: its size, activation and parameter count."""
    weights = spec.weights[l]
    activation = spec.activations[l].name
    tex_activation = activation.replace("_", r"\_")
    count = weights.rows * weights.cols + (weights.rows if spec.biases is not None else 0)
    box = (
        Text(f"{name}: {weights.rows} units", f"${tex_name}$: {weights.rows} units"),
        Text(activation, f"\\textrm{{{tex_activation}}}"),
        Text(f"{count} parameters", f"{count} parameters"),
    )
    return Column(header, (), box=box)


def _layer_column(derivation: Any, l: int, mode: str) -> Column:
    spec = derivation.spec
    header, name, tex_name = _header(spec, l)
    if spec.weights[l].rows > COLLAPSE_WIDTH:
        return _collapsed(spec, l, header, name, tex_name)
    a = derivation.values.forward["yhat" if l == len(spec.weights) - 1 else f"a{l + 1}"]
    units = tuple((number(derivation, a[i, 0]),) for i in range(a.rows))
    biases: tuple[tuple[Text, ...], ...] = ()
    if spec.biases is not None:
        gradient = derivation.values.gradients[f"b{l + 1}"]
        biases = tuple(
            _pair(derivation, spec.biases[l][i, 0], gradient[i, 0], mode, "b", "b")
            for i in range(a.rows)
        )
    return Column(header, units, biases)


def _legend(spec: Any, mode: str) -> tuple[Text, ...]:
    edges = {
        "weights": ("weights W", "weights $W$"),
        "both": (
            "weights W (black) and ∂J/∂W (red)",
            r"weights $W$ (black) and $\partial J/\partial W$ (red)",
        ),
        "only": ("∂J/∂W", r"$\partial J/\partial W$"),
    }[mode]
    plain = f"Units: activations at the documented point; edges: {edges[0]}"
    tex = f"Units: activations at the documented point; edges: {edges[1]}"
    if spec.batched:
        m = spec.x.cols
        plain += f"; sample 1 of {m}"
        tex += f"; sample 1 of {m}"
    return (Text(plain + ".", tex + ".", "name"),)
