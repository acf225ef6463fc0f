"""One-level definitions compiled once to Python, over exact fractions and mpmath numbers.

:func:`compile_matrix` turns a matrix of one-level definitions (``z = W a + b``, a delta, a
gradient) into a function of the values of its free symbols. Rationals are exact
(:class:`Exact`, a :class:`~fractions.Fraction`) and stay exact through ``+ - * /`` and integer powers, so
that a pre-activation exactly on a kink is exactly 0; a transcendental value becomes an
mpmath number at the working precision (``mpmath.workdps``) as soon as it appears. The
kinked and pooling functions are those of :mod:`symbackprop.scalars`, with ReLU'(0) given.

This is what ``xreplace`` of the definitions followed by ``evalf`` computes, without building
a SymPy expression per value: compiled once per architecture and convention, it evaluates
every point of a check.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any, TypeAlias

import mpmath
from sympy import Expr, Float, ImmutableMatrix, Integer, Pow, Rational, Symbol
from sympy.printing.pycode import MpmathPrinter

from ..codegen import compile_expressions
from ..numeric import mpmath_printer
from ..scalars import scalar_functions, scalar_ready


class Exact:
    """An exact rational that turns into an mpmath number when it meets one.

    :class:`~fractions.Fraction` and ``mpmath.mpf`` do not subtract, divide or compare with
    each other; this wrapper does, through ``_mpf_`` (which mpmath reads) and by converting
    itself where the other operand is no exact number.
    """

    __slots__ = ("_rounded", "q")

    def __init__(self, q: Fraction | int) -> None:
        self.q = Fraction(q)
        #: (working precision in bits, the mpf of q at it): a value used many times is
        #: rounded once.
        self._rounded: tuple[int, mpmath.mpf] | None = None

    def _mp(self) -> mpmath.mpf:
        """q rounded to the working precision."""
        prec, rounded = mpmath.mp.prec, self._rounded
        if rounded is None or rounded[0] != prec:
            rounded = (prec, mpmath.mpf(self.q.numerator) / self.q.denominator)
            self._rounded = rounded
        return rounded[1]

    @property
    def _mpf_(self) -> Any:
        return self._mp()._mpf_

    def _both(self, other: Any, op: Callable[[Any, Any], Any]) -> Any:
        if isinstance(other, Exact):
            return Exact(op(self.q, other.q))
        if isinstance(other, int):
            return Exact(op(self.q, other))
        return op(self._mp(), other)

    def _rboth(self, other: Any, op: Callable[[Any, Any], Any]) -> Any:
        if isinstance(other, int):
            return Exact(op(other, self.q))
        return op(other, self._mp())

    def _compare(self, other: Any, op: Callable[[Any, Any], bool]) -> bool:
        if isinstance(other, Exact):
            return op(self.q, other.q)
        if isinstance(other, int):
            return op(self.q, other)
        return bool(op(self._mp(), other))

    def __add__(self, o: Any) -> Any:
        return self._both(o, operator.add)

    def __sub__(self, o: Any) -> Any:
        return self._both(o, operator.sub)

    def __mul__(self, o: Any) -> Any:
        return self._both(o, operator.mul)

    def __truediv__(self, o: Any) -> Any:
        return self._both(o, operator.truediv)

    def __radd__(self, o: Any) -> Any:
        return self._rboth(o, operator.add)

    def __rsub__(self, o: Any) -> Any:
        return self._rboth(o, operator.sub)

    def __rmul__(self, o: Any) -> Any:
        return self._rboth(o, operator.mul)

    def __rtruediv__(self, o: Any) -> Any:
        return self._rboth(o, operator.truediv)

    def __neg__(self) -> Exact:
        return Exact(-self.q)

    def __pos__(self) -> Exact:
        return self

    def __abs__(self) -> Exact:
        return Exact(abs(self.q))

    def __lt__(self, o: Any) -> bool:
        return self._compare(o, operator.lt)

    def __le__(self, o: Any) -> bool:
        return self._compare(o, operator.le)

    def __gt__(self, o: Any) -> bool:
        return self._compare(o, operator.gt)

    def __ge__(self, o: Any) -> bool:
        return self._compare(o, operator.ge)

    def __eq__(self, o: object) -> bool:
        return self._compare(o, operator.eq)

    def __hash__(self) -> int:
        return hash(self.q)

    def __pow__(self, o: Any) -> Any:
        if isinstance(o, int):
            return Exact(self.q**o)
        return self._mp() ** o

    def __rpow__(self, o: Any) -> Any:
        return mpmath.mpf(o) ** self._mp()

    def __repr__(self) -> str:
        return f"Exact({self.q})"


#: A value at a point: an exact rational or an mpmath number.
Value: TypeAlias = Exact | mpmath.mpf
Compiled = Callable[[Sequence[Value]], list[Value]]


class _ExactPrinter(MpmathPrinter):
    """mpmath code in which rationals are exact fractions and integers Python ints."""

    def _print_Rational(self, expr: Rational) -> str:
        return f"Exact(Fraction({expr.p}, {expr.q}))"

    def _print_Integer(self, expr: Integer) -> str:
        return str(expr.p)

    def _print_Half(self, expr: Rational) -> str:
        return "Exact(Fraction(1, 2))"

    def _print_Pow(self, expr: Pow, rational: bool = False) -> str:
        base, exponent = expr.args
        if exponent.is_Integer or abs(exponent) == Rational(1, 2):
            return str(super()._print_Pow(expr, rational))
        return (
            f"mpmath.power({self._print(base)}, "
            f"mpmath.mpf({exponent.p}) / {exponent.q})"  # type: ignore[attr-defined]
        )


def compile_matrix(matrix: ImmutableMatrix, convention: Rational) -> tuple[list[Symbol], Compiled]:
    """The free symbols of ``matrix`` (sorted by name) and a function of their values that
    returns the entries, row by row."""
    symbols = sorted(matrix.free_symbols, key=lambda s: s.name)
    entries = [scalar_ready(e, convention, numpy=False) for e in matrix]
    modules = [_namespace(convention), "mpmath"]
    function = compile_expressions(symbols, entries, mpmath_printer(_ExactPrinter), modules)
    return symbols, function


def _namespace(convention: Rational) -> dict[str, Any]:
    namespace: dict[str, Any] = dict(scalar_functions(to_value(convention)))
    namespace.update(Exact=Exact, Fraction=Fraction, mpmath=mpmath)
    return namespace


def to_value(number: Expr) -> Value:
    """An exact SymPy number (or a Float) as a :data:`Value`."""
    if isinstance(number, Rational):
        return Exact(Fraction(int(number.p), int(number.q)))
    return mpmath.mpf(number)


def to_number(value: Any, precision: int) -> Rational | Float | None:
    """A computed value as a SymPy number; None if it is not finite."""
    if isinstance(value, Exact):
        return Rational(value.q.numerator, value.q.denominator)
    if isinstance(value, int):
        return Integer(value)
    if not isinstance(value, mpmath.mpf) or not mpmath.isfinite(value):
        return None
    return Float(value, precision)
