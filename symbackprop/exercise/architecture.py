"""What an exercise is about: ``2-3-2:relu,softmax:cross_entropy``, or a spec to redraw."""

from __future__ import annotations

import json
import re

from ..errors import SymbackpropError
from ..spec import NetworkSpec, load_spec, parse_spec

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def architecture(text: str) -> NetworkSpec:
    """The network of ``text``: ``SIZES:ACTIVATIONS:LOSS``, a spec file or a built-in example.

    The numbers of the result are placeholders (or the spec's own); :mod:`.draw` redraws them.

    Raises:
        SymbackpropError: ``text`` is neither, or names no valid network.
    """
    if ":" not in text:
        spec = load_spec(text)
        if not isinstance(spec, NetworkSpec):
            raise SymbackpropError(
                f"exercise {text}: only dense networks ([network] layers) can be redrawn yet"
            )
        return spec
    return parse_spec(_skeleton(text), f"ARCH '{text}'")  # type: ignore[return-value]


def _skeleton(text: str) -> str:
    """The TOML of the network ``text`` describes, with every number 1 (never evaluated)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise _bad(text, f"{len(parts)} parts separated by ':'")
    try:
        sizes = [int(n) for n in parts[0].split("-")]
    except ValueError:
        raise _bad(text, f"sizes {parts[0]!r}") from None
    activations = [a.strip() for a in parts[1].split(",")]
    names = [*activations, parts[2].strip()]
    if any(not _NAME.match(n) for n in names) or len(sizes) < 2 or min(sizes) < 1:
        raise _bad(text, f"{text!r}")
    lines = [
        "[network]",
        f"layers = {sizes}",
        f"activations = {json.dumps(activations)}",
        f"loss = {json.dumps(names[-1])}",
        "[parameters]",
    ]
    for l in range(len(sizes) - 1):
        lines.append(f"W{l + 1} = {[[1] * sizes[l]] * sizes[l + 1]}")
        lines.append(f"b{l + 1} = {[1] * sizes[l + 1]}")
    target = [1] + [0] * (sizes[-1] - 1)
    lines += ["[data]", f"x = {[1] * sizes[0]}", f"y = {target}"]
    return "\n".join(lines) + "\n"


def _bad(text: str, got: str) -> SymbackpropError:
    return SymbackpropError(
        f"exercise ARCH '{text}': expected SIZES:ACTIVATIONS:LOSS such as "
        f"2-3-2:relu,softmax:cross_entropy (one activation per layer after the input), or a "
        f"spec file or built-in example name; got {got}"
    )
