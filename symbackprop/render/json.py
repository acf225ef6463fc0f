"""A stable machine-readable document (keys sorted, two-space indent)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sympy import ImmutableMatrix

from .._version import __version__
from ..formats import Omitted, register
from ..sympy_code import sympy_code
from .common import code, forward_keys, indexing_rule, kink_note, nested, shown_value
from .latex_printer import latex
from .sections import UPDATED, resolve
from .text import show

if TYPE_CHECKING:
    from ..derivation import Derivation


#: The document's keys that belong to sections, and those sections.
_SECTION_KEYS = {
    "forward": ("forward", "loss"),
    "gradients": ("gradients",),
    "updated": (UPDATED,),
}


def _values(
    derivation: Derivation, matrix: ImmutableMatrix, named: bool = False
) -> dict[str, Any]:
    """Exact forms (null where too large to print, see ``--exact-limit``), LaTeX and decimals;
    ``named``: the exact forms in the names of the document's ``shared`` list."""
    exact_form = derivation.shared_form if named else derivation.exact_form

    def shown(convert: Any) -> Any:
        def entry(value: Any) -> Any:
            form = exact_form(value)
            return None if isinstance(form, Omitted) else convert(form)

        return entry

    return {
        "exact": nested(matrix, shown(sympy_code if named else code)),
        "latex": nested(matrix, shown(latex)),
        "value": nested(matrix, lambda v: shown_value(derivation, v)[1]),
    }


def _shared(derivation: Derivation) -> list[dict[str, Any]]:
    """The values the exact gradients share, in order: each ``name`` (a ``Symbol`` name) with
    its definition in numbers and earlier names (``exact``, ``latex``) and its ``decimal``."""
    out = []
    for shared in derivation.shared.definitions:
        form = derivation.exact_form(shared.definition)
        omitted = isinstance(form, Omitted)
        out.append(
            {
                "name": shared.symbol.name,
                "exact": None if omitted else sympy_code(form),
                "latex": None if omitted else latex(form),
                "decimal": shown_value(derivation, shared.value)[1],
            }
        )
    return out


def _training(derivation: Derivation) -> dict[str, Any] | None:
    training = derivation.spec.training
    if training is None:
        return None
    return {
        "learning_rate": str(training.learning_rate),
        "update_biases": training.update_biases,
    }


def _updated(derivation: Derivation) -> dict[str, Any] | None:
    """The parameters after one gradient-descent step, like ``gradients`` (None without one)."""
    updated = derivation.updated
    if updated is None:
        return None
    return {key: _values(derivation, matrix) for key, matrix in updated.items()}


@register("json")
def to_json(
    derivation: Derivation, *, sections: str | Sequence[str] | None = None, expanded: bool = True
) -> str:
    """Render ``derivation`` as JSON: ``gradients.W1.exact`` holds SymPy code of the exact
    values, written in the names of the top-level ``shared`` list where the gradients share
    values (the list is absent when they share none).

    ``compact`` and ``expanded`` are display strings, spelt as ``--format text`` spells them
    (``a^(1)_2*(yhat_1 - y_1)``, ``ReLU'(z^(1)_1)``); ``compact_sympy`` and ``expanded_sympy``
    beside them are the same forms as SymPy code that
    ``sympify(text, locals=symbackprop.sympify_locals())`` reads back.

    Args:
        derivation: What to render.
        sections: Section names or a comma-separated string; default all. JSON has
            ``forward`` (with ``loss``, the ``forward.loss`` key), ``gradients`` and ``updated``;
            a section not chosen is left out of the document (``network``, ``conventions``,
            ``kinks`` and ``notes`` are always there).
        expanded: Include the expanded forms of the gradients.
    """
    chosen = resolve(sections)
    spec, values = derivation.spec, derivation.values
    gradients = {}
    for key, matrix in values.gradients.items() if "gradients" in chosen else ():
        entry = _values(derivation, matrix, named=True)
        entry["compact"] = nested(derivation.compact[key], show)
        entry["compact_latex"] = nested(derivation.compact[key], latex)
        entry["compact_sympy"] = nested(derivation.compact[key], sympy_code)
        if expanded:
            for suffix, convert in (("", show), ("_latex", latex), ("_sympy", sympy_code)):
                entry[f"expanded{suffix}"] = [
                    [None if isinstance(e, Omitted) else convert(e) for e in row]
                    for row in derivation.expanded[key]
                ]
        gradients[key] = entry
    document: dict[str, Any] = {
        "symbackprop": __version__,
        "spec": spec.name,
        "network": {
            "layers": list(spec.layers),
            "activations": [str(a) for a in spec.activations],
            "loss": spec.loss.name,
            "reduction": spec.loss.reduction,
            "biases": spec.biases is not None,
            "l2": str(spec.l2),
            "samples": spec.samples,
        },
        "conventions": {
            "relu_prime_at_zero": str(derivation.options.relu_prime_at_zero),
            "digits": derivation.options.digits,
            "indexing": indexing_rule(derivation).removeprefix("indexing: "),
        },
        "kinks": list(values.kinks),
        "notes": [n for n in [kink_note(derivation)] if n],
        "forward": {
            key: _values(derivation, values.forward[key])
            for key in [*forward_keys(derivation), "loss"]
            if (key == "loss" and "loss" in chosen) or (key != "loss" and "forward" in chosen)
        },
        "gradients": gradients,
        "training": _training(derivation),
        "updated": _updated(derivation),
    }
    for key, names in _SECTION_KEYS.items():
        if not any(name in chosen for name in names):
            del document[key]
    if "gradients" in chosen and derivation.shared.definitions:
        document["shared"] = _shared(derivation)
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
