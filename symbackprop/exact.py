"""Exact values at the documented point, and decimals with every printed digit correct.

Values are found the way a person would by hand: substitute the documented numbers into each
one-level definition in turn (forward, then the deltas backwards), so no whole-network expression
is ever built. A kink derivative (ReLU' at exactly 0) takes the value of the chosen convention,
and every such place is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from mpmath import iv
from mpmath.libmp import finf, fnan, fninf, to_rational
from sympy import (
    Expr,
    ImmutableMatrix,
    Rational,
    S,
    Symbol,
    count_ops,
    exp,
    expand,
    log,
    preorder_traversal,
    tanh,
    together,
)

from . import notation
from .activations import KinkFunction
from .gradients import Gradients
from .network import SymbolicNetwork

#: Only expressions up to this many operations are tidied (tidying big sums costs more than it saves).
TIDY_LIMIT = 60


@dataclass(frozen=True)
class ExactValues:
    """Exact forward values and gradients, keyed in the notebook's naming.

    ``forward`` holds ``z1, a1, ..., zL, yhat`` as (n, m) matrices and ``loss`` as a 1x1 matrix;
    ``gradients`` holds ``W1, b1, ...``. ``kinks`` names the pre-activations that were exactly 0
    where the activation has a kink, e.g. ``("z1[2]",)``.
    """

    forward: dict[str, ImmutableMatrix]
    deltas: tuple[ImmutableMatrix, ...]
    gradients: dict[str, ImmutableMatrix]
    kinks: tuple[str, ...]
    convention: Rational
    symbols: dict[Symbol, Expr]


def tidy(value: Expr) -> Expr:
    """The shortest of a few equivalent forms: ``value``, ``together(value)`` and 1/expand(1/value).

    exp(17/10)/(exp(17/10) + exp(56/25)) becomes 1/(1 + exp(27/50)).
    """
    if value.is_Rational or not _smaller_than(value, TIDY_LIMIT):
        return value
    candidates = [value, together(value)]
    if value != 0:
        candidates.append(1 / expand(1 / value))
    return min(candidates, key=count_ops)


def _smaller_than(expr: Expr, limit: int) -> bool:
    """Whether ``expr`` has fewer than ``limit`` nodes (stops counting early)."""
    return all(count < limit for count, _ in enumerate(preorder_traversal(expr)))


def evaluate(
    net: SymbolicNetwork, grads: Gradients, convention: Rational = Rational(0)
) -> ExactValues:
    """Substitute the documented point of ``net.spec`` into every definition.

    Args:
        net: the symbolic network.
        grads: its gradients.
        convention: the value of ReLU'(0) (and the matching leaky-ReLU value) at an exact kink.

    Returns:
        Every forward quantity and gradient, exactly.
    """
    spec = net.spec
    values: dict[Symbol, Expr] = {}
    for symbols, numbers in [(net.x, spec.x), (net.y, spec.y), *_parameters(net)]:
        values.update(zip(symbols, numbers, strict=True))
    forward: dict[str, ImmutableMatrix] = {}
    kinks: list[str] = []
    for layer in net.layers:
        z = _substitute(layer.z_definition, values)
        values.update(zip(layer.pre_activation, z, strict=True))
        a = _substitute(layer.a_definition, values).applyfunc(tidy)
        values.update(zip(layer.activation, a, strict=True))
        output = layer is net.output
        forward[f"z{layer.index + 1}"] = z
        forward["yhat" if output else f"a{layer.index + 1}"] = a
        if layer.function.has_kink and not output:
            kinks += [
                notation.entry_name(f"z{layer.index + 1}", _index(i, z))
                for i, v in enumerate(z)
                if v == 0
            ]
    for symbol, definition in zip(net.sample_losses, net.sample_loss_definitions, strict=True):
        values[symbol] = definition.xreplace(values)
    forward["loss"] = ImmutableMatrix([[tidy(net.loss_definition.xreplace(values))]])
    deltas: list[ImmutableMatrix] = []
    for symbols, definitions in zip(
        reversed(grads.deltas), reversed(grads.delta_definitions), strict=True
    ):
        delta = _substitute(definitions, values, convention).applyfunc(tidy)
        values.update(zip(symbols, delta, strict=True))
        deltas.insert(0, delta)
    gradients = {key: _substitute(m, values, convention) for key, m in grads.by_key().items()}
    return ExactValues(forward, tuple(deltas), gradients, tuple(kinks), convention, values)


def _index(flat: int, matrix: ImmutableMatrix) -> tuple[int, ...]:
    row, col = divmod(flat, matrix.cols)
    return (row,) if matrix.cols == 1 else (row, col)


def _parameters(net: SymbolicNetwork) -> list[tuple[ImmutableMatrix, ImmutableMatrix]]:
    pairs = [(layer.weights, w) for layer, w in zip(net.layers, net.spec.weights, strict=True)]
    if net.spec.biases is not None:
        pairs += [
            (layer.biases, b)
            for layer, b in zip(net.layers, net.spec.biases, strict=True)
            if layer.biases is not None
        ]
    return pairs


def _substitute(
    matrix: ImmutableMatrix, values: dict[Symbol, Expr], convention: Rational | None = None
) -> ImmutableMatrix:
    """Substitute ``values``; then give any kink derivative left at exactly 0 its convention value."""
    result = matrix.xreplace(values)
    if convention is not None:
        result = result.replace(
            lambda e: isinstance(e, KinkFunction), lambda e: e.at_kink(convention)
        )
    return ImmutableMatrix(result)


# ----------------------------------------------------------------------------- decimals


def decimal(value: Expr, digits: int) -> str:
    """``value`` correctly rounded (half to even) to ``digits`` significant digits.

    Interval arithmetic (``mpmath.iv``) over the expression DAG, each shared subexpression once,
    encloses the value; when both ends of the enclosure round to the same decimal, that decimal
    is certain. Otherwise the precision doubles. (``evalf(digits)`` alone may be off by one in the
    last digit: 9/(10(1 + e^(27/50))) = 0.33136882403750851... is not ...037.)

    >>> decimal(Rational(1, 3), 5)
    '0.33333'
    """
    if value == 0:
        return "0"
    bits = int(digits * 3.33) + 40
    while bits <= 20_000:
        try:
            enclosure = _Enclosure(bits).of(value)
        except (NotImplementedError, ZeroDivisionError, ValueError):
            break
        low, high = (_round(_fraction(end), digits) for end in enclosure._mpi_)
        if low is not None and low == high:
            return _plain(low)
        bits *= 2
    return _round_evalf(value, digits)


class _Enclosure:
    """Evaluates SymPy number expressions to mpmath intervals, memoised per subexpression."""

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.cache: dict[Expr, object] = {}

    def of(self, expr: Expr):
        saved, iv.prec = iv.prec, self.bits
        try:
            return self._of(expr)
        finally:
            iv.prec = saved

    def _of(self, expr: Expr):
        if expr in self.cache:
            return self.cache[expr]
        result = self._compute(expr)
        self.cache[expr] = result
        return result

    def _compute(self, expr: Expr):
        if expr.is_Rational:
            return iv.mpf(int(expr.p)) / int(expr.q)
        if expr is S.Exp1:
            return iv.exp(1)
        args = [self._of(arg) for arg in expr.args] if not expr.is_Pow else []
        if expr.is_Add:
            return sum(args[1:], args[0])
        if expr.is_Mul:
            product = args[0]
            for arg in args[1:]:
                product = product * arg
            return product
        if expr.is_Pow:
            base, power = expr.args
            if power.is_Integer:
                return self._of(base) ** int(power)
            return iv.exp(self._of(power) * iv.log(self._of(base)))
        if isinstance(expr, exp):
            return iv.exp(args[0])
        if isinstance(expr, log):
            return iv.log(args[0])
        if isinstance(expr, tanh):
            return 1 - 2 / (iv.exp(2 * args[0]) + 1)
        raise NotImplementedError(type(expr).__name__)


def _fraction(raw: tuple) -> Fraction | None:
    if raw in (finf, fninf, fnan):
        return None
    p, q = to_rational(raw)
    return Fraction(int(p), int(q))


def _round(value: Fraction | None, digits: int) -> Decimal | None:
    """``value`` rounded half-even to ``digits`` significant digits (Decimal division is exact-rounded)."""
    if value is None or value == 0:
        return None
    with localcontext(prec=digits, rounding=ROUND_HALF_EVEN, Emax=10**9, Emin=-(10**9)):
        rounded = Decimal(value.numerator) / Decimal(value.denominator)
        return rounded.quantize(Decimal(1).scaleb(rounded.adjusted() - digits + 1))


def _round_evalf(value: Expr, digits: int) -> str:
    """Fallback for values the interval evaluator does not know: certified guard digits."""
    guard = 10
    while True:
        with localcontext(prec=digits + 2 * guard):
            approx = Decimal(str(value.evalf(digits + guard, strict=True)))
            exponent = approx.adjusted() - digits + 1
            tail = abs(approx.scaleb(-exponent) % 1 - Decimal("0.5"))
            if tail > Decimal(10) ** (3 - guard) or guard > 200:
                return _plain(approx.quantize(Decimal(1).scaleb(exponent), ROUND_HALF_EVEN))
        guard *= 2


def _plain(number: Decimal) -> str:
    """Fixed notation for moderate magnitudes, scientific otherwise."""
    if -5 <= number.adjusted() < 15:
        return f"{number:f}"
    return f"{number:e}".replace("e+", "e")
