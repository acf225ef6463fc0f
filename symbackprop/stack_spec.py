"""The general spec form: ``[network] input`` and one ``[[layers]]`` table per layer.

A stack of dense layers on a vector input is the MLP form with other spelling, so it is
rewritten to that form (:func:`parse_stack` returns the rewritten tables) and gives the same
:class:`~symbackprop.spec.NetworkSpec`. Any other stack becomes a :class:`StackSpec`.

This module does not import :mod:`symbackprop.spec`; the validator is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from sympy import ImmutableMatrix, Rational

from .expected_keys import TOLERANCE_KEYS, tolerances
from .layers import LAYERS, Shape
from .losses import LOSSES
from .quoting import NAME_LIMIT, one_line, shown
from .sequence_data import sequence_targets

_NETWORK_KEYS = ("input", "loss", "biases", "l2")
_DATA_KEYS = ("x", "y", "label", "labels", "mask")
_RANKS = {"maps": 3, "vector": 1, "sequence": 2, "indices": 1}
_WANTED = {
    "maps": "(channels, height, width) maps",
    "vector": "a vector",
    "sequence": "a (time, features) sequence",
    "indices": "a sequence of word indices",
}


class Validator(Protocol):
    """What :mod:`symbackprop.spec`'s validator offers this module."""

    source: str
    data: dict[str, Any]

    def fail(self, key: str, message: str) -> Exception: ...
    def check_keys(self, table: str, values: Mapping[str, Any], allowed: list[str]) -> None: ...
    def number(self, key: str, value: Any) -> Rational: ...
    def boolean(self, key: str, value: Any) -> bool: ...
    def describe(self, value: Any) -> str: ...
    def named_activation(self, key: str, value: Any, output: bool) -> Any: ...
    def loss(self, value: Any, output: Any) -> Any: ...
    def batch(
        self, key: str, value: Any, n: int, batched: bool, samples: int | None = None
    ) -> ImmutableMatrix: ...
    def labels(
        self, key: str, value: Any, classes: int, batched: bool, samples: int
    ) -> ImmutableMatrix: ...
    def check_target(self, loss: Any, activations: Any, y: ImmutableMatrix) -> None: ...


@dataclass(frozen=True)
class StackLayer:
    """One layer of a stack: its kind, options, activation, number and shapes."""

    position: int
    kind: str
    config: tuple[tuple[str, Any], ...]
    activation: Any  # ActivationSpec or None (linear)
    number: int | None
    input_shape: Shape
    output_shape: Shape

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.config)

    @property
    def label(self) -> str:
        return f"layer {self.position} ({self.kind})"

    @property
    def parameter_keys(self) -> dict[str, str]:
        """The key of each parameter the layer can own, by stem, e.g. ``{"W": "W1", "b": "b1"}``."""
        if self.number is None:
            return {}
        shapes = LAYERS[self.kind].parameter_shapes(self.options, self.input_shape)
        return {stem: f"{stem}{self.number}" for stem in shapes}


@dataclass(frozen=True)
class StackExpected:
    """Documented gradients of a stack, with the tolerances of :class:`spec.Expected`."""

    values: tuple[tuple[str, np.ndarray], ...]
    atol: Rational = Rational(1, 10**8)
    rtol: Rational = Rational(1, 10**5)
    printed: bool = False


@dataclass(frozen=True, eq=False)
class StackSpec:
    """A validated stack of layers with its documented point.

    ``parameters`` maps ``W1``, ``b1``, ... to object arrays of exact numbers in their spec
    shapes; ``x`` is ``(m, *input_shape)`` and ``y`` is ``(m, n_out)``, one sample per row.
    """

    source: str
    input_shape: Shape
    layers: tuple[StackLayer, ...]
    loss: Any  # LossSpec
    parameters: dict[str, np.ndarray]
    x: np.ndarray
    y: np.ndarray
    batched: bool
    text: str = field(default="", repr=False)
    #: The documented gradients, an array ``dW1`` like ``W1`` for each, or None without
    #: ``[expected]``.
    expected: StackExpected | None = field(default=None, compare=False)

    def __eq__(self, other: object) -> bool:
        """The same network and point (the text and source aside: as NetworkSpec compares)."""
        if not isinstance(other, StackSpec):
            return NotImplemented
        same = (self.source, self.input_shape, self.layers, self.loss, self.batched) == (
            other.source,
            other.input_shape,
            other.layers,
            other.loss,
            other.batched,
        )
        if not same or self.parameters.keys() != other.parameters.keys():
            return False
        arrays = [(self.x, other.x), (self.y, other.y)]
        arrays += [(v, other.parameters[k]) for k, v in self.parameters.items()]
        return all(np.array_equal(a, b) for a, b in arrays)

    __hash__ = None  # type: ignore[assignment]

    @property
    def samples(self) -> int:
        return int(self.x.shape[0])

    @property
    def name(self) -> str:
        stem = self.source.removeprefix("example '").removesuffix("'").rsplit("/", 1)[-1]
        return one_line(stem, NAME_LIMIT)  # a newline in a file name cannot split a heading


class _Fields:
    """One layer table, read with errors naming ``[[layers]] n (type) key``; ``data`` holds the
    layer's data keys given in ``[data]`` instead, whose errors name ``[data] key``."""

    def __init__(
        self,
        v: Validator,
        where: str,
        table: Mapping[str, Any],
        samples: int,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.v, self.where, self.samples = v, where, samples
        self.data = dict(data or {})
        self.table = {**table, **self.data}

    def _where(self, key: str) -> str:
        return f"[data] {key}" if key in self.data else f"{self.where} {key}".rstrip()

    def fail(self, key: str, message: str) -> Exception:
        """An error naming the layer and ``key`` (the layer alone when ``key`` is empty)."""
        return self.v.fail(self._where(key), message)

    def rational(self, key: str, default: Rational | None = None) -> Rational:
        value = self._value(key, default)
        return (
            value if isinstance(value, Rational) else self.v.number(f"{self.where} {key}", value)
        )

    def flag(self, key: str, default: bool) -> bool:
        return self.v.boolean(f"{self.where} {key}", self.table.get(key, default))

    def array(self, key: str, shape: Shape) -> np.ndarray:
        return tensor(self.v, self._where(key), self._value(key, None), shape)

    def _value(self, key: str, default: Any) -> Any:
        if key not in self.table:
            if default is None:
                raise self.fail(key, "missing key")
            return default
        return self.table[key]

    def _checked(self, key: str, value: Any, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"expected an integer >= {minimum}, got {self.v.describe(value)}")
        return value

    def integer(self, key: str, minimum: int, default: int | None = None) -> int:
        return self._checked(key, self._value(key, default), minimum)

    def pair(
        self, key: str, minimum: int, default: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        value = self._value(key, default)
        if isinstance(value, tuple):
            return value
        if isinstance(value, list):
            if len(value) != 2:
                raise self.fail(
                    key, f"expected an integer or [height, width], got {self.v.describe(value)}"
                )
            return (self._checked(key, value[0], minimum), self._checked(key, value[1], minimum))
        n = self._checked(key, value, minimum)
        return (n, n)


def parse_stack(v: Validator) -> dict[str, Any] | StackSpec:
    """The MLP tables for a dense stack on a vector input, else the :class:`StackSpec`."""
    net = _network(v)
    shape = _input(v, net["input"])
    layers = _layers(v, shape, _sample_count(v, shape))
    loss = v.loss(net["loss"], layers[-1].activation or _identity(v))
    _check_output(v, layers, LOSSES[loss.name].output_rank)
    if all(layer.kind == "dense" for layer in layers) and len(shape) == 1:
        return _mlp_tables(v, net, shape, layers)
    use_biases = v.boolean("[network] biases", net.get("biases", True))
    if "training" in v.data:
        raise v.fail("[training]", "not supported yet for stacks with convolution or pooling")
    if v.number("[network] l2", net.get("l2", 0)) != 0:
        raise v.fail("[network] l2", "not supported yet for stacks with convolution or pooling")
    parameters = _parameters(v, layers, use_biases)
    expected = _expected(v, parameters) if "expected" in v.data else None
    x, y, batched = _samples(v, shape, layers[-1].output_shape, data_keys(layers))
    problem = LAYERS[layers[0].kind].check_data(layers[0].options, x)
    if problem:
        raise v.fail("[data] x", problem)
    if y.ndim == 2:
        v.check_target(loss, None, ImmutableMatrix(y.tolist()).T)
    return StackSpec(v.source, shape, layers, loss, parameters, x, y, batched, expected=expected)


def _identity(v: Validator) -> Any:
    return v.named_activation("[network] loss", "identity", True)


def _network(v: Validator) -> dict[str, Any]:
    net = v.data["network"]
    for key in ("layers", "activations"):
        if key in net:
            raise v.fail(
                f"[network] {key}",
                "give the layers either as [network] layers and activations or as "
                "[[layers]] tables, not both",
            )
    v.check_keys("network", net, list(_NETWORK_KEYS))
    for key in ("input", "loss"):
        if key not in net:
            raise v.fail(f"[network] {key}", "missing key")
    return dict(net)


def _input(v: Validator, value: Any) -> Shape:
    ok = (
        isinstance(value, list)
        and len(value) in (1, 2, 3)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in value)
    )
    if not ok:
        raise v.fail(
            "[network] input",
            "expected one sample's shape: [channels, height, width], [time, features] or [n] "
            f"of positive integers, got {v.describe(value)}",
        )
    return tuple(value)


def _sample_count(v: Validator, shape: Shape) -> int:
    """How many samples ``[data] x`` holds (read again, with its errors, by :func:`_samples`)."""
    data = v.data.get("data")
    x = data.get("x") if isinstance(data, dict) else None
    return len(x) if isinstance(x, list) and _depth(x) == len(shape) + 1 else 1


def _layers(v: Validator, shape: Shape, samples: int) -> tuple[StackLayer, ...]:
    tables = v.data["layers"]
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise v.fail("[[layers]]", "expected one or more [[layers]] tables")
    _data_owners(v, tables)
    layers: list[StackLayer] = []
    number = 0
    for position, table in enumerate(tables, start=1):
        layer = _layer(v, position, table, shape, position == len(tables), number + 1, samples)
        number = layer.number or number
        layers.append(layer)
        shape = layer.output_shape
    return tuple(layers)


def _check_output(v: Validator, layers: tuple[StackLayer, ...], rank: int) -> None:
    """The last layer gives what the loss takes: a vector, or a (T, V) sequence."""
    shape = layers[-1].output_shape
    if len(shape) == rank:
        return
    wanted = "a vector" if rank == 1 else "a (time, classes) sequence"
    hint = "; add a flatten layer" if rank == 1 and len(shape) != 2 else ""
    raise v.fail(
        f"[[layers]] {len(layers)}",
        f"the last layer must give {wanted} for the loss, got shape {_shape_text(shape)}{hint}",
    )


def _layer(
    v: Validator,
    position: int,
    table: dict[str, Any],
    shape: Shape,
    last: bool,
    number: int,
    samples: int,
) -> StackLayer:
    name = table.get("type")
    if not isinstance(name, str) or name not in LAYERS:
        raise v.fail(
            f"[[layers]] {position} type",
            f"expected one of: {', '.join(sorted(LAYERS))}, got {v.describe(name)}",
        )
    kind = LAYERS[name]
    where = f"[[layers]] {position} ({name})"
    allowed = ["type", "activation", *kind.keys]
    for key in table:
        if key not in allowed:
            raise v.fail(
                f"{where} {shown(key)}", f"unknown key; expected one of: {', '.join(allowed)}"
            )
    if kind.takes == "indices" and position != 1:
        raise v.fail(where, "takes word indices, the network's input: it must be the first layer")
    rank = _RANKS.get(kind.takes)
    if rank is not None and len(shape) != rank:
        hint = "; add a flatten layer before it" if kind.takes == "vector" else ""
        raise v.fail(
            where, f"needs {_WANTED[kind.takes]} as input, got shape {_shape_text(shape)}{hint}"
        )
    config = kind.configure(_Fields(v, where, table, samples, _data_keys(v, where, table)), shape)
    activation = None
    if "activation" in table:
        activation = v.named_activation(f"{where} activation", table["activation"], last)
    return StackLayer(
        position,
        name,
        tuple(sorted(config.items())),
        activation,
        number if kind.parameterised else None,
        shape,
        kind.output_shape(config, shape),
    )


def _data_keys(v: Validator, where: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """The layer's data keys that ``[data]`` gives; one given in both places is an error."""
    data = v.data.get("data")
    if not isinstance(data, dict):
        return {}
    given = {k: data[k] for k in LAYERS[table["type"]].data_keys if k in data}
    for key in given:
        if key in table:
            raise v.fail(
                f"{where} {key}", "given in [data] too; give it in one place, [data] or the layer"
            )
    return given


def _data_owners(v: Validator, tables: list[dict[str, Any]]) -> None:
    """A data key in ``[data]`` belongs to exactly one layer: several that take it is an error."""
    data = v.data.get("data")
    if not isinstance(data, dict):
        return
    kinds = [LAYERS.get(t["type"]) if isinstance(t.get("type"), str) else None for t in tables]
    for key in data:
        owners = [str(n) for n, k in enumerate(kinds, start=1) if k and key in k.data_keys]
        if len(owners) > 1:
            raise v.fail(
                f"[data] {key}",
                f"layers {', '.join(owners)} all take {key}; give it in each [[layers]] table",
            )


def data_keys(layers: tuple[StackLayer, ...]) -> list[str]:
    """The ``[data]`` keys the stack's layers may take (h0, c0)."""
    return list(dict.fromkeys(k for layer in layers for k in LAYERS[layer.kind].data_keys))


def _shape_text(shape: Shape) -> str:
    return "(" + ", ".join(map(str, shape)) + (",)" if len(shape) == 1 else ")")


def _mlp_tables(
    v: Validator, net: dict[str, Any], shape: Shape, layers: tuple[StackLayer, ...]
) -> dict[str, Any]:
    """The MLP form of a dense stack: ``[network] layers`` and ``activations``."""
    raw = v.data["layers"]
    network = {k: val for k, val in net.items() if k != "input"}
    network["layers"] = [shape[0], *(layer.output_shape[0] for layer in layers)]
    network["activations"] = [table.get("activation", "identity") for table in raw]
    return {**{k: val for k, val in v.data.items() if k != "layers"}, "network": network}


def _parameters(
    v: Validator, layers: tuple[StackLayer, ...], use_biases: bool
) -> dict[str, np.ndarray]:
    table = v.data["parameters"]
    shapes: dict[str, Shape] = {}
    for layer in layers:
        if layer.number is None:
            continue
        kind = LAYERS[layer.kind]
        for stem, shape in kind.parameter_shapes(layer.options, layer.input_shape).items():
            if stem != "b" or use_biases:
                shapes[f"{stem}{layer.number}"] = shape
    v.check_keys("parameters", table, list(shapes))
    result = {}
    for key, shape in shapes.items():
        if key not in table:
            raise v.fail(f"[parameters] {key}", f"missing key (shape {_shape_text(shape)})")
        result[key] = tensor(v, f"[parameters] {key}", table[key], shape)
    return result


def _expected(v: Validator, parameters: dict[str, np.ndarray]) -> StackExpected:
    """``[expected]`` of a stack: gradients ``d<parameter>`` in the parameters' shapes."""
    table = v.data["expected"]
    shapes = {f"d{k}": array.shape for k, array in parameters.items()}
    v.check_keys("expected", table, [*shapes, *TOLERANCE_KEYS])
    values = tuple(
        (key, tensor(v, f"[expected] {key}", value, shapes[key]))
        for key, value in table.items()
        if key in shapes
    )
    given, printed = tolerances(v, table)
    return StackExpected(values, **given, printed=printed)


def tensor(v: Validator, key: str, value: Any, shape: Shape) -> np.ndarray:
    """Nested lists of exact numbers in ``shape``, as an object array."""
    flat: list[Rational] = []

    def read(item: Any, depth: int, index: tuple[int, ...]) -> None:
        where = key + "".join(f"[{i}]" for i in index)
        if depth == len(shape):
            flat.append(v.number(where, item))
            return
        if not isinstance(item, list) or len(item) != shape[depth]:
            got = f"{len(item)} entries" if isinstance(item, list) else v.describe(item)
            raise v.fail(
                where,
                f"expected an array of shape {_shape_text(shape)}: "
                f"{shape[depth]} entries here, got {got}",
            )
        for i, sub in enumerate(item):
            read(sub, depth + 1, (*index, i))

    read(value, 0, ())
    return np.array(flat, dtype=object).reshape(shape)


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list) and value:
        value, depth = value[0], depth + 1
    return depth


def _samples(
    v: Validator, shape: Shape, out: Shape, layer_keys: list[str]
) -> tuple[np.ndarray, np.ndarray, bool]:
    data = v.data["data"]
    v.check_keys("data", data, [*_DATA_KEYS, *layer_keys])
    if "x" not in data:
        raise v.fail("[data] x", "missing key")
    batched = _depth(data["x"]) == len(shape) + 1
    items = data["x"] if batched else [data["x"]]
    x = np.array(
        [
            tensor(v, f"[data] x[{s}]" if batched else "[data] x", item, shape)
            for s, item in enumerate(items)
        ],
        dtype=object,
    ).reshape((len(items), *shape))
    if len(out) == 2:
        return x, sequence_targets(v, data, out, batched, len(items)), batched
    if "mask" in data:
        raise v.fail("[data] mask", "only for a sequence loss (temporal_cross_entropy)")
    given = [k for k in ("y", "label", "labels") if k in data]
    if len(given) != 1:
        raise v.fail(
            "[data] y",
            "expected exactly one of: y, label, labels"
            + (f"; got {', '.join(given)}" if given else ""),
        )
    n, m = out[0], len(items)
    if given[0] == "y":
        columns = v.batch("[data] y", data["y"], n, batched, samples=m)
    else:
        columns = v.labels(given[0], data[given[0]], n, batched, m)
    y = np.array(columns.T.tolist(), dtype=object).reshape(m, n)
    return x, y, batched


__all__ = ["StackLayer", "StackSpec", "parse_stack", "tensor"]
