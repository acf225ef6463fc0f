"""Text and JSON for stacks with convolution or pooling (a StackDerivation).

Text summarises each tensor of intermediates by its first :data:`SHOWN` entries; JSON holds
every entry, and gradients as nested lists in the parameter's shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sympy import Expr, Symbol

from .._version import __version__
from ..formats import Omitted, register
from ..layers import LAYERS
from ..notation import entry_name
from ..sympy_code import sympy_code
from .common import code, shown_value
from .sections import resolve
from .text import show

if TYPE_CHECKING:
    from ..stack_derivation import StackDerivation
    from ..stack_spec import StackLayer

#: Entries shown per tensor of intermediates in the text format.
SHOWN = 6
#: Entries shown per gradient in the text format.
SHOWN_GRADIENT = 48


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + (",)" if len(shape) == 1 else ")")


def _parameters(d: StackDerivation, layer: StackLayer) -> list[tuple[str, tuple[int, ...]]]:
    return [
        (key, d.spec.parameters[key].shape)
        for key in layer.parameter_keys.values()
        if key in d.spec.parameters
    ]


def _layer_lines(d: StackDerivation) -> list[str]:
    lines = ["Layers (each textbook backward pass proven equal to the element-wise chain rule)"]
    for layer in d.spec.layers:
        kind = LAYERS[layer.kind]
        act = f" {layer.activation}" if layer.activation is not None else ""
        params = ", ".join(f"{k} {_shape(s)}" for k, s in _parameters(d, layer))
        lines.append(
            f"  {layer.position}. {kind.describe(layer.options)}{act}: "
            f"{_shape(layer.input_shape)} -> {_shape(layer.output_shape)}"
            + (f"; parameters {params}" if params else "")
        )
        lines.append(f"     forward:  {kind.formula}")
        proven = d.proven(layer.position)
        if not d.proofs[layer.position]:
            proven += " to the chain rule"
        lines.append(f"     backward: {kind.backward} ({proven})")
    return lines


def _summarised(symbols: tuple[Symbol, ...], limit: int) -> Iterator[Symbol | str]:
    yield from symbols[:limit]
    if len(symbols) > limit:
        yield f"... {len(symbols) - limit} more (--format json has every entry)"


def _value(d: StackDerivation, value: Expr) -> str:
    """``3/10 = 0.3`` (a short exact decimal written as itself), ``0``, or ``exact  ≈ decimal``."""
    shown = str(d.exact_form(value))
    relation, decimal = shown_value(d, value)
    if relation == "=":
        return shown if shown == decimal else f"{shown} = {decimal}"
    return f"{shown}  ≈ {decimal}"


def _forward_lines(d: StackDerivation) -> list[str]:
    lines = ["Forward pass at the documented point"]
    for stage in d.graph.stages:
        for item in _summarised(stage, SHOWN):
            if isinstance(item, str):
                lines.append(f"  {item}")
            else:
                lines.append(
                    f"  {item} = {show(d.graph.definitions[item])} = {_value(d, d.values[item])}"
                )
    return lines


def _backward_lines(d: StackDerivation) -> list[str]:
    lines = ["Backward pass: dJ/ds = sum over the consumers c of s of dJ/dc * dc/ds"]
    for stage in reversed(d.graph.stages):
        adjoints = tuple(d.adjoints.symbols[s] for s in stage)
        for item in _summarised(adjoints, SHOWN):
            if isinstance(item, str):
                lines.append(f"  {item}")
            else:
                rhs = show(d.adjoints.definitions[item])
                lines.append(f"  {item} = {rhs} = {_value(d, d.values[item])}")
    return lines


def _gradient_lines(d: StackDerivation) -> list[str]:
    lines = ["Gradients (0-based entries, in the parameter's shape)"]
    lines += _entry_lines(d, d.compact, d.gradients, d.graph.parameters)
    if d.data_compact:
        lines.append("Gradients of the data (0-based entries, one row per sample)")
        lines += _entry_lines(d, d.data_compact, d.data_gradients, d.graph.data)
    return lines


def _entry_lines(
    d: StackDerivation,
    compacts: dict[str, np.ndarray],
    exacts: dict[str, np.ndarray],
    symbols: dict[str, np.ndarray],
) -> list[str]:
    """Each gradient entry: its name, compact form, exact form and value."""
    lines = []
    for key, compact in compacts.items():
        indices = list(np.ndindex(*compact.shape))
        for index in indices[:SHOWN_GRADIENT]:
            value = exacts[key][index]
            lines += [
                f"d{key}[{','.join(map(str, index))}] = dJ/d{symbols[key][index]}",
                f"  compact:  {show(compact[index])}",
                f"  exact:    {d.exact_form(value)}",
                f"  value:    {shown_value(d, value)[1]}",
            ]
        if len(indices) > SHOWN_GRADIENT:
            lines.append(f"... {len(indices) - SHOWN_GRADIENT} more entries of d{key}")
    return lines


def notes(d: StackDerivation) -> list[str]:
    """Where the stack is not differentiable at the documented point, and which convention."""
    found = d.nondifferentiable()
    if not found:
        return []
    return [
        f"not differentiable at the documented point: {', '.join(found)} (a tied max-pool "
        "window or a pre-activation exactly 0); the gradient takes the first maximum in "
        f"row-major order and ReLU'(0) = {d.options.relu_prime_at_zero}"
    ]


def _indexing_rule(d: StackDerivation) -> str:
    """The rule of the two namings, with the example of the first gradient entry."""
    key, symbols = next(iter(d.graph.parameters.items()))
    index = (0,) * symbols.ndim
    example = f"d{key}[{','.join(map(str, index))}] = dJ/d{symbols[index]}"
    return f"indexing: names are 0-based (NumPy); the math is 1-based: {example}"


#: The text sections of a stack, by section name.
_TEXT_SECTIONS = {
    "notation": _layer_lines,
    "forward": _forward_lines,
    "backward": _backward_lines,
    "gradients": _gradient_lines,
}


@register("text", stack=True)
def stack_text(
    derivation: StackDerivation,
    *,
    sections: str | Sequence[str] | None = None,
    expanded: bool = True,
) -> str:
    """A stack for a terminal: the ``notation`` (layers), ``forward``, ``backward`` and
    ``gradients`` sections of ``sections`` (default all); ``expanded`` has no effect here."""
    from ..checking.stack import stack_title

    d, chosen = derivation, resolve(sections)
    lines = [
        f"symbackprop derivation of {stack_title(d.spec)}",
        f"ReLU'(0) = {d.options.relu_prime_at_zero}; decimals to {d.options.digits} significant "
        "digits",
        _indexing_rule(d),
        "",
        *[f"note: {n}" for n in notes(d)],
    ]
    for name, section in _TEXT_SECTIONS.items():
        if name in chosen:
            lines += [*section(d), ""]
    return "\n".join(lines)


def _entry(d: StackDerivation, value: Expr) -> dict[str, Any]:
    form = d.exact_form(value)
    return {
        "exact": None if isinstance(form, Omitted) else code(form),
        "decimal": shown_value(d, value)[1],
    }


def _nested(array: np.ndarray, convert: Any) -> Any:
    if array.ndim == 1:
        return [convert(v) for v in array]
    return [_nested(sub, convert) for sub in array]


def _plain(value: Any) -> Any:
    """A layer option for JSON: tuples as lists, exact non-integers as strings (``1/2``)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Expr):
        return int(value) if value.is_Integer else str(value)
    return value


def _layer_json(d: StackDerivation, layer: StackLayer) -> dict[str, Any]:
    kind = LAYERS[layer.kind]
    return {
        "position": layer.position,
        "type": layer.kind,
        "options": {k: _plain(v) for k, v in layer.config},
        "activation": None if layer.activation is None else str(layer.activation),
        "input_shape": list(layer.input_shape),
        "output_shape": list(layer.output_shape),
        "parameters": {k: list(s) for k, s in _parameters(d, layer)},
        "forward": kind.formula,
        "backward": kind.backward,
        "backward_proven": d.proofs[layer.position],
        "backward_proven_at": d.proof_sizes.get(layer.position),
    }


def _gradients_json(
    d: StackDerivation, compacts: dict[str, np.ndarray], exacts: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Each gradient in its shape: compact, exact and decimal forms."""
    gradients = {}
    for key, compact in compacts.items():
        exact = exacts[key]
        gradients[key] = {
            "shape": list(compact.shape),
            "compact": _nested(compact, show),
            "compact_sympy": _nested(compact, sympy_code),
            "exact": _nested(exact, lambda v: _entry(d, v)["exact"]),
            "decimal": _nested(exact, lambda v: shown_value(d, v)[1]),
        }
    return gradients


@register("json", stack=True)
def stack_json(
    derivation: StackDerivation,
    *,
    sections: str | Sequence[str] | None = None,
    expanded: bool = True,
) -> str:
    """A stack as JSON: every intermediate, adjoint and gradient, exactly and as decimals.

    ``sections`` (default all) leaves out the ``forward``, ``backward`` or ``gradients`` keys
    of the sections not chosen.
    """
    d, chosen = derivation, resolve(sections)
    document = {
        "symbackprop": __version__,
        "spec": d.spec.name,
        "network": {
            "input": list(d.spec.input_shape),
            "layers": [_layer_json(d, layer) for layer in d.spec.layers],
            "loss": d.spec.loss.name,
            "reduction": d.spec.loss.reduction,
            "samples": d.spec.samples,
        },
        "conventions": {
            "relu_prime_at_zero": str(d.options.relu_prime_at_zero),
            "digits": d.options.digits,
            "max_pool_ties": "the first maximum in row-major order",
        },
        "notes": notes(d),
        "forward": {
            s.name: {"definition": show(d.graph.definitions[s]), **_entry(d, d.values[s])}
            for stage in d.graph.stages
            for s in stage
        },
        "backward": {
            a.name: {"definition": show(d.adjoints.definitions[a]), **_entry(d, d.values[a])}
            for a in d.adjoints.definitions
        },
        "gradients": _gradients_json(d, d.compact, d.gradients),
    }
    if d.data_compact:  # h0, c0: the data whose gradients are reported, keyed like gradients
        document["data_gradients"] = _gradients_json(d, d.data_compact, d.data_gradients)
    for key in ("forward", "backward", "gradients"):
        if key not in chosen:
            del document[key]
    if "gradients" not in chosen:
        document.pop("data_gradients", None)
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


__all__ = ["SHOWN", "entry_name", "notes", "stack_json", "stack_text"]
