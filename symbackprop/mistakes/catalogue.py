"""The catalogue of mistake hypotheses for dense networks: one registry entry per mistake.

An entry is a fixed identifier (it appears in the JSON; tests and scripts rely on it), one
sentence on what the mistake is and where it usually comes from, and a function that lists its
variants for an architecture: each variant is a change to the textbook program of
:mod:`symbackprop.mistakes.program` with the detail that names it (which layer, which factor).

Adding a mistake is one ``@mistake(...)`` function at the bottom of this module.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np

from ..activations import ACTIVATIONS
from ..losses import LOSSES
from ..spec import NetworkSpec
from .program import (
    TEXTBOOK,
    Forward,
    Gradients,
    Net,
    Obj,
    Program,
    l2_term,
    loss_options,
    mp_array,
    output_error_with,
    reduction,
    run,
    scalar_derivative,
    with_l2,
    with_steps,
)

Change = Callable[[Program], Program]


@dataclass(frozen=True)
class Variant:
    """One concrete mistake: the detail that names it and the change it makes."""

    detail: tuple[tuple[str, str], ...]
    change: Change


@dataclass(frozen=True)
class Mistake:
    """A catalogue entry: an identifier, what it is, and its variants for an architecture."""

    id: str
    summary: str
    variants: Callable[[NetworkSpec], Iterator[Variant]]


MISTAKES: dict[str, Mistake] = {}


def mistake(id: str, summary: str) -> Callable:
    """Register the decorated variants function as the catalogue entry ``id``."""

    def register(variants: Callable[[NetworkSpec], Iterator[Variant]]) -> Callable:
        MISTAKES[id] = Mistake(id, summary, variants)
        return variants

    return register


def _variant(change: Change, **detail: Any) -> Variant:
    return Variant(tuple((k, str(v)) for k, v in detail.items()), change)


def _layer_name(spec: NetworkSpec, l: int) -> str:
    return f"{l + 1} ({spec.activations[l].name})"


def _hidden(spec: NetworkSpec) -> range:
    return range(spec.depth - 1)


def _elementwise(name: str) -> bool:
    return not ACTIVATIONS[name].output_only


def _finish(transform: Callable[[Net, Obj], Obj]) -> Change:
    return lambda p: with_steps(
        p, finish=lambda net, g: {k: transform(net, v) for k, v in p.finish(net, g).items()}
    )


# ----------------------------------------------------------------------------- the entries


@mistake(
    "sign", "the gradient negated, or the output error computed as y - yhat instead of yhat - y"
)
def _sign(spec: NetworkSpec) -> Iterator[Variant]:
    yield _variant(_finish(lambda net, v: -v), where="the whole gradient")
    if spec.l2:

        def flipped(p: Program) -> Program:
            return with_steps(p, output_error=lambda net, f: -p.output_error(net, f))

        yield _variant(flipped, where="the output error (y - yhat)")


def _factors(spec: NetworkSpec) -> list[tuple[str, Fraction]]:
    m, n = spec.samples, spec.layers[-1]
    named: list[tuple[str, Fraction]] = []
    if m > 1:  # the batch size first: a factor 4 with m = 4 is most likely m
        named += [(f"m = {m}", Fraction(m)), (f"1/m = 1/{m}", Fraction(1, m))]
        named += [(f"2/m = 2/{m}", Fraction(2, m)), (f"m/2 = {m}/2", Fraction(m, 2))]
    named += [
        ("2", Fraction(2)),
        ("1/2", Fraction(1, 2)),
        ("4", Fraction(4)),
        ("1/4", Fraction(1, 4)),
    ]
    if n > 1:
        named += [(f"n_L = {n}", Fraction(n)), (f"1/n_L = 1/{n}", Fraction(1, n))]
    seen: set[Fraction] = {Fraction(1), Fraction(-1)}
    result = []
    for text, value in named + [(f"-{t}", -v) for t, v in named]:
        if value not in seen:
            seen.add(value)
            result.append((text, value))
    return result


@mistake(
    "scale",
    "the gradient multiplied by a constant: a batch mean taken twice or not at all, a factor 2 "
    "of a squared error, or a step size folded in",
)
def _scale(spec: NetworkSpec) -> Iterator[Variant]:
    for text, value in _factors(spec):
        factor = mpmath.mpf(value.numerator) / value.denominator

        def scaled(net: Net, v: Obj, c: Any = factor) -> Obj:
            return v * c

        yield _variant(_finish(scaled), factor=text)


@mistake(
    "transposed",
    "the right numbers in the transposed shape, or W where its transpose belongs: an outer "
    "product written a delta^T instead of delta a^T",
)
def _transposed(spec: NetworkSpec) -> Iterator[Variant]:
    yield _variant(_finish(lambda net, v: v.T.copy()), where="the returned gradient")
    for l in range(1, spec.depth):
        if spec.layers[l] == spec.layers[l + 1]:

            def untransposed(p: Program, l: int = l) -> Program:
                def propagate(net: Net, k: int, delta: Obj) -> Obj:
                    if k + 1 == l:
                        return net.weights[l].dot(delta)
                    return p.propagate(net, k, delta)

                return with_steps(p, propagate=propagate)

            yield _variant(untransposed, where=f"W^({l + 1}) in the delta recursion, untransposed")


def _ones(forward: Forward, l: int) -> Obj:
    return np.full(forward.z[l].shape, mpmath.mpf(1), dtype=object)


@mistake(
    "missing-activation-derivative",
    "f'(z) of a layer treated as 1: the delta recursion written (W^T delta) without the "
    "element-wise factor",
)
def _missing_derivative(spec: NetworkSpec) -> Iterator[Variant]:
    for l in _hidden(spec):

        def missing(p: Program, l: int = l) -> Program:
            def derivative(net: Net, k: int, f: Forward) -> Obj:
                return _ones(f, k) if k == l else p.derivative(net, k, f)

            return with_steps(p, derivative=derivative)

        yield _variant(missing, layer=_layer_name(spec, l))
    if spec.depth > 2:
        yield _variant(
            lambda p: with_steps(p, derivative=lambda net, k, f: _ones(f, k)),
            layer="every hidden layer",
        )
    output = spec.activations[-1]
    if _elementwise(output.name) and output.name != "identity":
        loss, options = spec.loss.name, spec.loss.options
        yield _variant(
            lambda p: with_steps(
                p, output_error=lambda net, f: output_error_with(net, f, loss, options, "none")
            ),
            layer=_layer_name(spec, spec.depth - 1),
        )


def _derivative_at(layers: int | list[int], use: Callable[..., Obj]) -> Change:
    """f' of layer ``l`` (or of each of the ``layers``) replaced by ``use(net, forward[, l])``."""
    chosen = [layers] if isinstance(layers, int) else layers
    single = isinstance(layers, int)

    def change(p: Program) -> Program:
        def derivative(net: Net, k: int, f: Forward) -> Obj:
            if k not in chosen:
                return p.derivative(net, k, f)
            return use(net, f) if single else use(net, f, k)

        return with_steps(p, derivative=derivative)

    return change


def _prime(name: str, options: tuple, net: Net, z: Obj, a: Obj, in_outputs: bool) -> Obj:
    prime = scalar_derivative(name, options, net.convention, in_outputs)
    return np.vectorize(prime, otypes=[object])(z, a)


@mistake(
    "wrong-activation-derivative",
    "f' of another activation, or f' evaluated at a = f(z) instead of z (sigma(a)(1 - sigma(a)) "
    "for a(1 - a))",
)
def _wrong_derivative(spec: NetworkSpec) -> Iterator[Variant]:
    others = [n for n in ACTIVATIONS if _elementwise(n) and n != "identity"]
    for l in _hidden(spec):
        own = spec.activations[l]
        for name in others:
            if name == own.name:
                continue
            options = tuple(sorted(ACTIVATIONS[name].options.items()))

            def use(net: Net, f: Forward, l: int = l, name: str = name, o: tuple = options) -> Obj:
                return _prime(name, o, net, f.z[l], f.a[l], in_outputs=False)

            yield _variant(_derivative_at(l, use), layer=_layer_name(spec, l), used=f"{name}'")

        def at_a(net: Net, f: Forward, l: int = l, own: Any = own) -> Obj:
            return _prime(own.name, own.options, net, f.a[l], f.a[l], in_outputs=False)

        yield _variant(
            _derivative_at(l, at_a),
            layer=_layer_name(spec, l),
            used=f"{own.name}'(a) for {own.name}'(z)",
        )
    if spec.depth > 2:
        yield from _wrong_derivative_everywhere(spec, others)
    yield from _derivative_on_output(spec)
    yield from _output_derivative_at_a(spec)


def _output_derivative_at_a(spec: NetworkSpec) -> Iterator[Variant]:
    """f'(yhat) for f'(z^(L)) in the output error, alone or with every hidden layer's."""
    output = spec.activations[-1].name
    if not _elementwise(output) or output == "identity":
        return
    loss, options = spec.loss.name, spec.loss.options
    last = _layer_name(spec, spec.depth - 1)
    at_output = _output_error(loss, options, "at-outputs")
    yield _variant(at_output, layer=last, used=f"{output}'(yhat) for {output}'(z)")

    def at_a(net: Net, f: Forward, l: int) -> Obj:
        own = spec.activations[l]
        return _prime(own.name, own.options, net, f.a[l], f.a[l], in_outputs=False)

    everywhere = _derivative_at(list(_hidden(spec)), at_a)
    yield _variant(lambda p: everywhere(at_output(p)), layer="every layer", used="f'(a) for f'(z)")


def _wrong_derivative_everywhere(spec: NetworkSpec, others: list[str]) -> Iterator[Variant]:
    hidden = list(_hidden(spec))
    for name in others:
        if all(spec.activations[l].name == name for l in hidden):
            continue
        options = tuple(sorted(ACTIVATIONS[name].options.items()))

        def use(net: Net, f: Forward, l: int, name: str = name, o: tuple = options) -> Obj:
            return _prime(name, o, net, f.z[l], f.a[l], in_outputs=False)

        yield _variant(_derivative_at(hidden, use), layer="every hidden layer", used=f"{name}'")

    def at_a(net: Net, f: Forward, l: int) -> Obj:
        own = spec.activations[l]
        return _prime(own.name, own.options, net, f.a[l], f.a[l], in_outputs=False)

    yield _variant(
        _derivative_at(hidden, at_a), layer="every hidden layer", used="f'(a) for f'(z)"
    )


def _derivative_on_output(spec: NetworkSpec) -> Iterator[Variant]:
    """The hidden layers' f' also applied to the output error."""
    names = {spec.activations[l].name for l in _hidden(spec)} - {"identity"}
    for name in sorted(names):
        own = next(a for a in spec.activations if a.name == name)

        def change(p: Program, own: Any = own) -> Program:
            def output_error(net: Net, f: Forward) -> Obj:
                z, a = f.z[-1], f.a[-1]
                return p.output_error(net, f) * _prime(own.name, own.options, net, z, a, False)

            return with_steps(p, output_error=output_error)

        yield _variant(
            change, layer=_layer_name(spec, spec.depth - 1), used=f"{name}' on the output error"
        )


@mistake("missing-bias", "the forward pass without a layer's bias: z = W a instead of W a + b")
def _missing_bias(spec: NetworkSpec) -> Iterator[Variant]:
    if spec.biases is None:
        return
    layers = [[l] for l in range(spec.depth)] + (
        [list(range(spec.depth))] if spec.depth > 1 else []
    )
    for dropped in layers:

        def change(p: Program, dropped: list[int] = dropped) -> Program:
            def pre_activation(net: Net, l: int, a: Obj) -> Obj:
                if l in dropped:
                    return net.weights[l].dot(a)
                return p.pre_activation(net, l, a)

            return with_steps(p, pre_activation=pre_activation)

        where = "every layer" if len(dropped) > 1 else str(dropped[0] + 1)
        yield _variant(change, layer=where)


@mistake(
    "bias-gradient",
    "the bias gradient not the sum of delta over the batch: a mean instead of the sum, or the "
    "row sums of dW",
)
def _bias_gradient(spec: NetworkSpec) -> Iterator[Variant]:
    if spec.biases is None:
        return
    if spec.samples > 1:
        yield _variant(
            lambda p: with_steps(
                p, bias_gradient=lambda net, l, d, dw: d.sum(axis=1).reshape(-1, 1) / d.shape[1]
            ),
            used="the mean of delta over the batch",
        )
    yield _variant(
        lambda p: with_steps(p, bias_gradient=lambda net, l, d, dw: dw.sum(axis=1).reshape(-1, 1)),
        used="the row sums of dW",
    )


def _permutations(n: int) -> Iterator[tuple[int, ...]]:
    identity = tuple(range(n))
    if n <= 4:
        yield from (p for p in itertools.permutations(identity) if p != identity)
        return
    for shift in range(1, n):
        yield tuple((i + shift) % n for i in identity)
    yield identity[::-1]


def _with_targets(y: Callable[[Obj], Obj]) -> Change:
    return lambda p: with_steps(p, parameters=lambda net: replace(p.parameters(net), y=y(net.y)))


@mistake(
    "target",
    "the target permuted or the wrong class used: labels one-hot encoded in another order, or "
    "the targets of another sample",
)
def _target(spec: NetworkSpec) -> Iterator[Variant]:
    for order in _permutations(spec.layers[-1]):

        def permuted(y: Obj, o: tuple[int, ...] = order) -> Obj:
            return y[list(o), :]

        yield _variant(
            _with_targets(permuted),
            classes=f"y rows in the order {tuple(i + 1 for i in order)}",
        )
    if spec.samples > 1:
        yield _variant(
            _with_targets(lambda y: np.roll(y, 1, axis=1)), samples="y shifted by one sample"
        )


def _output_error(loss: str, options: tuple, part: str) -> Change:
    return lambda p: with_steps(
        p, output_error=lambda net, f: output_error_with(net, f, loss, options, part)
    )


@mistake(
    "loss-derivative",
    "the output error of another loss (squared error through softmax, yhat - y where it does not "
    "apply), or of the output activation's Jacobian cut to its diagonal",
)
def _loss_derivative(spec: NetworkSpec) -> Iterator[Variant]:
    output = spec.activations[-1].name
    own = spec.loss.name
    vector_losses = [name for name, loss in LOSSES.items() if loss.output_rank == 1]
    for name in vector_losses:
        if name != own:
            yield _variant(_output_error(name, loss_options(name), "full"), used=name)
    if not _elementwise(output):
        for name in vector_losses:
            options = spec.loss.options if name == own else loss_options(name)
            yield _variant(
                _output_error(name, options, "diagonal"),
                used=f"{name}, diagonal of the {output} Jacobian",
            )

    def shortcut(quantity: Callable[[Forward], Obj], p: Program) -> Program:
        return with_steps(p, output_error=lambda net, f: (quantity(f) - net.y) * reduction(net))

    yield _variant(lambda p: shortcut(lambda f: f.a[-1], p), used="yhat - y")
    yield _variant(
        lambda p: shortcut(lambda f: f.z[-1], p), used="z^(L) - y (the output activation left out)"
    )


def _softmax_rows(z: Obj, shift_rows: bool) -> Obj:
    """Softmax of each row (the batch axis); or the class-wise softmax of z minus row maxima."""
    if shift_rows:
        shifted = z - np.array([[max(row)] for row in z], dtype=object)
        e = np.vectorize(mpmath.exp, otypes=[object])(shifted)
        return e / e.sum(axis=0)
    e = np.vectorize(mpmath.exp, otypes=[object])(z)
    return e / e.sum(axis=1).reshape(-1, 1)


@mistake(
    "softmax-axis",
    "softmax or its normalisation taken over the batch axis instead of the classes "
    "(axis=1 for axis=0 with one sample per column)",
)
def _softmax_axis(spec: NetworkSpec) -> Iterator[Variant]:
    if spec.activations[-1].name != "softmax":
        return
    last = spec.depth - 1
    for shift, text in [
        (False, "softmax over the batch axis"),
        (True, "maxima subtracted over the batch axis"),
    ]:
        if shift and spec.samples == 1:
            continue

        def change(p: Program, shift: bool = shift) -> Program:
            def activate(net: Net, l: int, z: Obj) -> Obj:
                return _softmax_rows(z, shift) if l == last else p.activate(net, l, z)

            return with_steps(p, activate=activate)

        yield _variant(change, used=text)


@mistake(
    "l2",
    "the L2 term missing from the gradient, or with the wrong factor (lambda W for 2 lambda W)",
)
def _l2(spec: NetworkSpec) -> Iterator[Variant]:
    if not spec.l2:
        return
    m = spec.samples
    factors = [("none", Fraction(0)), ("lambda W", Fraction(1)), ("4 lambda W", Fraction(4))]
    if m > 1:
        factors += [
            (f"2 lambda W / m (m = {m})", Fraction(2, m)),
            (f"lambda W / m (m = {m})", Fraction(1, m)),
        ]
    for text, factor in factors:

        def change(p: Program, c: Any = factor) -> Program:
            def weight_gradient(net: Net, l: int, d: Obj, f: Forward) -> Obj:
                c_mp = mpmath.mpf(Fraction(c).numerator) / Fraction(c).denominator
                return p.weight_gradient(net, l, d, f) - l2_term(net, l) + l2_term(net, l, c_mp)

            return with_steps(p, weight_gradient=weight_gradient)

        yield _variant(change, term=text)
    if spec.biases is not None:

        def on_biases(p: Program) -> Program:
            def bias_gradient(net: Net, l: int, d: Obj, dw: Obj) -> Obj:
                assert net.biases is not None
                return p.bias_gradient(net, l, d, dw) + net.biases[l] * (
                    2 * mpmath.mpf(net.spec.l2.p) / net.spec.l2.q
                )

            return with_steps(p, bias_gradient=bias_gradient)

        yield _variant(on_biases, term="2 lambda b added to the bias gradients too")


@mistake(
    "skipped-layer",
    "delta propagated with the wrong layer's weights, activation or input (an off-by-one layer "
    "index), or a loop that stops before the first layer",
)
def _skipped_layer(spec: NetworkSpec) -> Iterator[Variant]:
    yield from _wrong_weights(spec)
    yield from _wrong_derivative_input(spec)
    yield from _wrong_input(spec)
    for stop in range(spec.depth - 1):

        def change(p: Program, stop: int = stop) -> Program:
            def finish(net: Net, g: Gradients) -> Gradients:
                done = p.finish(net, g)
                return {k: (v * 0 if int(k[1:]) <= stop + 1 else v) for k, v in done.items()}

            return with_steps(p, finish=finish)

        yield _variant(
            change, where=f"the loop stops before layer {stop + 1}: its gradients stay 0"
        )


def _wrong_weights(spec: NetworkSpec) -> Iterator[Variant]:
    shapes = [(spec.layers[k + 1], spec.layers[k]) for k in range(spec.depth)]
    for l in _hidden(spec):
        for k in range(spec.depth):
            if k != l + 1 and shapes[k] == shapes[l + 1]:

                def change(p: Program, l: int = l, k: int = k) -> Program:
                    def propagate(net: Net, j: int, delta: Obj) -> Obj:
                        return (
                            net.weights[k].T.dot(delta) if j == l else p.propagate(net, j, delta)
                        )

                    return with_steps(p, propagate=propagate)

                yield _variant(change, layer=str(l + 1), used=f"W^({k + 1}) for W^({l + 2})")


def _wrong_derivative_input(spec: NetworkSpec) -> Iterator[Variant]:
    for l in _hidden(spec):
        own = spec.activations[l]
        for k in range(-1, spec.depth):
            if k == l or spec.layers[k + 1] != spec.layers[l + 1]:
                continue

            def use(net: Net, f: Forward, k: int = k, own: Any = own) -> Obj:
                v = net.x if k < 0 else f.a[k]
                return _prime(own.name, own.options, net, v, v, in_outputs=False)

            used = "x" if k < 0 else f"a^({k + 1})"
            yield _variant(_derivative_at(l, use), layer=str(l + 1), used=f"{own.name}'({used})")


def _wrong_input(spec: NetworkSpec) -> Iterator[Variant]:
    for l in range(spec.depth):
        for k in range(-1, spec.depth):
            if k == l - 1 or spec.layers[k + 1] != spec.layers[l]:
                continue

            def change(p: Program, l: int = l, k: int = k) -> Program:
                def weight_gradient(net: Net, j: int, d: Obj, f: Forward) -> Obj:
                    if j != l:
                        return p.weight_gradient(net, j, d, f)
                    a = net.x if k < 0 else f.a[k]
                    return with_l2(net, j, d.dot(a.T))

                return with_steps(p, weight_gradient=weight_gradient)

            used = "x" if k < 0 else f"a^({k + 1})"
            yield _variant(change, layer=str(l + 1), used=f"{used} for the layer's input in dW")


def _rounder(places: int) -> Callable[[Any], Any]:
    unit = mpmath.mpf(10) ** -places
    return lambda v: mpmath.nint(v / unit) * unit


@mistake(
    "rounded-intermediate",
    "an intermediate quantity rounded to k decimal places before it was used, as hand "
    "calculations do",
)
def _rounded(spec: NetworkSpec) -> Iterator[Variant]:
    last = spec.depth - 1
    quantities = [("a", last)] + [
        (q, l) for l in range(spec.depth) for q in ("z", "a", "delta") if (q, l) != ("a", last)
    ]
    for places in range(1, 7):
        for kind, layer in quantities:

            def change(
                p: Program, kind: str = kind, layer: int = layer, places: int = places
            ) -> Program:
                rounding = np.vectorize(_rounder(places), otypes=[object])

                def observe(k: str, l: int, value: Obj) -> Obj:
                    seen = p.observe(k, l, value)
                    return rounding(seen) if (k, l) == (kind, layer) else seen

                return with_steps(p, observe=observe)

            yield _variant(change, quantity=_quantity_name(kind, layer, last), places=places)


def _quantity_name(kind: str, layer: int, last: int) -> str:
    if (kind, layer) == ("a", last):
        return "yhat"
    return {"z": "z", "a": "a", "delta": "delta"}[kind] + f"^({layer + 1})"


@mistake(
    "stale-parameters",
    "gradients computed at parameters the step already updated, or a layer updated before the "
    "delta below it was computed",
)
def _stale(spec: NetworkSpec) -> Iterator[Variant]:
    if spec.training is None:
        return
    rate = spec.training.learning_rate
    step = mpmath.mpf(int(rate.p)) / int(rate.q)
    biases = spec.training.update_biases

    def updated(net: Net) -> Net:
        grads = run(TEXTBOOK, net)
        weights = tuple(w - step * grads[f"W{l + 1}"] for l, w in enumerate(net.weights))
        if net.biases is None or not biases:
            return replace(net, weights=weights)
        new = tuple(b - step * grads[f"b{l + 1}"] for l, b in enumerate(net.biases))
        return replace(net, weights=weights, biases=new)

    yield _variant(
        lambda p: with_steps(p, parameters=lambda net: updated(p.parameters(net))),
        where="at the updated parameters",
    )

    def order(p: Program) -> Program:
        def propagate(net: Net, l: int, delta: Obj) -> Obj:
            grads = run(TEXTBOOK, net)
            w = net.weights[l + 1] - step * grads[f"W{l + 2}"]
            return w.T.dot(delta)

        return with_steps(p, propagate=propagate)

    yield _variant(order, where="W^(l+1) updated before delta^(l) is computed")


__all__ = ["MISTAKES", "Mistake", "Variant", "mistake", "mp_array"]
