"""Numbers fit for hand computation, drawn with a seed and checked by exact computation.

A draw is kept when, at its point: no pre-activation of a kinked activation (ReLU) lies
within :data:`KINK_MARGIN` of the kink; no two pre-activations of a layer in one sample (nor
two outputs) lie within :data:`TIE_MARGIN` of each other; no answer lies within :data:`EDGE`
of a 4-decimal rounding boundary; and computing by hand with every intermediate rounded to 4
decimals gives every answer to the same 4 decimals as the exact values. Otherwise the next
draw of the same random stream is tried, so the same seed gives the same numbers. (In large
networks no draw may keep every answer stable; after :data:`ATTEMPTS` draws the one with the
fewest unstable answers is kept, and the key names them.)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import pairwise
from typing import Any

import mpmath
from sympy import ImmutableMatrix, Rational, Symbol

from .. import notation
from ..checking.compiled import Exact, compile_matrix, to_value
from ..checking.exact_tables import Table, exact_numbers, indices
from ..derivation import Derivation
from ..errors import SymbackpropError
from ..spec import NetworkSpec, Training

#: Decimal places of every answer.
PLACES = 4
#: How close to 0 a pre-activation of ReLU may come.
KINK_MARGIN = Fraction(1, 20)
#: How close two entries of one layer and sample may come.
TIE_MARGIN = Fraction(1, 100)
#: How close to a rounding boundary (in units of the 4th decimal) an answer may come.
EDGE = Fraction(1, 100)
#: Draws tried before giving up.
ATTEMPTS = 250
KINKED = ("relu", "leaky_relu")


@dataclass(frozen=True)
class Drawn:
    """One accepted point: its spec, exact values and the attempt it took.

    ``unstable`` names the answers whose 4 decimals change when computed by hand with
    rounded intermediates: empty unless no draw of :data:`ATTEMPTS` kept them all (then the
    draw with the fewest is kept).
    """

    spec: NetworkSpec
    exact: Table
    attempt: int
    unstable: tuple[str, ...] = ()


def draw(derivation: Derivation, rng: random.Random) -> Drawn:
    """The next point of ``rng`` that passes every test of this module.

    The kinks and ties are screened on the values by hand (within 10^-4 of the exact ones),
    the rest on the exact values.

    Raises:
        SymbackpropError: no draw avoided the kinks and ties in :data:`ATTEMPTS` attempts.
    """
    evaluate = _Evaluator(derivation)
    best: Drawn | None = None
    for attempt in range(1, ATTEMPTS + 1):
        spec = _numbers(derivation.spec, rng)
        hand = evaluate.hand(spec)
        if not _fit(spec, hand, slack=Fraction(1, 10**PLACES)):
            continue
        exact = evaluate.exact(spec)
        if not _fit(spec, exact):
            continue
        unstable = _unstable(exact, hand)
        if not unstable:
            return Drawn(spec, exact, attempt)
        if best is None or len(unstable) < len(best.unstable):
            best = Drawn(spec, exact, attempt, unstable)
    if best is None:
        raise SymbackpropError(
            f"exercise: no numbers avoid the kinks and near-ties in {ATTEMPTS} draws for "
            f"{'-'.join(map(str, derivation.spec.layers))}; try a smaller network"
        )
    return best


def answer_keys(exact: Table) -> list[str]:
    """The keys asked for, in the order of the computation: forward, loss, gradients, step."""
    return list(exact)


def _choice(rng: random.Random, low: int, high: int, zero: bool = False) -> Rational:
    """A random multiple of 1/10 in [low/10, high/10], 0 only if ``zero``."""
    values = [k for k in range(low, high + 1) if zero or k != 0]
    return Rational(rng.choice(values), 10)


def _matrix(rng: random.Random, rows: int, cols: int, low: int, high: int) -> ImmutableMatrix:
    return ImmutableMatrix(rows, cols, [_choice(rng, low, high) for _ in range(rows * cols)])


def _numbers(spec: NetworkSpec, rng: random.Random) -> NetworkSpec:
    """``spec`` with weights, biases, x and y drawn from ``rng``: one decimal each."""
    layers, m = spec.layers, spec.samples
    weights = tuple(_matrix(rng, layers[l + 1], layers[l], -9, 9) for l in range(spec.depth))
    biases = None
    if spec.biases is not None:
        biases = tuple(_matrix(rng, layers[l + 1], 1, -5, 5) for l in range(spec.depth))
    x = _matrix(rng, layers[0], m, -10, 10)
    return replace(spec, weights=weights, biases=biases, x=x, y=_target(spec, rng), expected=None)


def _target(spec: NetworkSpec, rng: random.Random) -> ImmutableMatrix:
    """A target the loss accepts: one-hot, 0/1, or one-decimal values in [0, 1]."""
    n, m = spec.layers[-1], spec.samples
    columns = []
    for _ in range(m):
        if spec.loss.name == "cross_entropy":
            k = rng.randrange(n)
            columns.append([Rational(int(i == k)) for i in range(n)])
        elif spec.loss.name == "binary_cross_entropy":
            columns.append([Rational(rng.randrange(2)) for _ in range(n)])
        else:
            columns.append([Rational(rng.randrange(11), 10) for _ in range(n)])
    return ImmutableMatrix(columns).T


def _fit(spec: NetworkSpec, table: Table, slack: Fraction = Fraction(0)) -> bool:
    """No ReLU pre-activation within :data:`KINK_MARGIN` of 0, no two pre-activations of a
    layer (nor two outputs) within :data:`TIE_MARGIN`; ``slack`` widens both margins."""
    for l, activation in enumerate(spec.activations):
        z = table[f"z{l + 1}"]
        near = KINK_MARGIN + slack
        if activation.name in KINKED and any(abs(fraction(v)) < near for row in z for v in row):
            return False
        tables = [z, table["yhat"]] if l == spec.depth - 1 else [z]
        for rows in tables:
            for column in zip(*rows, strict=True):
                values = sorted(fraction(v) for v in column)
                if any(b - a < TIE_MARGIN + slack for a, b in pairwise(values)):
                    return False
    return True


def _unstable(exact: Table, hand: Table) -> tuple[str, ...]:
    """The answers near a rounding boundary, or not the same to 4 decimals by hand."""
    names = []
    for key in answer_keys(exact):
        for (i, j), index in indices((len(exact[key]), len(exact[key][0]))):
            units = fraction(exact[key][i][j]) * 10**PLACES
            near_edge = abs(units - round(units)) > Fraction(1, 2) - EDGE
            if near_edge or round(units) != round(fraction(hand[key][i][j]) * 10**PLACES):
                names.append(notation.entry_name(key, index))
    return tuple(names)


def fraction(value: Any) -> Fraction:
    """A number (SymPy Rational or Float, Exact, mpf) as a Fraction (60 digits at most)."""
    if isinstance(value, Exact):
        return value.q
    if isinstance(value, Rational):
        return Fraction(int(value.p), int(value.q))
    with mpmath.workdps(60):
        return Fraction(mpmath.nstr(mpmath.mpf(value), 60, strip_zeros=False))


def _rounded(value: Any) -> Exact:
    """``value`` rounded to :data:`PLACES` decimals, as a hand computation carries it."""
    return Exact(Fraction(round(fraction(value) * 10**PLACES), 10**PLACES))


class _Evaluator:
    """Exact values, and values by hand (intermediates rounded), of one architecture."""

    def __init__(self, derivation: Derivation) -> None:
        self.derivation = derivation
        self.convention = derivation.options.relu_prime_at_zero
        network = derivation.network
        self._sample_losses = ImmutableMatrix([list(network.sample_loss_definitions)])
        self._loss = ImmutableMatrix([[network.loss_definition]])
        #: by id of the matrix, which is kept with it (an id is unique only while it lives)
        self._compiled: dict[
            int, tuple[ImmutableMatrix, tuple[list[Symbol], Callable[..., Any]]]
        ] = {}

    def exact(self, spec: NetworkSpec) -> Table:
        d = self.derivation
        table = exact_numbers(replace(d.network, spec=spec), d.gradients, self.convention)
        if spec.training is not None:
            table |= _stepped(spec, table, spec.training)
        return table

    def hand(self, spec: NetworkSpec) -> Table:
        """Every value from the previous ones rounded to :data:`PLACES` decimals."""
        network, gradients = self.derivation.network, self.derivation.gradients
        values: dict[Symbol, Any] = {}
        pairs = [(network.x, spec.x), (network.y, spec.y)]
        for layer, w in zip(network.layers, spec.weights, strict=True):
            pairs.append((layer.weights, w))
        for layer, b in zip(network.layers, spec.biases or (), strict=False):
            if layer.biases is not None:
                pairs.append((layer.biases, b))
        for symbols, numbers in pairs:
            values.update(zip(symbols, map(to_value, numbers), strict=True))
        table: Table = {}

        def settle(
            matrix: ImmutableMatrix, symbols: list[Symbol] | None = None
        ) -> list[list[Any]]:
            free, function = self._compile(matrix)
            with mpmath.workdps(30):
                results = [_rounded(v) for v in function([values[s] for s in free])]
            values.update(zip(symbols or [], results, strict=False))
            cols = matrix.cols
            return [results[i * cols : (i + 1) * cols] for i in range(matrix.rows)]

        for layer in network.layers:
            table[f"z{layer.index + 1}"] = settle(layer.z_definition, list(layer.pre_activation))
            key = "yhat" if layer is network.output else f"a{layer.index + 1}"
            table[key] = settle(layer.a_definition, list(layer.activation))
        if network.sample_losses:
            settle(self._sample_losses, list(network.sample_losses))
        table["loss"] = settle(self._loss)
        for symbols, definitions in zip(
            reversed(gradients.deltas), reversed(gradients.delta_definitions), strict=True
        ):
            settle(definitions, list(symbols))
        for key, matrix in gradients.by_key().items():
            table[f"d{key}"] = settle(matrix)
        if spec.training is not None:
            table |= _stepped(spec, table, spec.training)
        return table

    def _compile(self, matrix: ImmutableMatrix) -> tuple[list[Symbol], Callable[..., Any]]:
        cached = self._compiled.get(id(matrix))
        if cached is None or cached[0] is not matrix:
            cached = (matrix, compile_matrix(matrix, self.convention))
            self._compiled[id(matrix)] = cached
        return cached[1]


def _stepped(spec: NetworkSpec, table: Table, training: Training) -> Table:
    """theta - learning_rate * dJ/dtheta from the gradients of ``table`` (no loss after it)."""
    rate = Fraction(int(training.learning_rate.p), int(training.learning_rate.q))
    result: Table = {}
    parameters = [(f"W{l + 1}", w) for l, w in enumerate(spec.weights)]
    if training.update_biases:
        parameters += [(f"b{l + 1}", b) for l, b in enumerate(spec.biases or ())]
    for key, current in parameters:
        gradient = table[f"d{key}"]
        result[f"{key}_updated"] = [
            [
                Rational(fraction(current[i, j]) - rate * fraction(gradient[i][j]))
                for j in range(current.cols)
            ]
            for i in range(current.rows)
        ]
    return result
