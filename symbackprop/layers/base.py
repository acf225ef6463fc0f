"""What a layer kind declares: spec keys, shapes, parameters, forward, and textbook backward.

A layer works on one sample at a time. Its input and output are NumPy object arrays of SymPy
expressions in the sample's shape (``(C, H, W)`` for feature maps, ``(n,)`` for vectors); its
parameters are object arrays of symbols in their spec shapes (a kernel ``(F, C, kh, kw)``).
The stack (:mod:`symbackprop.graph`) names every output entry, so a layer's ``forward`` is one
level of definitions, and the chain rule (:mod:`symbackprop.chain`) differentiates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

#: An array of SymPy expressions.
Tensor = NDArray[np.object_]
Shape = tuple[int, ...]
Config = Mapping[str, Any]


class Fields(Protocol):
    """Reads one layer's spec table with errors that name the file, the layer and the key."""

    def fail(self, key: str, message: str) -> Exception: ...

    def integer(self, key: str, minimum: int, default: int | None = None) -> int: ...

    def pair(
        self, key: str, minimum: int, default: tuple[int, int] | None = None
    ) -> tuple[int, int]: ...


class LayerKind:
    """One registry entry. Subclasses set the class attributes and override the methods."""

    #: The ``type`` in the spec.
    name: ClassVar[str]
    #: Spec keys besides ``type`` and ``activation``.
    keys: ClassVar[tuple[str, ...]] = ()
    #: Whether the layer has parameters ``W{n}`` and ``b{n}`` (and so a number n).
    parameterised: ClassVar[bool] = False
    #: Whether ``activation`` is allowed on the layer.
    activates: ClassVar[bool] = True
    #: The shape of input the layer takes: "maps" (C, H, W), "vector" (n,) or "any".
    takes: ClassVar[str] = "any"
    #: One line for the docs and ``derive``: what the layer computes.
    formula: ClassVar[str] = ""
    #: One line: the textbook backward pass that :meth:`textbook` implements.
    backward: ClassVar[str] = ""
    #: The same two in LaTeX, for the typeset derivation (delta is dJ/dz of the layer).
    formula_latex: ClassVar[str] = ""
    backward_latex: ClassVar[str] = ""

    def configure(self, fields: Fields, shape: Shape) -> dict[str, Any]:
        """The layer's validated options for an input of ``shape``."""
        return {}

    def describe(self, config: Config) -> str:
        """A short name with the options, for titles: ``conv2d 2x3x3``."""
        return self.name

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        """The shape of one sample's output."""
        raise NotImplementedError

    def parameter_shapes(self, config: Config, shape: Shape) -> dict[str, Shape]:
        """``{"W": ..., "b": ...}`` for a parameterised layer."""
        return {}

    def forward(self, config: Config, x: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """One level of definitions: the output entries in terms of ``x`` and ``params``."""
        raise NotImplementedError

    def forward_batch(
        self, config: Config, xs: list[Tensor], params: Mapping[str, Tensor]
    ) -> list[Tensor]:
        """:meth:`forward` of every sample; a layer that mixes samples (batch norm) overrides it."""
        return [self.forward(config, x, params) for x in xs]

    def textbook(
        self, config: Config, x: Tensor, params: Mapping[str, Tensor], upstream: Tensor
    ) -> dict[str, Tensor]:
        """The textbook backward pass: ``{"x": dx, "W": dW, "b": db}`` from ``upstream``.

        Written in tensor form (a convolution, a routing), not by differentiating ``forward``:
        the tests prove it equal to the chain rule's element-wise result.
        """
        raise NotImplementedError


def tensor(shape: Shape, make: Any) -> Tensor:
    """An object array of ``shape`` with ``make(index)`` at each index."""
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = make(index)
    return out


def zeros(shape: Shape) -> Tensor:
    """An object array of SymPy zeros."""
    from sympy import S

    return tensor(shape, lambda index: S.Zero)
