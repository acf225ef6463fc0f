"""StackSpec -> LayerGraph: every intermediate of a stack named, with a one-level definition.

Layer l of sample s defines z^(l) from its input by the layer kind's ``forward`` and, with an
activation, a^(l) = f(z^(l)); the last layer's output is yhat. A layer kind with intermediates
of its own (batch norm's mu^(l), sigma2^(l) and xhat^(l)) names them through a
:class:`_Stages`, each as one more stage before its z. Then J_s = loss(yhat_s, y_s) and
J reduces the J_s. Symbols are named like the MLP's, with every index written out:
``z^(1)_2,3,1`` is map 2, row 3, column 1 (1-based), and a batch adds the sample last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sympy import Add, Expr, Integer, Rational, Symbol

from . import notation
from .activations import ACTIVATIONS, Activation
from .layers import LAYERS, Tensor
from .layers.base import tensor
from .losses import LOSSES
from .stack_spec import StackLayer, StackSpec


@dataclass(frozen=True, eq=False)
class LayerGraph:
    """Named symbols and definitions, in evaluation order, grouped in stages.

    ``stages`` lists the symbols of each stage (a layer's z, its a, the losses) in order; each
    stage depends on earlier stages only.
    """

    spec: StackSpec
    inputs: tuple[Tensor, ...]
    targets: tuple[Tensor, ...]
    parameters: dict[str, Tensor]
    outputs: dict[int, tuple[Tensor, ...]]
    definitions: dict[Symbol, Expr]
    stages: tuple[tuple[Symbol, ...], ...]
    positions: dict[Symbol, int]
    rewrites: dict[Symbol, Callable[[Expr], Expr]]
    loss: Symbol = notation.LOSS
    #: The data whose gradients are reported besides the parameters' (an RNN's h0, LSTM's c0):
    #: symbols by key (``h0``; ``h0_2`` for layer 2 when several layers take one), shaped
    #: (samples, ...) like the data, and their values in :attr:`data_values`.
    data: dict[str, Tensor] = field(default_factory=dict)
    data_values: dict[str, np.ndarray] = field(default_factory=dict)
    #: Each data key's layer position and its key in that layer (``h0_2`` -> (2, "h0")).
    data_owners: dict[str, tuple[int, str]] = field(default_factory=dict)

    def parameter_symbols(self) -> list[tuple[str, Symbol, tuple[int, ...]]]:
        """(key, symbol, index) of every parameter entry, in spec order."""
        return [
            (key, array[index], index)
            for key, array in self.parameters.items()
            for index in np.ndindex(*array.shape)
        ]


def _name(
    stem: str, index: tuple[int, ...], sample: int | None, symbol: type[Symbol] = Symbol
) -> Symbol:
    full = index if sample is None else (*index, sample)
    if not full:
        return symbol(stem)
    return symbol(f"{stem}_{','.join(str(i + 1) for i in full)}")


def _named(
    stem: str,
    shape: tuple[int, ...],
    sample: int | None,
    symbol: type[Symbol] = Symbol,
    step: int | None = None,
) -> Tensor:
    """Symbols ``stem_i,j`` (1-based); with ``step``, that time step's index comes first."""
    first = () if step is None else (step,)
    return tensor(shape, lambda index: _name(stem, (*first, *index), sample, symbol))


class _Stages:
    """The :class:`~symbackprop.layers.base.Stages` of one layer: each call names one stage."""

    def __init__(
        self,
        layer: int,
        tag: Callable[[int], int | None],
        definitions: dict[Symbol, Expr],
        stages: list[tuple[Symbol, ...]],
        positions: list[int],
    ) -> None:
        self.layer, self.tag = layer, tag
        self.definitions, self.stages, self.positions = definitions, stages, positions

    def __call__(
        self,
        stem: str,
        values: Sequence[Tensor],
        *,
        shared: bool = False,
        symbol: type[Symbol] = Symbol,
        step: int | None = None,
    ) -> list[Tensor]:
        named, stage = [], []
        for s, value in enumerate(values):
            sample = None if shared else self.tag(s)
            symbols = _named(f"{stem}^({self.layer})", value.shape, sample, symbol, step)
            for index, expr in np.ndenumerate(value):
                self.definitions[symbols[index]] = expr
                stage.append(symbols[index])
            named.append(symbols)
        self.stages.append(tuple(stage))
        self.positions.append(self.layer)
        return named


def build_graph(spec: StackSpec) -> LayerGraph:
    """Name every intermediate of ``spec`` and define it one level deep."""
    samples = range(spec.samples)
    tag: Callable[[int], int | None] = (lambda s: s) if spec.batched else (lambda s: None)
    params = {
        key: _named(_parameter_stem(key), value.shape, None)
        for key, value in spec.parameters.items()
    }
    inputs = tuple(_input(spec, s, tag(s)) for s in samples)
    targets = tuple(_named("y", spec.y.shape[1:], tag(s)) for s in samples)
    definitions: dict[Symbol, Expr] = {}
    rewrites: dict[Symbol, Callable[[Expr], Expr]] = {}
    stages: list[tuple[Symbol, ...]] = []
    stage_layers: list[int] = []
    outputs: dict[int, tuple[Tensor, ...]] = {}
    current = list(inputs)
    data: dict[str, Tensor] = {}
    data_values: dict[str, np.ndarray] = {}
    owners: dict[str, tuple[int, str]] = {}
    for layer in spec.layers:
        named = _Stages(layer.position, tag, definitions, stages, stage_layers)
        options = _data_symbols(spec, layer, tag, data, data_values, owners)
        current = _layer_stages(layer, spec, current, params, named, rewrites, options)
        outputs[layer.position] = tuple(current)
    per_sample = [
        LOSSES[spec.loss.name].per_sample(list(yhat), list(y), dict(spec.loss.options))
        for yhat, y in zip(current, targets, strict=True)
    ]
    _loss_stages(spec, per_sample, definitions, stages)
    positions = {s: p for p, stage in zip(stage_layers, stages, strict=False) for s in stage}
    return LayerGraph(
        spec,
        inputs,
        targets,
        params,
        outputs,
        definitions,
        tuple(stages),
        positions,
        rewrites,
        data=data,
        data_values=data_values,
        data_owners=owners,
    )


def _data_symbols(
    spec: StackSpec,
    layer: StackLayer,
    tag: Callable[[int], int | None],
    data: dict[str, Tensor],
    values: dict[str, np.ndarray],
    owners: dict[str, tuple[int, str]],
) -> dict[str, Any]:
    """The layer's options with its data keys (h0, c0: one row per sample) as symbols, which
    ``data``, ``values`` and ``owners`` record. h0's entries are ``h^(l)_0,j``: step 0."""
    options = layer.options
    for key in LAYERS[layer.kind].data_keys:
        rows = np.array(options[key], dtype=object)
        stem = f"{key.rstrip('0123456789')}^({layer.position})"
        symbols = tensor(rows.shape, lambda i, stem=stem: _name(stem, (-1, *i[1:]), tag(i[0])))
        name = key if _takers(spec, key) == 1 else f"{key}_{layer.position}"
        data[name], values[name], owners[name] = symbols, rows, (layer.position, key)
        options = {**options, key: tuple(tuple(row) for row in symbols)}
    return options


def _takers(spec: StackSpec, key: str) -> int:
    """How many of the stack's layers take the data key ``key``."""
    return sum(key in LAYERS[layer.kind].data_keys for layer in spec.layers)


def takes_indices(spec: StackSpec) -> bool:
    """Whether the stack's input is word indices (data, not variables): an embedding first."""
    return LAYERS[spec.layers[0].kind].takes == "indices"


def _input(spec: StackSpec, s: int, sample: int | None) -> Tensor:
    """Sample ``s``'s input: symbols x, or the spec's word indices themselves."""
    if takes_indices(spec):
        return np.array(spec.x[s], dtype=object)
    return _named("x", spec.input_shape, sample)


def _parameter_stem(key: str) -> str:
    """``W1`` -> ``W^(1)``."""
    stem = key.rstrip("0123456789")
    return f"{stem}^({key[len(stem) :]})"


def _layer_stages(
    layer: StackLayer,
    spec: StackSpec,
    current: list[Tensor],
    params: dict[str, Tensor],
    named: _Stages,
    rewrites: dict[Symbol, Callable[[Expr], Expr]],
    options: dict[str, Any],
) -> list[Tensor]:
    """Define layer ``layer``'s intermediates, z (and a) for every sample; return its outputs.
    ``options`` are the layer's, with its data as symbols."""
    kind, last = LAYERS[layer.kind], layer.position == len(spec.layers)
    own = {} if layer.number is None else layer_parameters(layer, params)
    l, definitions, stages, tag = layer.position, named.definitions, named.stages, named.tag
    z_stem = "yhat" if last and layer.activation is None else f"z^({l})"
    zs, z_stage = [], []
    for s, out in enumerate(kind.forward_batch(options, current, own, named)):
        z = _named(z_stem, layer.output_shape, tag(s))
        for index, expr in np.ndenumerate(out):
            definitions[z[index]] = expr
            z_stage.append(z[index])
        zs.append(z)
    stages.append(tuple(z_stage))
    named.positions.append(l)
    if layer.activation is None:
        return zs
    function = ACTIVATIONS[layer.activation.name]
    options = dict(layer.activation.options)
    a_stem = "yhat" if last else f"a^({l})"
    outs, a_stage = [], []
    for s, z in enumerate(zs):
        a = _named(a_stem, layer.output_shape, tag(s))
        zs_flat, outs_flat = list(z.ravel()), list(a.ravel())
        values = function.apply(zs_flat, options)
        for k, (symbol, expr) in enumerate(zip(outs_flat, values, strict=True)):
            definitions[symbol] = expr
            # an elementwise activation's derivative involves its own unit only
            zs_own, outs_own = (
                (zs_flat, outs_flat) if function.output_only else ([zs_flat[k]], [outs_flat[k]])
            )
            rewrites[symbol] = _rewrite(function, zs_own, outs_own, options)
            a_stage.append(symbol)
        outs.append(a)
    stages.append(tuple(a_stage))
    named.positions.append(l)
    return outs


def layer_parameters(layer: StackLayer, params: dict[str, Any]) -> dict[str, Any]:
    """The layer's own entries of ``params`` (keyed ``W1``, ``gamma2``, ...) by stem."""
    return {stem: params[key] for stem, key in layer.parameter_keys.items() if key in params}


def _rewrite(
    function: Activation, zs: list[Symbol], outs: list[Symbol], options: dict[str, Any]
) -> Callable[[Expr], Expr]:
    """Rewrite a local derivative of ``function`` in its outputs (sigma' as a (1 - a))."""

    def rewrite(local: Expr) -> Expr:
        return function.in_outputs(local, zs, outs, options)

    return rewrite


def _loss_stages(
    spec: StackSpec,
    per_sample: list[Expr],
    definitions: dict[Symbol, Expr],
    stages: list[tuple[Symbol, ...]],
) -> None:
    """J_s for each sample of a batch, then J."""
    if not spec.batched:
        definitions[notation.LOSS] = per_sample[0]
        stages.append((notation.LOSS,))
        return
    j_s = [notation.sample_loss(s) for s in range(len(per_sample))]
    definitions.update(zip(j_s, per_sample, strict=True))
    stages.append(tuple(j_s))
    scale = Rational(1, len(j_s)) if spec.loss.reduction == "mean" else Integer(1)
    definitions[notation.LOSS] = scale * Add(*j_s)
    stages.append((notation.LOSS,))
