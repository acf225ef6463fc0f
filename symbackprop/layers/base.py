"""What a layer kind declares: spec keys, shapes, parameters, forward, and textbook backward.

A layer works on one sample at a time. Its input and output are NumPy object arrays of SymPy
expressions in the sample's shape (``(C, H, W)`` for feature maps, ``(n,)`` for vectors); its
parameters are object arrays of symbols in their spec shapes (a kernel ``(F, C, kh, kw)``).
The stack (:mod:`symbackprop.graph`) names every output entry, so a layer's ``forward`` is one
level of definitions, and the chain rule (:mod:`symbackprop.chain`) differentiates it. A layer
with intermediates of its own (batch norm's mean, variance and normalised input) names each
through the :class:`Stages` callback that :meth:`LayerKind.forward_batch` receives, one stage at
a time, and defines its output in terms of the named symbols.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray
from sympy import Rational, Symbol

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

    #: The number of samples in the spec's batch (1 for a single sample).
    samples: int

    def rational(self, key: str, default: Rational | None = None) -> Rational: ...

    def flag(self, key: str, default: bool) -> bool: ...

    def array(self, key: str, shape: Shape) -> np.ndarray: ...


class Stages(Protocol):
    """Names a layer's intermediates: ``stages("mu", [values], shared=True)``.

    ``values`` holds one tensor per sample, or with ``shared`` one tensor for the whole batch
    (a batch statistic). The result is the tensors of named symbols that stand for them, whose
    definitions are ``values``; ``symbol`` is the class of those symbols (for their notation).
    With ``step`` (0-based) the values are time step ``step`` of the stem's (T, ...) tensor:
    their symbols are named with the step first (``h^(2)_3,1`` is step 3, unit 1), and the
    steps of one stem, each its own stage, make up one tensor of the cache.
    """

    def __call__(
        self,
        stem: str,
        values: Sequence[Tensor],
        *,
        shared: bool = False,
        symbol: type[Symbol] = Symbol,
        step: int | None = None,
    ) -> list[Tensor]: ...


def inline(
    stem: str,
    values: Sequence[Tensor],
    *,
    shared: bool = False,
    symbol: type[Symbol] = Symbol,
    step: int | None = None,
) -> list[Tensor]:
    """The :class:`Stages` that names nothing: each intermediate stays its expression."""
    return list(values)


class LayerKind:
    """One registry entry. Subclasses set the class attributes and override the methods."""

    #: The ``type`` in the spec.
    name: ClassVar[str]
    #: Spec keys besides ``type`` and ``activation``.
    keys: ClassVar[tuple[str, ...]] = ()
    #: The keys among ``keys`` that are data of the spec (an RNN's initial state h0, one row
    #: per sample), which ``[data]`` may give instead of the layer's table.
    data_keys: ClassVar[tuple[str, ...]] = ()
    #: Whether the layer has parameters (``W{n}`` and ``b{n}``, ``gamma{n}`` and ``beta{n}``, ...)
    #: and so a number n.
    parameterised: ClassVar[bool] = False
    #: Whether a sample's output depends on the batch (batch statistics, a per-sample mask):
    #: then :meth:`forward_batch` and :meth:`textbook_batch` are the layer's definition.
    batch_dependent: ClassVar[bool] = False
    #: Stems of named intermediates that the textbook identity holds for whatever their value
    #: (batch norm's sigma2): the proof keeps them as free symbols, which keeps it small.
    proof_free: ClassVar[tuple[str, ...]] = ()
    #: Whether ``activation`` is allowed on the layer.
    activates: ClassVar[bool] = True
    #: The shape of input the layer takes, "maps" (C, H, W), "vector" (n,), "sequence" (T, D),
    #: "indices" (T,) word indices that are data, not variables (first layer only), or "any".
    takes: ClassVar[str] = "any"
    #: What the layer computes, in one line for the docs and ``derive``.
    formula: ClassVar[str] = ""
    #: The textbook backward pass that :meth:`textbook` implements, in one line.
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

    def proof_size(self, config: Config, shape: Shape) -> tuple[Config, Shape, str] | None:
        """A smaller configuration and input shape on which the proof of the textbook form
        stands for every size, with a phrase naming it (``"T=3, D=2, H=2"``); or None: prove at
        the layer's own size. For a layer whose backward pass is the same loops at any size and
        whose proof at full size grows exponentially (backpropagation through time)."""
        return None

    def proof_inputs(self, config: Config, shape: Shape, samples: int) -> list[Tensor] | None:
        """Concrete inputs for the proof of the textbook form (word indices), or None: symbols."""
        return None

    def check_data(self, config: Config, x: np.ndarray) -> str | None:
        """Why the spec's input data ``x`` (all samples) does not suit the layer, or None."""
        return None

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        """The shape of one sample's output."""
        raise NotImplementedError

    def parameter_shapes(self, config: Config, shape: Shape) -> dict[str, Shape]:
        """``{"W": ..., "b": ...}`` for a parameterised layer; ``"b"`` is the optional bias."""
        return {}

    def forward(self, config: Config, x: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """One level of definitions: the output entries in terms of ``x`` and ``params``.

        A layer defines this, or overrides :meth:`forward_batch` instead (one that mixes samples
        or names intermediates)."""
        raise NotImplementedError

    def forward_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        stages: Stages = inline,
    ) -> list[Tensor]:
        """:meth:`forward` of every sample; a layer that mixes samples (batch norm) overrides it.

        A layer with named intermediates passes each through ``stages`` before its output.
        """
        return [self.forward(config, x, params) for x in xs]

    def textbook(
        self, config: Config, x: Tensor, params: Mapping[str, Tensor], upstream: Tensor
    ) -> dict[str, Tensor]:
        """The textbook backward pass: ``{"x": dx, "W": dW, "b": db}`` from ``upstream``.

        Written in tensor form (a convolution, a routing), not by differentiating ``forward``:
        the tests prove it equal to the chain rule's element-wise result.
        """
        raise NotImplementedError

    def textbook_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        upstreams: list[Tensor],
        cache: Mapping[str, list[Tensor]],
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        """The textbook backward pass of a batch: each sample's dx, and the parameter gradients.

        ``cache`` holds the forward pass's named intermediates by stem (CS231n's ``cache``:
        ``cache["xhat"]`` is one tensor per sample, a shared statistic one for the batch). By
        default :meth:`textbook` per sample, the parameter gradients summed over the batch.
        """
        dxs, grads = [], {}  # type: tuple[list[Tensor], dict[str, Tensor]]
        for x, upstream in zip(xs, upstreams, strict=True):
            one = self.textbook(config, x, params, upstream)
            dxs.append(one.pop("x"))
            for key, value in one.items():
                grads[key] = value if key not in grads else grads[key] + value
        return dxs, grads


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
