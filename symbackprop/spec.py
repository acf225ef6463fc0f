"""TOML text -> a frozen, validated :class:`NetworkSpec`.

Numbers are read exactly: a decimal literal becomes the rational it spells (``0.1`` is 1/10),
through ``tomllib``'s ``parse_float`` hook and ``fractions.Fraction``, never through ``float``.
Every number must lie in float64's range, since ``check`` compares float64 results with the
exact ones. Nothing from the file is ever evaluated: specs are data.

>>> spec = load_spec("seed")
>>> spec.layers, spec.weights[0][0, 0]
((2, 3, 2), 1/10)
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeAlias

from sympy import ImmutableMatrix, Integer, Rational

from .activations import ACTIVATIONS, canonical_name
from .builtin import example_names, example_text
from .errors import SpecError
from .expected_keys import TOLERANCE_KEYS, entry_of, tolerances, updated_shapes
from .losses import LOSSES, REDUCTIONS, canonical_loss
from .quoting import NAME_LIMIT, one_line, quoted, shown
from .reading import STDIN, read_spec_text
from .stack_spec import StackSpec, parse_stack
from .toml_data import IN_RANGE as _IN_RANGE
from .toml_data import MAX_DIGITS, Float, Unusable, read_toml

Number: TypeAlias = Rational  # Integer is a Rational subclass

#: The magnitudes a nonzero number may have: float64's normal range.
FLOAT_RANGE = (Rational(Fraction(sys.float_info.min)), Rational(Fraction(sys.float_info.max)))


@dataclass(frozen=True)
class ActivationSpec:
    """An activation name with its options, e.g. ``leaky_relu`` with ``slope = 1/100``."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options)
        return f"{self.name}({opts})" if opts else self.name


@dataclass(frozen=True)
class LossSpec:
    """A loss name, its options and the batch reduction (``mean`` or ``sum``)."""

    name: str
    reduction: str = "mean"
    options: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Expected:
    """Documented (hand-computed) values with numpy.isclose tolerances."""

    values: tuple[tuple[str, ImmutableMatrix], ...]
    atol: Number = Rational(1, 10**8)
    rtol: Number = Rational(1, 10**5)
    #: Whether each value is judged to half a unit of its last printed digit, as
    #: ``tolerance = "printed"`` asks.
    printed: bool = False


@dataclass(frozen=True)
class Training:
    """One plain gradient-descent step: theta <- theta - learning_rate * dJ/dtheta.

    ``update_biases = False`` leaves the biases as they are (as in Mazur's worked example).
    """

    learning_rate: Number
    update_biases: bool = True


@dataclass(frozen=True)
class NetworkSpec:
    """A validated network with its documented point.

    Matrices follow the notebook: ``weights[l]`` is (n_l, n_{l-1}), ``biases[l]`` is (n_l, 1),
    ``x`` is (n_0, m) and ``y`` is (n_L, m), one column per sample.
    """

    source: str
    layers: tuple[int, ...]
    activations: tuple[ActivationSpec, ...]
    loss: LossSpec
    weights: tuple[ImmutableMatrix, ...]
    biases: tuple[ImmutableMatrix, ...] | None
    x: ImmutableMatrix
    y: ImmutableMatrix
    batched: bool = False
    l2: Number = Integer(0)
    expected: Expected | None = None
    text: str = field(default="", compare=False, repr=False)
    training: Training | None = None

    @property
    def depth(self) -> int:
        """L, the number of layers with parameters."""
        return len(self.layers) - 1

    @property
    def samples(self) -> int:
        """m, the number of samples (1 for a single sample)."""
        return int(self.x.cols)

    @property
    def name(self) -> str:
        """A short title, the example name or the file's stem."""
        stem = self.source.removeprefix("example '").removesuffix("'").rsplit("/", 1)[-1]
        return one_line(stem, NAME_LIMIT)  # a newline in a file name cannot split a heading


#: What a spec file describes: an MLP (or a dense stack), or any other stack of layers.
AnySpec: TypeAlias = "NetworkSpec | StackSpec"


# ----------------------------------------------------------------------------- loading


def load_spec(path_or_name: str | Path = "seed") -> AnySpec:
    """Load a spec from a TOML file, or a built-in example by name.

    Args:
        path_or_name: a path to a ``.toml`` file, or a name from :func:`example_names`.

    Returns:
        The validated spec.

    Raises:
        SpecError: the file is missing, not TOML, or does not describe a valid network.
    """
    text_name = str(path_or_name)
    path = Path(text_name)
    if text_name in example_names() and not path.is_file():
        return parse_spec(example_text(text_name), f"example '{text_name}'")
    if not text_name:
        raise SpecError("spec", "", "expected a TOML file or a built-in example name, got ''")
    hint = f" (built-in examples: {', '.join(example_names())})"
    text = read_spec_text(text_name, hint)
    text_name = "<stdin>" if text_name == STDIN else text_name
    return parse_spec(text, text_name)


def parse_spec(text: str, source: str = "<spec>") -> AnySpec:
    """Parse and validate TOML text (see :func:`load_spec`)."""
    return _Validator(source, read_toml(text, source)).spec(text)


# ----------------------------------------------------------------------------- validation

_TABLES = {
    "network": True,
    "parameters": True,
    "data": True,
    "expected": False,
    "training": False,
}
_TRAINING_KEYS = ("learning_rate", "update_biases")
_NETWORK_KEYS = ("layers", "activations", "loss", "biases", "l2")
_DATA_KEYS = ("x", "y", "label", "labels")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {quoted(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, Unusable | Float | int | Rational):
        return _format(value)
    return f"a {type(value).__name__}"  # a TOML date or time


class _Validator:
    """Turns the parsed TOML tables into a NetworkSpec, one section at a time."""

    def __init__(self, source: str, data: dict[str, Any]) -> None:
        self.source, self.data = source, data

    def fail(self, key: str, message: str) -> SpecError:
        return SpecError(self.source, key, message)

    def spec(self, text: str) -> AnySpec:
        self.check_keys("", self.data, [*_TABLES, "layers"])
        for table, required in _TABLES.items():
            if required and table not in self.data:
                raise self.fail(f"[{table}]", "missing table")
            if table in self.data and not isinstance(self.data[table], dict):
                raise self.fail(f"[{table}]", f"expected a table, got {_kind(self.data[table])}")
        if "layers" in self.data:
            parsed = parse_stack(self)
            if isinstance(parsed, StackSpec):
                return replace(parsed, text=text)
            self.data = parsed
        layers, activations, loss, use_biases, l2 = self.network()
        weights, biases = self.parameters(layers, use_biases)
        x, y, batched = self.samples(layers)
        self.check_target(loss, activations, y)
        expected = self.expected(layers, x.cols, batched) if "expected" in self.data else None
        training = self.training() if "training" in self.data else None
        return NetworkSpec(
            self.source,
            layers,
            activations,
            loss,
            weights,
            biases,
            x,
            y,
            batched,
            l2,
            expected,
            text,
            training=training,
        )

    # -- generic helpers

    def check_keys(self, table: str, values: Mapping[str, Any], allowed: list[str]) -> None:
        for key in values:
            if key not in allowed:
                where = f"[{table}] {shown(key)}" if table else f"[{shown(key)}]"
                raise self.fail(where, f"unknown key; expected one of: {', '.join(allowed)}")

    def number(self, key: str, value: Any) -> Rational:
        if isinstance(value, Unusable):
            raise self.fail(key, f"expected {value.expected}, got {_format(value)}")
        if isinstance(value, Float):
            value = value.rational()
        if isinstance(value, bool) or not isinstance(value, int | Rational):
            raise self.fail(key, f"expected a number, got {_kind(value)}")
        number = Integer(value) if isinstance(value, int) else value
        if number and not FLOAT_RANGE[0] <= abs(number) <= FLOAT_RANGE[1]:
            raise self.fail(key, f"expected {_IN_RANGE}, got {_format(value)}")
        return number

    def vector(self, key: str, value: Any, n: int) -> list[Rational]:
        if not isinstance(value, list) or len(value) != n:
            got = f"{len(value)} entries" if isinstance(value, list) else _kind(value)
            raise self.fail(key, f"expected a list of {n} numbers, got {got}")
        return [self.number(f"{key}[{i}]", v) for i, v in enumerate(value)]

    def matrix(self, key: str, value: Any, rows: int, cols: int) -> ImmutableMatrix:
        shape = f"a {rows}x{cols} matrix ({rows} rows of {cols} numbers)"
        if not isinstance(value, list) or len(value) != rows:
            got = f"{len(value)} rows" if isinstance(value, list) else _kind(value)
            raise self.fail(key, f"expected {shape}, got {got}")
        body = []
        for i, row in enumerate(value):
            if not isinstance(row, list) or len(row) != cols:
                got = f"{len(row)} entries" if isinstance(row, list) else _kind(row)
                raise self.fail(
                    f"{key}[{i}]", f"expected a row of {cols} numbers ({shape}), got {got}"
                )
            body.append([self.number(f"{key}[{i}][{j}]", v) for j, v in enumerate(row)])
        return ImmutableMatrix(body)

    def column(self, key: str, value: Any, n: int) -> ImmutableMatrix:
        """A flat list of n numbers or an (n, 1) column."""
        if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
            return self.matrix(key, value, n, 1)
        return ImmutableMatrix(self.vector(key, value, n))

    # -- sections

    def network(
        self,
    ) -> tuple[tuple[int, ...], tuple[ActivationSpec, ...], LossSpec, bool, Rational]:
        net = self.data["network"]
        self.check_keys("network", net, list(_NETWORK_KEYS))
        for key in ("layers", "activations", "loss"):
            if key not in net:
                raise self.fail(f"[network] {key}", "missing key")
        layers = self.layers(net["layers"])
        acts = net["activations"]
        if not isinstance(acts, list) or len(acts) != len(layers) - 1:
            got = f"{len(acts)} entries" if isinstance(acts, list) else _kind(acts)
            raise self.fail(
                "[network] activations",
                f"expected a list of {len(layers) - 1} "
                f"activations (one per layer after the input), got {got}",
            )
        activations = tuple(self.activation(i, a, len(acts)) for i, a in enumerate(acts))
        use_biases = net.get("biases", True)
        if not isinstance(use_biases, bool):
            raise self.fail("[network] biases", f"expected true or false, got {_kind(use_biases)}")
        l2 = self.number("[network] l2", net.get("l2", 0))
        if l2 < 0:
            raise self.fail("[network] l2", f"expected a number >= 0, got {_format(net['l2'])}")
        return layers, activations, self.loss(net["loss"], activations[-1]), use_biases, l2

    def layers(self, value: Any) -> tuple[int, ...]:
        ok = (
            isinstance(value, list)
            and len(value) >= 2
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in value)
        )
        if not ok:
            raise self.fail(
                "[network] layers",
                "expected a list of at least 2 positive integers "
                f"(input size, hidden sizes..., output size), got {_format(value)}",
            )
        return tuple(value)

    def activation(self, index: int, value: Any, count: int) -> ActivationSpec:
        return self.named_activation(f"[network] activations[{index}]", value, index == count - 1)

    def named_activation(self, key: str, value: Any, output: bool) -> ActivationSpec:
        """An activation name or inline table at ``key``; ``output``: on the output layer."""
        options: dict[str, Any] = {}
        if isinstance(value, dict):
            options = dict(value)
            value = options.pop("name", None)
            if value is None:
                raise self.fail(key, "expected a 'name' in the inline table")
        if not isinstance(value, str):
            raise self.fail(key, f"expected an activation name, got {_kind(value)}")
        name = canonical_name(value)
        if name not in ACTIVATIONS:
            raise self.fail(
                key,
                f"unknown activation {quoted(value)}; "
                f"expected one of: {', '.join(sorted(ACTIVATIONS))}",
            )
        entry = ACTIVATIONS[name]
        if entry.output_only and not output:
            raise self.fail(key, f"'{name}' is allowed on the output layer only")
        return ActivationSpec(name, self.options(key, options, entry.options))

    def describe(self, value: Any) -> str:
        """``value`` as the spec spells it, for messages."""
        return _format(value)

    def options(
        self, key: str, given: dict[str, Any], defaults: Mapping[str, Any], *other: str
    ) -> tuple:
        for name in given:
            if name not in defaults:
                allowed = ", ".join(["name", *other, *defaults])
                raise self.fail(
                    f"{key}.{shown(name)}", f"unknown option; expected one of: {allowed}"
                )
        merged = dict(defaults)
        for name, value in given.items():
            merged[name] = (
                self.number(f"{key}.{name}", value)
                if not isinstance(defaults[name], bool)
                else self.boolean(f"{key}.{name}", value)
            )
        return tuple(sorted(merged.items()))

    def boolean(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {_kind(value)}")
        return value

    def loss(self, value: Any, output: ActivationSpec) -> LossSpec:
        key = "[network] loss"
        options: dict[str, Any] = {}
        if isinstance(value, dict):
            options = dict(value)
            value = options.pop("name", None)
            if value is None:
                raise self.fail(key, "expected a 'name' in the inline table")
        if not isinstance(value, str) or canonical_loss(value) not in LOSSES:
            raise self.fail(
                key, f"unknown loss {_format(value)}; expected one of: {', '.join(sorted(LOSSES))}"
            )
        value = canonical_loss(value)
        entry = LOSSES[value]
        reduction = options.pop("reduction", "mean")
        if reduction not in REDUCTIONS:
            raise self.fail(
                f"{key}.reduction",
                f"expected one of: {', '.join(REDUCTIONS)}, got {_format(reduction)}",
            )
        if entry.output_activations and output.name not in entry.output_activations:
            raise self.fail(
                key,
                f"'{value}' needs a {' or '.join(entry.output_activations)} "
                f"output layer, got '{output.name}'",
            )
        return LossSpec(value, reduction, self.options(key, options, entry.options, "reduction"))

    def parameters(
        self, layers: tuple[int, ...], use_biases: bool
    ) -> tuple[tuple[ImmutableMatrix, ...], tuple[ImmutableMatrix, ...] | None]:
        params = self.data["parameters"]
        depth = len(layers) - 1
        names = [f"W{l + 1}" for l in range(depth)]
        names += [f"b{l + 1}" for l in range(depth)] if use_biases else []
        self.check_keys("parameters", params, names)
        for name in names:
            if name not in params:
                raise self.fail(f"[parameters] {name}", "missing key")
        weights = tuple(
            self.matrix(f"[parameters] W{l + 1}", params[f"W{l + 1}"], layers[l + 1], layers[l])
            for l in range(depth)
        )
        if not use_biases:
            return weights, None
        biases = tuple(
            self.column(f"[parameters] b{l + 1}", params[f"b{l + 1}"], layers[l + 1])
            for l in range(depth)
        )
        return weights, biases

    def samples(self, layers: tuple[int, ...]) -> tuple[ImmutableMatrix, ImmutableMatrix, bool]:
        data = self.data["data"]
        self.check_keys("data", data, list(_DATA_KEYS))
        if "x" not in data:
            raise self.fail("[data] x", "missing key")
        batched = (
            isinstance(data["x"], list) and bool(data["x"]) and isinstance(data["x"][0], list)
        )
        x = self.batch("[data] x", data["x"], layers[0], batched)
        given = [k for k in ("y", "label", "labels") if k in data]
        if len(given) != 1:
            raise self.fail(
                "[data] y",
                "expected exactly one of: y, label, labels"
                + (f"; got {', '.join(given)}" if given else ""),
            )
        if given[0] == "y":
            y = self.batch("[data] y", data["y"], layers[-1], batched, samples=x.cols)
        else:
            y = self.labels(given[0], data[given[0]], layers[-1], batched, x.cols)
        return x, y, batched

    def batch(
        self, key: str, value: Any, n: int, batched: bool, samples: int | None = None
    ) -> ImmutableMatrix:
        if not batched:
            return ImmutableMatrix(self.vector(key, value, n))
        if not isinstance(value, list) or (samples is not None and len(value) != samples):
            got = f"{len(value)} samples" if isinstance(value, list) else _kind(value)
            raise self.fail(
                key,
                f"expected a batch of {samples} samples (rows) of {n} numbers, like x, got {got}",
            )
        return ImmutableMatrix(
            [self.vector(f"{key}[{s}]", row, n) for s, row in enumerate(value)]
        ).T

    def labels(
        self, key: str, value: Any, classes: int, batched: bool, samples: int
    ) -> ImmutableMatrix:
        expected_batch = key == "labels"
        if expected_batch != batched:
            raise self.fail(
                f"[data] {key}", "use 'label' with a single sample x and 'labels' with a batch"
            )
        items = value if expected_batch else [value]
        if not isinstance(items, list) or len(items) != samples:
            raise self.fail(
                f"[data] {key}", f"expected {samples} class indices, got {_format(value)}"
            )
        columns = []
        for s, label in enumerate(items):
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < classes:
                raise self.fail(
                    f"[data] {key}",
                    f"expected a class index in 0..{classes - 1}, "
                    f"got {_format(label)}" + (f" (sample {s})" if batched else ""),
                )
            columns.append([int(k == label) for k in range(classes)])
        return ImmutableMatrix(columns).T

    def check_target(
        self, loss: LossSpec, activations: tuple[ActivationSpec, ...], y: ImmutableMatrix
    ) -> None:
        problem = LOSSES[loss.name].check_target(y)
        if problem:
            raise self.fail("[data] y", f"target {problem}")

    def training(self) -> Training:
        table = self.data["training"]
        self.check_keys("training", table, list(_TRAINING_KEYS))
        if "learning_rate" not in table:
            raise self.fail("[training] learning_rate", "missing key")
        rate = self.number("[training] learning_rate", table["learning_rate"])
        if rate <= 0:
            raise self.fail(
                "[training] learning_rate",
                f"expected a number > 0, got {_format(table['learning_rate'])}",
            )
        update_biases = self.boolean("[training] update_biases", table.get("update_biases", True))
        return Training(rate, update_biases)

    def expected(self, layers: tuple[int, ...], samples: int, batched: bool) -> Expected:
        table = self.data["expected"]
        depth = len(layers) - 1
        shapes: dict[str, tuple[int, int]] = {"loss": (1, 1), "yhat": (layers[-1], samples)}
        for l in range(depth):
            shapes[f"dW{l + 1}"] = (layers[l + 1], layers[l])
            shapes[f"db{l + 1}"] = (layers[l + 1], 1)
            shapes[f"z{l + 1}"] = (layers[l + 1], samples)
            shapes[f"a{l + 1}"] = (layers[l + 1], samples)
        shapes.update(updated_shapes(shapes))
        entries = [k for k in table if entry_of(k, shapes)]
        self.check_keys("expected", table, [*shapes, *entries, *TOLERANCE_KEYS])
        values = []
        for key, value in table.items():
            if key in TOLERANCE_KEYS:
                continue
            where = f"[expected] {key}"
            if key in entries:
                values.append((key, ImmutableMatrix([[self.number(where, value)]])))
                continue
            rows, cols = shapes[key]
            if key.endswith("_updated") and "training" not in self.data:
                raise self.fail(where, "a value after the update needs a [training] table")
            if key.startswith("loss"):
                values.append((key, ImmutableMatrix([[self.number(where, value)]])))
            elif key.startswith(("dW", "W")):
                values.append((key, self.matrix(where, value, rows, cols)))
            elif key.startswith(("db", "b")):
                values.append((key, self.column(where, value, rows)))
            else:
                values.append((key, self.batch(where, value, rows, batched, samples)))
        given, printed = tolerances(self, table)
        return Expected(tuple(values), **given, printed=printed)


#: A list in a message shows at most this many entries, and this many levels.
_LIST_ENTRIES, _LIST_LEVELS = 8, 3


def _format(value: Any, level: int = 0) -> str:
    """``value`` as the spec spells it: strings quoted, floats as decimals, long text cut."""
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, list):
        if level >= _LIST_LEVELS and value:
            return "[...]"
        shown = [_format(v, level + 1) for v in value[:_LIST_ENTRIES]]
        if len(value) > _LIST_ENTRIES:
            shown.append(f"... ({len(value)} entries)")
        return "[" + ", ".join(shown) + "]"
    if isinstance(value, Float):
        value = value.rational()
    if isinstance(value, Unusable):
        return _shortened(value.text)
    if isinstance(value, Rational):  # from a TOML float: 2.0, -0.1, 1e-300
        return _shortened(_decimal_text(value))
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return _shortened(str(value))
    return _kind(value)


def _decimal_text(value: Rational) -> str:
    """A terminating decimal written out (``2.0``, ``-0.1``, ``1e-300``); others as p/q."""
    p, q = int(value.p), int(value.q)
    rest = q >> ((q & -q).bit_length() - 1)  # q without its factors 2
    while rest % 5 == 0:
        rest //= 5
    if rest != 1:
        return str(value)
    with localcontext(prec=MAX_DIGITS + 700):  # exact: q divides a power of 10 up to 10^700
        number = Decimal(p) / Decimal(q)
    if -6 <= number.adjusted() < 16:
        text = format(number, "f")
        return text if "." in text else f"{text}.0"
    return format(number, "e")


def _shortened(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:24]}...{text[-8:]} ({len(text)} characters)"
