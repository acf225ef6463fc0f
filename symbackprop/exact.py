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
from math import prod
from typing import Any

from mpmath import iv, mp
from mpmath.libmp import finf, fnan, fninf, fzero, to_rational
from sympy import (
    Dummy,
    Expr,
    Function,
    ImmutableMatrix,
    Rational,
    S,
    Symbol,
    count_ops,
    exp,
    expand,
    fraction,
    log,
    numer,
    preorder_traversal,
    tanh,
    together,
)
from sympy.core.evalf import PrecisionExhausted
from sympy.core.parameters import evaluate as evaluating

from . import notation
from .activations import KinkFunction, NamedFunction
from .errors import SymbackpropError
from .gradients import Gradients
from .network import SymbolicNetwork

#: Only expressions up to this many operations are tidied (tidying big sums costs more than it saves).
TIDY_LIMIT = 60
#: The deepest nesting of functions (tanh(tanh(...))) substituted with SymPy's evaluation.
NEST_LIMIT = 4


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
    #: Whether the deep values are written unevaluated (past :data:`NEST_LIMIT`).
    written: bool = False


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
    nesting = _Nesting()
    for layer in net.layers:
        z = _substitute(layer.z_definition, values, written=nesting.deep)
        values.update(zip(layer.pre_activation, z, strict=True))
        a = _substitute(layer.a_definition, values, written=nesting.deep).applyfunc(tidy)
        nesting.add(a)
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
    with evaluating(not nesting.deep):
        for symbol, definition in zip(net.sample_losses, net.sample_loss_definitions, strict=True):
            values[symbol] = definition.xreplace(values)
        forward["loss"] = ImmutableMatrix([[tidy(net.loss_definition.xreplace(values))]])
    deltas: list[ImmutableMatrix] = []
    for symbols, definitions in zip(
        reversed(grads.deltas), reversed(grads.delta_definitions), strict=True
    ):
        delta = _substitute(definitions, values, convention, nesting.deep).applyfunc(tidy)
        values.update(zip(symbols, delta, strict=True))
        deltas.insert(0, delta)
    gradients = {
        key: _substitute(m, values, convention, nesting.deep) for key, m in grads.by_key().items()
    }
    return ExactValues(
        forward, tuple(deltas), gradients, tuple(kinks), convention, values, nesting.deep
    )


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


class _Nesting:
    """How deeply the exact values nest function applications, as tanh(tanh(...)) does.

    Past :data:`NEST_LIMIT`, values are substituted as written, unevaluated: SymPy's automatic
    evaluation asks for the sign of each function's argument, which evaluates the whole tower
    below it numerically at every level, exponential in the depth (a 16-deep tanh chain took
    minutes).
    """

    def __init__(self) -> None:
        self.memo: dict[Expr, int] = {}
        self.deep = False

    def add(self, values: ImmutableMatrix) -> None:
        self.deep = self.deep or max(map(self.depth, values), default=0) > NEST_LIMIT

    def depth(self, expr: Expr) -> int:
        if not expr.args:
            return 0
        if expr not in self.memo:
            inner = max(self.depth(arg) for arg in expr.args)
            self.memo[expr] = inner + isinstance(expr, Function)
        return self.memo[expr]


def _substitute(
    matrix: ImmutableMatrix,
    values: dict[Symbol, Expr],
    convention: Rational | None = None,
    written: bool = False,
) -> ImmutableMatrix:
    """Substitute ``values`` (unevaluated if ``written``); then give any kink derivative left at
    exactly 0 its convention value."""
    with evaluating(not written):
        result = matrix.xreplace(values)
    if written:
        return ImmutableMatrix(_Signs(convention).resolved(result))
    if convention is not None and _has_kink(result):
        result = result.replace(
            lambda e: isinstance(e, KinkFunction), lambda e: e.at_kink(convention)
        )
    return ImmutableMatrix(result)


def _has_kink(matrix: ImmutableMatrix) -> bool:
    """Whether a kink derivative is left; each shared subexpression is looked at once (a
    tree walk of a deep network's values is exponential in its depth)."""
    seen: set[Expr] = set()
    stack = list(matrix)
    while stack:
        expr = stack.pop()
        if isinstance(expr, KinkFunction):
            return True
        if expr not in seen:
            seen.add(expr)
            stack.extend(expr.args)
    return False


def _folded(expr: Expr, args: tuple[Expr, ...]) -> Expr:
    """``expr`` with ``args``, written, but with zeros folded (a resolved ReLU' brings them, and
    so does a written product with a value that is 0): a product with a zero factor is 0, a
    sum drops its zero terms."""
    if expr.is_Mul and S.Zero in args:
        return S.Zero
    if expr.is_Add:
        args = tuple(arg for arg in args if arg != 0)
        if len(args) <= 1:
            return args[0] if args else S.Zero
    return expr.func(*args)


class _Signs:
    """Values written unevaluated, with every function that is piecewise in the sign of its
    argument (ReLU, ReLU', leaky ReLU) replaced by its piece, the sign certified by interval
    arithmetic; an argument no precision separates from 0 is taken as 0, where a kink
    derivative takes the convention's value. Each shared subexpression is rebuilt once."""

    def __init__(self, convention: Rational | None) -> None:
        self.convention = convention
        self.memo: dict[Expr, Expr] = {}
        self.enclosures = Enclosures()

    def resolved(self, matrix: ImmutableMatrix) -> ImmutableMatrix:
        with evaluating(False):
            return matrix.applyfunc(self._rebuilt)

    def _rebuilt(self, expr: Expr) -> Expr:
        if not expr.args:
            return expr
        if expr not in self.memo:
            args = tuple(self._rebuilt(arg) for arg in expr.args)
            unchanged = args == expr.args and S.Zero not in args
            rebuilt = expr if unchanged else _folded(expr, args)
            self.memo[expr] = (
                self._piece(rebuilt) if isinstance(rebuilt, NamedFunction) else rebuilt
            )
        return self.memo[expr]

    def _piece(self, expr: NamedFunction) -> Expr:
        """``expr``'s piece for the sign of its argument, or ``expr`` if it has none."""
        argument, rest = expr.args[0], expr.args[1:]
        probe = Dummy("u", positive=True)
        with evaluating(True):
            sided = [expr.func(side * probe, *rest) for side in (1, -1)]
        if any(side.has(expr.func) for side in sided):
            return expr
        sign = self._sign(argument)
        if sign == 0:
            with evaluating(True):
                at_zero = expr.func(S.Zero, *rest)
            if isinstance(at_zero, KinkFunction) and self.convention is not None:
                return at_zero.at_kink(self.convention)
            return at_zero
        return sided[0 if sign > 0 else 1].xreplace({probe: sign * argument})

    def _sign(self, argument: Expr) -> int:
        if argument.is_Rational:
            return int(argument > 0) - int(argument < 0)
        bits = 128
        while bits <= MAX_BITS:
            try:
                found = _sign(argument, self.enclosures.at(bits))
            except (NotImplementedError, ZeroDivisionError, ValueError):
                return 0
            if found is not None:
                return found
            bits *= 2
        return 0


# ----------------------------------------------------------------------------- decimals


class DecimalError(SymbackpropError):
    """A value whose decimal could not be certified: ``cannot evaluate dJ/db1[0] to 12 digits: ...``."""

    def __init__(self, digits: int, reason: str, name: str = "the value") -> None:
        self.digits, self.reason, self.name = digits, reason, name
        super().__init__(f"cannot evaluate {name} to {digits} digits: {reason}")


#: Endpoints of magnitude between 2**-EXACT_EXPONENT and 2**EXACT_EXPONENT round exactly.
EXACT_EXPONENT = 4096
#: Sums are rewritten (see :func:`_cancelled`) only up to this many operations.
CANCEL_LIMIT = 200
#: The interval precision doubles up to this many bits before giving up.
MAX_BITS = 20_000

#: (sign, significand, exponent): the decimal (-1)**sign * significand * 10**exponent.
Rounded = tuple[int, int, int]


class Enclosures:
    """The interval enclosures of :func:`decimal`, one per precision, shared by the calls on
    many values with common subexpressions (the states of a recurrence): each is enclosed once."""

    def __init__(self) -> None:
        self.rewrites: dict[Expr, Expr | None] = {}
        self.by_bits: dict[int, _Enclosure] = {}

    def at(self, bits: int) -> _Enclosure:
        """The enclosure at ``bits`` of precision."""
        if bits not in self.by_bits:
            self.by_bits[bits] = _Enclosure(bits, self.rewrites)
        return self.by_bits[bits]


def decimal(value: Expr, digits: int, shared: Enclosures | None = None) -> str:
    """``value`` correctly rounded (half to even) to ``digits`` significant digits.

    Interval arithmetic (``mpmath.iv``) over the expression DAG, each shared subexpression once,
    encloses the value; when both ends of the enclosure round to the same decimal, that decimal
    is certain. Otherwise the precision doubles. (``evalf(digits)`` alone may be off by one in the
    last digit: 9/(10(1 + e^(27/50))) = 0.33136882403750851... is not ...037.) Sums that cancel
    (1 - tanh(10^6)^2) are rewritten exactly first; exponents of any size are fine.

    Raises:
        DecimalError: the value cannot be certified (the interval precision ran out).

    >>> decimal(Rational(1, 3), 5)
    '0.33333'
    >>> decimal(1 - tanh(10**6) ** 2, 6)
    '4.34764e-868589'
    """
    if value == 0:
        return "0"
    bits = int(digits * 3.33) + 40
    enclosures = Enclosures() if shared is None else shared
    while bits <= MAX_BITS:
        try:
            low, high = enclosures.at(bits).of(value)._mpi_
        except (NotImplementedError, ZeroDivisionError, ValueError):
            break
        if low == high == fzero:
            return "0"
        rounded = _round(low, digits)
        if rounded is not None and rounded == _round(high, digits):
            return _plain(rounded)
        bits *= 2
    return _round_evalf(value, digits)


class _Enclosure:
    """Evaluates SymPy number expressions to mpmath intervals, memoised per subexpression.

    ``rewrites`` (shared between precisions) holds each cancelling sum's exact rewrite.
    """

    def __init__(self, bits: int, rewrites: dict[Expr, Expr | None] | None = None) -> None:
        self.bits = bits
        self.cache: dict[Expr, Any] = {}
        self.rewrites = {} if rewrites is None else rewrites

    def of(self, expr: Expr) -> Any:
        """The interval enclosing ``expr`` at this precision."""
        saved, iv.prec = iv.prec, self.bits
        try:
            return self._of(expr)
        finally:
            iv.prec = saved

    def _of(self, expr: Expr) -> Any:
        if expr in self.cache:
            return self.cache[expr]
        result = self._compute(expr)
        self.cache[expr] = result
        return result

    def _compute(self, expr: Expr) -> Any:
        if expr.is_Rational:
            return iv.mpf(int(expr.p)) / int(expr.q)
        if expr is S.Exp1:
            return iv.exp(1)
        if expr.is_Add:
            return self._sum(expr)
        args = [self._of(arg) for arg in expr.args] if not expr.is_Pow else []
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
            return self._log(expr.args[0], args[0])
        if isinstance(expr, tanh):
            return 1 - 2 / (iv.exp(2 * args[0]) + 1)
        if isinstance(expr, NamedFunction) and not isinstance(expr, KinkFunction):
            with evaluating(False):  # sigma(u) held unevaluated: enclose 1/(1 + exp(-u))
                return self._of(expr.elementary(S.Zero))
        raise NotImplementedError(type(expr).__name__)

    def _log(self, argument: Expr, enclosure: Any) -> Any:
        """log; of 1 + r with tiny r, enclosed by r/(1 + r) <= log(1 + r) <= r (no cancellation)."""
        if not argument.is_Add or S.One not in argument.args:
            return iv.log(enclosure)
        r = self._of(argument - 1)
        if not abs(r.b) < iv.mpf(2) ** (-self.bits // 4) or not abs(r.a) < 1:
            return iv.log(enclosure)
        return iv.mpf([(r / (1 + r)).a, r.b])

    def _sum(self, expr: Expr) -> Any:
        """A sum; one that loses more than half the precision to cancellation is rewritten."""
        terms = [self._of(arg) for arg in expr.args]
        total = sum(terms[1:], terms[0])
        if not _cancels(total, terms, self.bits):
            return total
        if expr not in self.rewrites:
            rewritten = _cancelled(expr, self)
            self.rewrites[expr] = rewritten
            if rewritten is not None:  # a rewrite is final
                self.rewrites[numer(rewritten)] = None
        rewritten = self.rewrites[expr]
        return total if rewritten is None else self._of(rewritten)


def _cancels(total: Any, terms: list[Any], bits: int) -> bool:
    """Whether terms of both signs cancel to fewer than half of ``bits`` of ``total``."""
    if total._mpi_[0] == total._mpi_[1] or all(t.a >= 0 for t in terms):
        return False
    if all(t.b <= 0 for t in terms):
        return False
    largest = max(min(abs(t.a), abs(t.b)) for t in terms)
    smallest = min(abs(total.a), abs(total.b)) if total.a * total.b > 0 else 0
    return bool(smallest * 2 ** (bits // 2) < largest)


def _cancelled(expr: Expr, enclosure: _Enclosure) -> Expr | None:
    """``expr`` as one fraction with an expanded numerator, or None when too big to try.

    Every tanh(u) becomes (1 - D)/(1 + D) with D = exp(-2u) (or -(1 - D)/(1 + D), D = exp(2u),
    for u < 0), every other non-rational atom a placeholder; the numerator, expanded, has its
    cancellations done exactly: 1 - tanh(u)^2 = 4D/(1 + D)^2.
    """
    if not _smaller_than(expr, CANCEL_LIMIT):
        return None
    atoms: dict[Expr, Expr] = {}
    polynomial = _generators(expr, atoms, enclosure)
    if len(atoms) > 8:
        return None
    numerator, denominator = fraction(together(polynomial))
    if _terms(numerator) > 4 * CANCEL_LIMIT:
        return None
    numerator = expand(numerator)
    values = {placeholder: atom for atom, placeholder in atoms.items()}
    return numerator.xreplace(values) / denominator.xreplace(values)


def _generators(expr: Expr, atoms: dict[Expr, Expr], enclosure: _Enclosure) -> Expr:
    """``expr`` as a rational function of placeholders (stored in ``atoms``: value -> Dummy)."""
    if expr.is_Rational:
        return expr
    if expr.is_Add or expr.is_Mul or (expr.is_Pow and expr.exp.is_Integer):
        return expr.func(*[_generators(arg, atoms, enclosure) for arg in expr.args])
    sign = _sign(expr.args[0], enclosure) if isinstance(expr, tanh) else None
    if sign is None:
        return atoms.setdefault(expr, Dummy("g"))
    d = atoms.setdefault(exp(-2 * sign * expr.args[0]), Dummy("d"))
    return sign * (1 - d) / (1 + d)


def _terms(expr: Expr) -> int:
    """An upper bound on the number of terms of ``expand(expr)``."""
    if expr.is_Add:
        return sum(_terms(arg) for arg in expr.args)
    if expr.is_Mul:
        return prod(_terms(arg) for arg in expr.args)
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        return _terms(expr.base) ** min(int(expr.exp), 64)
    return 1


def _sign(expr: Expr, enclosure: _Enclosure) -> int | None:
    """+1 or -1 when the enclosure of ``expr`` excludes 0; None otherwise."""
    value = enclosure._of(expr)
    if value.a > 0:
        return 1
    if value.b < 0:
        return -1
    return None


def _round(raw: tuple, digits: int) -> Rounded | None:
    """The mpf ``raw`` rounded half-even to ``digits`` significant digits, or None if undecided."""
    if raw in (finf, fninf, fnan, fzero):
        return None
    if abs(raw[2] + raw[3]) < EXACT_EXPONENT:  # magnitude below 2**4096: exactly
        return _round_exact(raw, digits)
    return _round_huge(raw, digits)


def _round_exact(raw: tuple, digits: int) -> Rounded:
    """Exact rounding through a fraction (Decimal division is correctly rounded)."""
    p, q = to_rational(raw)
    with localcontext(prec=digits, rounding=ROUND_HALF_EVEN, Emax=10**9, Emin=-(10**9)):
        rounded = Decimal(int(p)) / Decimal(int(q))
        sign, figures, exponent = rounded.quantize(
            Decimal(1).scaleb(rounded.adjusted() - digits + 1)
        ).as_tuple()
    return sign, int("".join(map(str, figures))), int(exponent)


def _round_huge(raw: tuple, digits: int) -> Rounded | None:
    """Rounding of man * 2**exp with a huge exp, never expanding 2**exp.

    y = man * exp(exp ln 2 - k ln 10) is enclosed with enough bits for the exponents' size;
    None when y's enclosure straddles a rounding boundary (never for such exponents in practice).
    """
    sign, man, power, size = raw
    saved, iv.prec = iv.prec, 4 * digits + size + 2 * abs(power).bit_length() + 64
    try:
        with mp.workprec(iv.prec):
            k = int(mp.floor((power + size) * mp.log10(2))) - digits + 1
        for _ in range(4):
            y = man * iv.exp(power * iv.log(2) - k * iv.log(10))
            low, high = (Fraction(*map(int, to_rational(end))) for end in y._mpi_)
            if high < 10 ** (digits - 1):
                k -= 1
            elif low >= 10**digits:
                k += 1
            else:
                break
    finally:
        iv.prec = saved
    nearest = round(low)
    if not (nearest - Fraction(1, 2) < low and high < nearest + Fraction(1, 2)):
        return None
    if not 10 ** (digits - 1) <= nearest <= 10**digits:
        return None
    if nearest == 10**digits:
        return sign, nearest // 10, k + 1
    return sign, nearest, k


def _round_evalf(value: Expr, digits: int) -> str:
    """Fallback for values the interval evaluator does not know: certified guard digits.

    Raises:
        DecimalError: evalf cannot tell the value from zero, or fails.
    """
    try:
        return _plain(_guarded_evalf(value, digits))
    except PrecisionExhausted:
        raise DecimalError(digits, "it cancels beyond the working precision") from None
    except (ArithmeticError, ValueError, TypeError) as error:
        raise DecimalError(digits, " ".join(str(error).split())[:100]) from None


def _guarded_evalf(value: Expr, digits: int) -> Rounded:
    """evalf with guard digits, doubled until the last kept digit is clear of a tie."""
    guard = 10
    while True:
        with localcontext(prec=digits + 2 * guard):
            approx = Decimal(str(value.evalf(digits + guard, strict=True)))
            if approx == 0:
                raise ValueError("evalf found no nonzero digit")
            exponent = approx.adjusted() - digits + 1
            tail = abs(approx.scaleb(-exponent) % 1 - Decimal("0.5"))
            if tail > Decimal(10) ** (3 - guard) or guard > 200:
                quantized = approx.quantize(Decimal(1).scaleb(exponent), ROUND_HALF_EVEN)
                sign, figures, power = quantized.as_tuple()
                return sign, int("".join(map(str, figures))), int(power)
        guard *= 2


def _plain(rounded: Rounded) -> str:
    """Fixed notation for moderate magnitudes, scientific otherwise."""
    sign, significand, exponent = rounded
    figures = str(significand)
    adjusted = exponent + len(figures) - 1
    if -5 <= adjusted < 15:
        return f"{Decimal((sign, tuple(map(int, figures)), exponent)):f}"
    mantissa = figures[0] + ("." + figures[1:] if len(figures) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{adjusted}"
