"""``check`` for any stack of layers: the chain rule's gradients against every oracle.

The exact side is the layer graph's one-level definitions and their adjoints
(:mod:`symbackprop.chain`), evaluated in mpmath at :data:`PRECISION` + :data:`GUARD` digits
with rationals entering exactly. Against it, entry by entry, at the documented point and at
random points: the same definitions lambdified in float64, the independent NumPy reference
(:mod:`symbackprop.reference_layers`), and central finite differences of the reference loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import mpmath
import numpy as np
from sympy import Expr, Rational, Symbol

from .. import notation, reference_layers
from ..activations import LeakyReLU, ReLU
from ..chain import Adjoints, reverse
from ..codegen import Function, compile_expressions
from ..errors import UserBackpropError
from ..finite_differences import DEFAULT_RELATIVE_STEP, central_difference, central_differences
from ..graph import LayerGraph, build_graph, takes_indices
from ..isolation import ChildResult, Isolated, run_child
from ..layers import LAYERS, PoolMax
from ..mistakes.stack import StackPointData
from ..numeric import mpmath_printer, numpy_printer
from ..scalars import scalar_functions, scalar_ready
from ..spec_writer import StackPointSpec
from ..stack_spec import StackSpec
from ..userbackprop import Backprop, call_dict_backprop
from .compare import (
    DOCUMENTED_POINT,
    FD_ATOL,
    FD_RTOL,
    FINITE_DIFFERENCES,
    LAMBDIFIED,
    ORDER,
    REFERENCE,
    UNRESOLVED,
    USER,
    Comparison,
    EntryFailure,
    point_phrase,
    resolved,
    rounding_error,
    shape_failures,
)
from .diagnosis import diagnosis
from .documented import Documented, documented_comparison
from .likely import Likely, stack_likely
from .precision import GUARD, PRECISION, number_text, real
from .report import CheckReport
from .stack_documented import stack_documented

Values = dict[Symbol, Any]
#: Activations whose argument is a kink at exactly 0.
KinkArgument = (ReLU, LeakyReLU)


@dataclass(frozen=True)
class _Stage:
    outputs: tuple[Symbol, ...]
    inputs: tuple[Symbol, ...]
    function: Function


@dataclass(frozen=True, eq=False)
class Program:
    """The forward, adjoint and gradient stages of a graph, compiled for one number type."""

    stages: tuple[_Stage, ...]
    gradients: _Stage
    #: The gradients of the graph's data (h0, c0), if it has any.
    data: _Stage | None = None

    def run(self, values: Values) -> list[Any]:
        """Evaluate every stage into ``values``; return the gradient entries."""
        for stage in self.stages:
            results = stage.function([values[s] for s in stage.inputs])
            values.update(zip(stage.outputs, results, strict=True))
        return list(self.gradients.function([values[s] for s in self.gradients.inputs]))

    def run_data(self, values: Values) -> list[Any]:
        """The data's gradient entries, from the ``values`` that :meth:`run` filled."""
        if self.data is None:
            return []
        return list(self.data.function([values[s] for s in self.data.inputs]))


def _stage(
    outputs: Sequence[Symbol], exprs: Sequence[Expr], convention: Rational, numpy: bool
) -> _Stage:
    exprs = [scalar_ready(e, convention, numpy) for e in exprs]
    inputs = sorted(set().union(*(e.free_symbols for e in exprs)), key=str)
    if numpy:
        scalar = scalar_functions(float(convention))
        function = compile_expressions(inputs, exprs, numpy_printer(), [scalar, "numpy"])
    else:
        scalar = scalar_functions(mpmath.mpf(int(convention.p)) / int(convention.q))
        function = compile_expressions(inputs, exprs, mpmath_printer(), [scalar, "mpmath"])
    return _Stage(tuple(outputs), tuple(inputs), function)


def compile_program(
    graph: LayerGraph, adjoints: Adjoints, convention: Rational, numpy: bool
) -> Program:
    """Lambdify ``graph``'s stages, then the adjoint stages in reverse, then the gradients."""
    defs, stages = graph.definitions, []
    for stage in graph.stages:
        stages.append(_stage(stage, [defs[s] for s in stage], convention, numpy))
    for stage in reversed(graph.stages):
        symbols = [adjoints.symbols[s] for s in stage]
        stages.append(
            _stage(symbols, [adjoints.definitions[s] for s in symbols], convention, numpy)
        )
    params = [p for _, p, _ in graph.parameter_symbols()]
    gradients = _stage(params, [adjoints.parameters[p] for p in params], convention, numpy)
    data = [s for array in graph.data.values() for s in array.ravel()]
    states = _stage(data, [adjoints.parameters[s] for s in data], convention, numpy)
    return Program(tuple(stages), gradients, states if data else None)


@dataclass(frozen=True)
class StackPoint:
    """A point: parameters, x and y as float64 arrays, and the exact numbers (mpmath)."""

    label: str
    parameters: dict[str, np.ndarray]
    x: np.ndarray
    y: np.ndarray
    exact: dict[str, np.ndarray]  # "dW1" -> object array of mpf
    ties: tuple[tuple[str, int], ...] = ()
    #: Entries not judged against float64 results: those a tie float64 may break can change.
    not_judged: frozenset[str] = frozenset()
    #: The ties float64 computes exactly (tied max-pool windows), by name: judged but by
    #: finite differences, which straddle the tie.
    exact_ties: frozenset[str] = frozenset()
    #: Entries not judged against finite differences: those any tie can change.
    kinked: frozenset[str] = frozenset()
    #: The exact gradients of the graph's data (``dh0``, ``dc0``), the spec's at every point.
    data_exact: dict[str, np.ndarray] = field(default_factory=dict)


def _assign(
    graph: LayerGraph, params: Mapping[str, Any], x: Any, y: Any, convert: Callable[[Any], Any]
) -> Values:
    values: Values = {}
    for key, array in graph.parameters.items():
        for index in np.ndindex(*array.shape):
            values[array[index]] = convert(params[key][index])
    for tensors, data in ((graph.inputs, x), (graph.targets, y)):
        for s, symbols in enumerate(tensors):
            for index in np.ndindex(*symbols.shape):
                values[symbols[index]] = convert(data[s][index])
    for key, array in graph.data.items():  # h0, c0: the spec's, at every point
        for index in np.ndindex(*array.shape):
            values[array[index]] = convert(graph.data_values[key][index])
    return values


def _data_by_key(graph: LayerGraph, flat: Sequence[Any]) -> dict[str, np.ndarray]:
    """The data's gradient entries keyed ``dh0``, ``dc0``, in the data's shapes."""
    out, position = {}, 0
    for key, array in graph.data.items():
        out[f"d{key}"] = np.array(flat[position : position + array.size], dtype=object)
        out[f"d{key}"] = out[f"d{key}"].reshape(array.shape)
        position += array.size
    return out


def _mp(value: Any) -> mpmath.mpf:
    if isinstance(value, Rational):
        return mpmath.mpf(int(value.p)) / int(value.q)
    return mpmath.mpf(float(value))


def _by_key(graph: LayerGraph, flat: Sequence[Any], dtype: Any) -> dict[str, np.ndarray]:
    out, position = {}, 0
    for key, array in graph.parameters.items():
        size = array.size
        out[f"d{key}"] = np.array(list(flat[position : position + size]), dtype=dtype).reshape(
            array.shape
        )
        position += size
    return out


def _ties(graph: LayerGraph, values: Values) -> tuple[tuple[str, int], ...]:
    """(name, layer position) of each point where the stack is not differentiable.

    Those are max-pool windows whose maximum occurs more than once, and pre-activations of a
    ReLU-like activation that are exactly 0.
    """
    found = []
    resolution = mpmath.mpf(10) ** -PRECISION  # values are carried at PRECISION + GUARD digits
    for symbol, expr in graph.definitions.items():
        if isinstance(expr, PoolMax):
            window = [values[a] for a in expr.args]
            top = max(window)
            tied = [
                a
                for a, v in zip(expr.args, window, strict=True)
                if top - v <= resolution * max(1, abs(top))
            ]
            if len(tied) > 1 and not all(_dead(graph, values, a) for a in tied):
                found.append((symbol.name, graph.positions[symbol]))
        elif isinstance(expr, KinkArgument) and abs(values[expr.args[0]]) <= resolution:
            found.append((expr.args[0].name, graph.positions[symbol]))
    return tuple(found)


def _dead(graph: LayerGraph, values: Values, symbol: Symbol) -> bool:
    """Whether ``symbol`` is a ReLU of a negative pre-activation: no gradient flows through it,
    so a tie among such entries cannot change any gradient."""
    expr = graph.definitions.get(symbol)
    return isinstance(expr, ReLU) and values[expr.args[0]] < 0


def _tie_dependent(
    spec: StackSpec, exact: Mapping[str, np.ndarray], ties: Sequence[tuple[str, int]]
) -> set[str]:
    """Gradient entries the ``ties`` (or kinks) can change: those of their layers and the
    layers before."""
    if not ties:
        return set()
    last = max(position for _, position in ties)
    keys = {
        f"d{key}"
        for layer in spec.layers
        if layer.position <= last
        for key in layer.parameter_keys.values()
    }
    return {
        notation.entry_name(key, index)
        for key, numbers in exact.items()
        if key in keys
        for index in np.ndindex(*numbers.shape)
    }


def _exact_in_float64(
    graph: LayerGraph, values: Values, params: Mapping[str, Any], x: Any
) -> frozenset[str]:
    """The tied max-pool windows that float64 computes exactly: the reference's float64
    forward gives every tied value exactly and puts the first maximum where the exact one is,
    so a float64 backprop sends the gradient where the exact one does.

    A kink (a pre-activation exactly 0) is never one: which side float64 lands on is not
    robust. Float64 oracles judge a tie's entries only when this holds."""
    layers = _layer_dicts(graph.spec)
    floats = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    pairs = reference_layers.forward(layers, floats, np.asarray(x, dtype=np.float64))
    # a pooled value that is also a kink's argument shares its name with the kink: never one
    kinks = {e.args[0] for e in graph.definitions.values() if isinstance(e, KinkArgument)}
    return frozenset(
        symbol.name
        for symbol, expr in graph.definitions.items()
        if isinstance(expr, PoolMax)
        and symbol not in kinks
        and _reproduced(graph, values, pairs, x, symbol, expr)
    )


def _reproduced(
    graph: LayerGraph, values: Values, pairs: Sequence[Any], x: Any, symbol: Symbol, expr: Expr
) -> bool:
    """Whether the window of ``symbol`` has the same first maximum, computed exactly, in the
    reference's float64 forward."""
    position = graph.positions[symbol]
    inputs = graph.inputs if position == 1 else graph.outputs[position - 1]
    before = np.asarray(x, dtype=np.float64) if position == 1 else pairs[position - 2][1]
    where = {s: (n, *i) for n, tensor in enumerate(inputs) for i, s in np.ndenumerate(tensor)}
    if not all(a in where for a in expr.args):
        return False
    window = [values[a] for a in expr.args]
    got = [float(before[where[a]]) for a in expr.args]
    top = max(window)
    first = window.index(top)
    tied = [k for k, v in enumerate(window) if v == top]
    return int(np.argmax(got)) == first and all(mpmath.mpf(got[k]) == top for k in tied)


@dataclass(frozen=True, eq=False)
class StackCheck:
    """A stack's graph, adjoints and compiled programs, with its points."""

    spec: StackSpec
    graph: LayerGraph
    exact: Program
    floats: Program
    points: tuple[StackPoint, ...]


def prepare_stack(spec: StackSpec, count: int, seed: int, convention: Rational) -> StackCheck:
    """Build, differentiate and compile the stack; make the documented and random points."""
    graph = build_graph(spec)
    wanted = [p for _, p, _ in graph.parameter_symbols()]
    wanted += [s for array in graph.data.values() for s in array.ravel()]
    adjoints = reverse(graph.definitions, graph.loss, wanted, graph.rewrites)
    exact = compile_program(graph, adjoints, convention, numpy=False)
    floats = compile_program(graph, adjoints, convention, numpy=True)
    rng = np.random.default_rng(seed)
    points = [_point(graph, exact, DOCUMENTED_POINT, dict(spec.parameters), spec.x, spec.y)]
    for k in range(1, count + 1):
        points.append(_random_point(graph, exact, f"random point {k}", rng))
    return StackCheck(spec, graph, exact, floats, tuple(points))


#: Draws for a random point without a tied max-pool window or a pre-activation at a kink.
RANDOM_TRIES = 50


def _random_point(
    graph: LayerGraph, exact: Program, label: str, rng: np.random.Generator
) -> StackPoint:
    """Parameters and x uniform in [-1, 1] (word indices kept), the spec's targets, drawn
    again on a tie."""
    spec = graph.spec
    for _ in range(RANDOM_TRIES):
        params = {key: rng.uniform(-1.0, 1.0, v.shape) for key, v in spec.parameters.items()}
        x = spec.x if takes_indices(spec) else rng.uniform(-1.0, 1.0, spec.x.shape)
        point = _point(graph, exact, label, params, x, spec.y)
        if not point.ties:
            break
    return point


def _point(
    graph: LayerGraph, exact: Program, label: str, params: dict[str, Any], x: Any, y: Any
) -> StackPoint:
    with mpmath.workdps(PRECISION + GUARD):
        values = _assign(graph, params, x, y, _mp)
        numbers = _by_key(graph, exact.run(values), object)
        data = _data_by_key(graph, exact.run_data(values))
        ties = _ties(graph, values)
        exact_ties = _exact_in_float64(graph, values, params, x) if ties else frozenset()
    as_float = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    point = StackPoint(
        label,
        as_float,
        np.array(x, dtype=np.float64),
        np.array(y, dtype=np.float64),
        numbers,
        ties,
        data_exact=data,
    )
    loose = [tie for tie in ties if tie[0] not in exact_ties]
    return replace(
        point,
        not_judged=frozenset(_tie_dependent(graph.spec, numbers, loose)),
        exact_ties=exact_ties & {name for name, _ in ties},
        kinked=frozenset(_tie_dependent(graph.spec, numbers, ties)),
    )


def _layer_dicts(spec: StackSpec) -> list[dict[str, Any]]:
    """The stack as the reference's layer dicts."""
    layers = []
    for layer in spec.layers:
        entry: dict[str, Any] = {"type": layer.kind, **layer.options}
        if "padding" in entry:
            entry["padding"] = entry["padding"][0]  # the same on every side
        act = layer.activation
        if act is not None:
            entry["activation"] = (
                (act.name, {k: float(v) for k, v in act.options}) if act.options else act.name
            )
        layers.append(entry)
    return layers


def stack_comparisons(
    check: StackCheck, rtol: float, atol: float, convention: Rational
) -> tuple[list[Comparison], list[str]]:
    """The lambdified, reference and finite-difference comparisons at every point."""
    spec, layers = check.spec, _layer_dicts(check.spec)
    loss_options = _loss_options(spec)
    comparisons: list[Comparison] = []
    notes: list[str] = []
    with np.errstate(all="ignore"):
        graph = check.graph
        for point in check.points:
            values = _assign(graph, point.parameters, point.x, point.y, float)
            floats = _by_key(graph, check.floats.run(values), np.float64)
            floats.update(_data_by_key(graph, check.floats.run_data(values)))
            comparisons.append(compare(LAMBDIFIED, _with_data(point), floats, rtol, atol))
        for point in check.points:
            states: dict[tuple[int, str], np.ndarray] = {}
            grads = reference_layers.backprop(
                layers,
                point.parameters,
                point.x,
                point.y,
                relu_prime_at_zero=float(convention),
                data=states,
                **loss_options,
            )
            found = {f"d{k}": v for k, v in grads.items()}
            found.update((f"d{k}", states[owner]) for k, owner in graph.data_owners.items())
            comparisons.append(compare(REFERENCE, _with_data(point), found, rtol, atol))
        for point in check.points:
            comparisons.append(_finite_differences(layers, point, loss_options, notes, graph))
    notes += [_tie_note(point, convention) for point in check.points if point.ties]
    return comparisons, notes


def _tie_note(point: StackPoint, convention: Rational) -> str:
    """What a point's ties mean for the check."""
    text = (
        f"not differentiable at the {point.label} (a tied max-pool window or a "
        f"pre-activation exactly 0): {', '.join(name for name, _ in point.ties)}; the "
        f"exact gradient takes the first maximum in row-major order and ReLU'(0) = {convention}"
    )
    if point.not_judged or not point.exact_ties:
        return text + (
            ", and the entries of those layers and the layers before are not judged there "
            "against float64 results"
        )
    return text + (
        "; float64 computes every tied value exactly there, so those entries are judged "
        "against float64 results (your backprop's too), but not against finite differences"
    )


def _with_data(point: StackPoint) -> StackPoint:
    """``point`` with the data's exact gradients (dh0, dc0) judged beside the parameters'."""
    return replace(point, exact={**point.exact, **point.data_exact}) if point.data_exact else point


def _loss_options(spec: StackSpec) -> dict[str, Any]:
    """The stack's loss as the reference's keyword arguments."""
    return {
        "loss": spec.loss.name,
        "reduction": spec.loss.reduction,
        **{k: v for k, v in spec.loss.options},
    }


def _likely(
    check: StackCheck,
    user: list[dict[str, np.ndarray]],
    comparisons: list[Comparison],
    documented: Documented | None,
    convention: Rational,
    rtol: float,
    atol: float,
) -> Likely:
    """The layer catalogue against the user's failing parameters and the misread table."""
    options = {**_loss_options(check.spec), "relu_prime_at_zero": float(convention)}
    points = [
        StackPointData(p.parameters, p.x, p.y, grads, {k[1:]: v for k, v in p.exact.items()})
        for p, grads in zip(check.points, user or [{}] * len(check.points), strict=True)
    ]
    layers = _layer_dicts(check.spec)
    return stack_likely(check.spec, layers, options, points, comparisons, documented, rtol, atol)


def _finite_differences(
    layers: list[dict[str, Any]],
    point: StackPoint,
    options: dict[str, Any],
    notes: list[str],
    graph: LayerGraph,
) -> Comparison:
    """Central differences of the reference loss in the parameters and the graph's data (h0,
    c0: a layer's entry); those float64 cannot resolve are not judged."""
    keys = [*point.parameters, *graph.data_owners]
    weights = [point.parameters[k] for k in point.parameters]
    weights += [np.array(graph.data_values[k], dtype=np.float64) for k in graph.data_owners]
    point = _with_data(point)

    def loss(weights: list[np.ndarray], biases: Any) -> float:
        given = dict(zip(keys, weights, strict=True))
        changed = [dict(layer) for layer in layers]
        for key, (position, name) in graph.data_owners.items():
            changed[position - 1][name] = given.pop(key)
        return reference_layers.loss(changed, given, point.x, point.y, **options)

    grads, _ = central_differences(loss, weights, None)
    values = {f"d{k}": g for k, g in zip(keys, grads, strict=True)}
    point = replace(point, not_judged=point.not_judged | point.kinked)
    judged = compare(FINITE_DIFFERENCES, point, values, FD_RTOL, FD_ATOL)
    if judged.ok:
        return judged
    failing, at, unresolved = {f.entry: f for f in judged.failures}, loss(weights, None), set()
    for k, key in enumerate(keys):
        for index in np.ndindex(*weights[k].shape):
            entry = notation.entry_name(f"d{key}", index)
            if entry in failing:
                step = DEFAULT_RELATIVE_STEP / 2
                fine = central_difference(loss, weights, None, (0, k, index), step)
                rounding = rounding_error(at, float(weights[k][index]))
                coarse = float(values[f"d{key}"][index])
                if not resolved(coarse, fine, rounding, failing[entry].tolerance):
                    unresolved.add(entry)
    if unresolved and UNRESOLVED not in notes:
        notes.append(UNRESOLVED)
    return compare(FINITE_DIFFERENCES, point, values, FD_RTOL, FD_ATOL, frozenset(unresolved))


def compare(
    name: str,
    point: StackPoint,
    values: dict[str, np.ndarray],
    rtol: float,
    atol: float,
    unresolved: frozenset[str] = frozenset(),
) -> Comparison:
    """Float64 ``values`` (keyed dW1, ...) against the exact numbers, entry by entry; the
    ``unresolved`` finite differences are not judged."""
    failures: list[EntryFailure] = []
    max_abs = max_rel = 0.0
    entries = 0
    not_judged = []
    with mpmath.workdps(PRECISION):
        for key, numbers in point.exact.items():
            if values[key].shape != numbers.shape:
                entries += numbers.size
                got = values[key].shape
                failures += shape_failures(name, point.label, key, numbers.shape, got, atol)
                max_abs = max_rel = math.inf
                continue
            for index in np.ndindex(*numbers.shape):
                entries += 1
                entry = notation.entry_name(key, index)
                if entry in point.not_judged or entry in unresolved:
                    not_judged.append(entry)
                    continue
                exact, actual = +numbers[index], float(values[key][index])
                finite = math.isfinite(actual)
                difference = mpmath.mpf(actual) - exact if finite else mpmath.inf
                max_abs = max(max_abs, float(abs(difference)))
                if exact != 0:
                    max_rel = max(max_rel, float(abs(difference) / abs(exact)))
                tolerance = atol + rtol * abs(exact)
                if not (finite and abs(difference) <= tolerance):
                    failures.append(
                        EntryFailure(
                            name,
                            point.label,
                            entry,
                            f"{actual:.12g}",
                            number_text(exact),
                            real(difference),
                            real(tolerance),
                        )
                    )
    return Comparison(
        name,
        point.label,
        entries,
        max_abs,
        max_rel,
        rtol,
        atol,
        tuple(failures),
        tuple(e for e in not_judged if e not in unresolved),
        unresolved=tuple(e for e in not_judged if e in unresolved),
    )


def stack_title(spec: StackSpec) -> str:
    """``cnn: (1, 6, 6) -> conv2d 2x3x3 relu -> max_pool2d 2x2 -> flatten -> dense 3 softmax``."""
    parts = [f"({', '.join(map(str, spec.input_shape))})"]
    for layer in spec.layers:
        text = LAYERS[layer.kind].describe(layer.options)
        parts.append(text + (f" {layer.activation}" if layer.activation is not None else ""))
    extras = f" ({spec.samples} samples, {spec.loss.reduction})" if spec.batched else ""
    return f"{spec.name}: {' -> '.join(parts)}, {spec.loss}{extras}"


def user_arrays(spec: StackSpec, point: StackPoint) -> tuple[np.ndarray, np.ndarray]:
    """x and y as the user's backprop gets them: a leading sample axis only for a batch."""
    return (point.x, point.y) if spec.batched else (point.x[0], point.y[0])


def stack_user_comparisons(
    prepared: StackCheck, backprop: Backprop | Isolated, rtol: float, atol: float
) -> tuple[list[Comparison], str | None, list[dict[str, np.ndarray]]]:
    """The user's ``backprop(params, x, y) -> grads`` at every point, the name of an
    :class:`~..isolation.Isolated` one, and the gradients."""
    name = None
    if isinstance(backprop, Isolated):
        found = _isolated_gradients(prepared, backprop)
        every, name = found.results, found.name
    else:
        every = []
        for point in prepared.points:
            try:
                grads = call_dict_backprop(
                    backprop, point.parameters, *user_arrays(prepared.spec, point)
                )
            except UserBackpropError as exc:
                raise UserBackpropError(f"at {point_phrase(point.label)}: {exc}") from None
            every.append(grads)
    comparisons = [
        compare(USER, point, {f"d{k}": v for k, v in grads.items()}, rtol, atol)
        for point, grads in zip(prepared.points, every, strict=True)
    ]
    return comparisons, name, every


def _isolated_gradients(prepared: StackCheck, isolated: Isolated) -> ChildResult:
    """The user's ``backprop(params, x, y)`` at every point, in one child process."""
    points = [
        {
            "phrase": point_phrase(point.label),
            "dicts": (point.parameters, *user_arrays(prepared.spec, point)),
            "shapes": {},
        }
        for point in prepared.points
    ]
    payload = {"target": isolated.target, "dicts_only": True, "points": points}
    who = f"--backprop {isolated.target}"
    return run_child("backprop", payload, who, isolated.timeout)


def check_stack(
    spec: StackSpec,
    *,
    random_points: int,
    seed: int,
    convention: Rational,
    rtol: float,
    atol: float,
    settings: dict[str, Any],
    backprop: Backprop | Isolated | None = None,
) -> CheckReport:
    """The check of a stack: every oracle at the documented point and the random points."""
    prepared = prepare_stack(spec, random_points, seed, convention)
    comparisons, notes = stack_comparisons(prepared, rtol, atol, convention)
    user: list[dict[str, np.ndarray]] = []
    if backprop is not None:
        mine, name, user = stack_user_comparisons(prepared, backprop, rtol, atol)
        comparisons += mine
        settings = settings if name is None else {**settings, "backprop": name}
    documented = stack_documented(spec, prepared.points[0].exact)
    if documented is not None:
        comparisons.append(documented_comparison(documented))
    likely = _likely(prepared, user, comparisons, documented, convention, rtol, atol)
    comparisons.sort(key=lambda c: ORDER.index(c.name))
    report = CheckReport(
        ok=all(c.ok for c in comparisons),
        comparisons=tuple(comparisons),
        title=stack_title(spec),
        documented=documented,
        settings=settings,
        notes=tuple(notes),
        likely=likely,
        points=tuple((p.label, StackPointSpec(spec, p.parameters, p.x)) for p in prepared.points),
    )
    return report if documented is None else replace(report, diagnosis=tuple(diagnosis(report)))
