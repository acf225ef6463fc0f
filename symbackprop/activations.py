"""The activation registry: one entry per activation, each a SymPy definition.

An entry maps a vector of pre-activations to a vector of activations. Elementwise activations are
small ``sympy.Function`` subclasses, so derivations print as ReLU(z) or sigma(z) rather than as
their elementary definitions; each states its derivative in ``fdiff`` (the textbook form,
e.g. sigma' = sigma (1 - sigma)) and its elementary definition in ``elementary``. The tests prove
every ``fdiff`` equal to ``diff`` of the elementary definition, and the finite-difference oracle
checks the lambdified result.

Adding an activation is one ``register(...)`` call at the bottom of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sympy import (
    Add,
    Dummy,
    Eq,
    Expr,
    Function,
    Max,
    Mul,
    Piecewise,
    Rational,
    S,
    Symbol,
    exp,
    expand,
    factor,
    log,
    tanh,
)
from sympy.printing.printer import Printer

from .patterns import per_pattern


class NamedFunction(Function):
    """A function printed by name (ReLU(z), sigma(z)) with an elementary definition.

    SymPy's NumPy printer (``printmethod = "_numpycode"``) prints it as that definition, with
    ReLU'(0) = 0, so a plain ``sympy.lambdify(symbols, expr, "numpy")`` works on every form a
    derivation shows. The pipeline's own numeric code substitutes ``elementary(convention)``
    first, unless ``native_numpy`` says the class prints NumPy code of its own.
    """

    #: True when ``_numpycode`` is the class's own NumPy code, kept by the numeric pipeline.
    native_numpy: ClassVar[bool] = False

    def elementary(self, convention: Expr) -> Expr:
        """The definition in elementary functions, ReLU'(0) = ``convention`` at a kink."""
        raise NotImplementedError

    def _numpycode(self, printer: Printer) -> str:
        return printer._print(self.elementary(S.Zero).rewrite(Piecewise))


class KinkFunction(NamedFunction):
    """A derivative that is undefined at 0 (a kink); its value there is a convention."""

    def at_kink(self, convention: Expr) -> Expr:
        """The value used at exactly zero, given ReLU'(0) = ``convention``."""
        raise NotImplementedError

    def elementary(self, convention: Expr) -> Expr:
        """A Piecewise definition usable by ``lambdify``."""
        z = self.args[0]
        return Piecewise(
            (self._right(), z > 0), (self.at_kink(convention), Eq(z, 0)), (self._left(), True)
        )

    def _right(self) -> Expr:
        return S.One

    def _left(self) -> Expr:
        raise NotImplementedError


class ReLUPrime(KinkFunction):
    """ReLU'(z): 1 for z > 0, 0 for z < 0, and the convention at 0."""

    nargs = 1

    @classmethod
    def eval(cls, z: Expr) -> Expr | None:
        if z.is_extended_positive:
            return S.One
        if z.is_extended_negative:
            return S.Zero
        return None

    def at_kink(self, convention: Expr) -> Expr:
        return convention

    def _left(self) -> Expr:
        return S.Zero


class ReLU(NamedFunction):
    """ReLU(z) = max(0, z)."""

    nargs = 1

    @classmethod
    def eval(cls, z: Expr) -> Expr | None:
        if z.is_extended_nonnegative:
            return z
        if z.is_extended_negative:
            return S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> Expr:
        return ReLUPrime(self.args[0])

    def elementary(self, convention: Expr) -> Expr:
        return Max(S.Zero, self.args[0])


class LeakyReLUPrime(KinkFunction):
    """LeakyReLU'(z; alpha): 1 for z > 0, alpha for z < 0, alpha + c (1 - alpha) at 0."""

    nargs = 2

    @classmethod
    def eval(cls, z: Expr, slope: Expr) -> Expr | None:
        if z.is_extended_positive:
            return S.One
        if z.is_extended_negative:
            return slope
        return None

    def at_kink(self, convention: Expr) -> Expr:
        slope = self.args[1]
        return slope + convention * (1 - slope)

    def _left(self) -> Expr:
        return self.args[1]


class LeakyReLU(NamedFunction):
    """LeakyReLU(z; alpha) = z for z > 0, alpha z otherwise."""

    nargs = 2

    @classmethod
    def eval(cls, z: Expr, slope: Expr) -> Expr | None:
        if z.is_extended_nonnegative:
            return z
        if z.is_extended_negative:
            return slope * z
        return None

    def fdiff(self, argindex: int = 1) -> Expr:
        if argindex != 1:
            raise ValueError("the leaky ReLU slope is a constant, not a variable")
        return LeakyReLUPrime(*self.args)

    def elementary(self, convention: Expr) -> Expr:
        z, slope = self.args
        return Piecewise((z, z > 0), (slope * z, True))


class Sigmoid(NamedFunction):
    """sigma(z) = 1 / (1 + exp(-z)), with sigma' = sigma (1 - sigma)."""

    nargs = 1

    @classmethod
    def eval(cls, z: Expr) -> Expr | None:
        return 1 / (1 + exp(-z)) if z.is_number else None

    def fdiff(self, argindex: int = 1) -> Expr:
        return self * (1 - self)

    def elementary(self, convention: Expr) -> Expr:
        return 1 / (1 + exp(-self.args[0]))


class Softplus(NamedFunction):
    """softplus(z) = log(1 + exp(z)), with softplus' = sigma."""

    nargs = 1

    @classmethod
    def eval(cls, z: Expr) -> Expr | None:
        return log(1 + exp(z)) if z.is_number else None

    def fdiff(self, argindex: int = 1) -> Expr:
        return Sigmoid(self.args[0])

    def elementary(self, convention: Expr) -> Expr:
        return log(1 + exp(self.args[0]))

    native_numpy = True

    def _numpycode(self, printer: Printer) -> str:
        """NumPy's ``logaddexp(0, z)``: the same function, without overflow for z > 709."""
        return f"{printer._module_format('numpy.logaddexp')}(0, {printer._print(self.args[0])})"


# Function classes that numeric code must replace by their elementary definitions, unless they
# print their own NumPy code (``_numpycode``, SymPy's printer dispatch).
NAMED_FUNCTIONS: tuple[type[Function], ...] = (
    ReLU,
    ReLUPrime,
    LeakyReLU,
    LeakyReLUPrime,
    Sigmoid,
    Softplus,
)

Vector = Sequence[Expr]


@dataclass(frozen=True)
class Activation:
    """One activation: ``apply`` maps pre-activations z to activations a (both vectors).

    ``in_outputs(expr, zs, outputs)`` rewrites a derivative of ``apply`` in terms of the output
    symbols where the textbook does (sigma (1 - sigma) becomes a (1 - a)).
    """

    name: str
    apply: Callable[[Vector, Mapping[str, Any]], list[Expr]]
    in_outputs: Callable[[Expr, Vector, Sequence[Symbol], Mapping[str, Any]], Expr]
    options: Mapping[str, Any] = field(default_factory=dict)
    output_only: bool = False
    has_kink: bool = False
    description: str = ""


ACTIVATIONS: dict[str, Activation] = {}
ALIASES: dict[str, str] = {}


def register(activation: Activation, *aliases: str) -> Activation:
    """Add ``activation`` (and any alias names) to the registry."""
    ACTIVATIONS[activation.name] = activation
    ALIASES.update(dict.fromkeys(aliases, activation.name))
    return activation


def elementwise(
    name: str,
    f: Callable[..., Expr],
    *aliases: str,
    options: Mapping[str, Any] | None = None,
    has_kink: bool = False,
    description: str = "",
) -> Activation:
    """Register an activation applied entry by entry: a_i = f(z_i, **options)."""

    def apply(zs: Vector, opts: Mapping[str, Any]) -> list[Expr]:
        return [f(z, **opts) for z in zs]

    def in_outputs(
        expr: Expr, zs: Vector, outs: Sequence[Symbol], opts: Mapping[str, Any]
    ) -> Expr:
        present = expr.free_symbols  # only these z's can be rewritten: linear in the width
        pairs = [(z, a) for z, a in zip(zs, outs, strict=True) if not z.is_Symbol or z in present]
        mapping = {f(z, **opts): a for z, a in pairs if f(z, **opts) != z}
        return expr.xreplace(mapping)

    entry = Activation(name, apply, in_outputs, dict(options or {}), False, has_kink, description)
    return register(entry, *aliases)


def _softmax(zs: Vector, opts: Mapping[str, Any]) -> list[Expr]:
    total = Add(*[exp(z) for z in zs])
    return [exp(z) / total for z in zs]


#: ``factor``, computed once per pattern: the n^2 entries of a softmax Jacobian in its outputs
#: are two expressions (k = i and k != i) up to the names of their symbols.
_factored = per_pattern(factor)


def _softmax_in_outputs(
    expr: Expr, zs: Vector, outs: Sequence[Symbol], opts: Mapping[str, Any]
) -> Expr:
    """Rewrite with exp(z_j) = yhat_j * S, where S = sum_j exp(z_j), and cancel S.

    SymPy may have merged exp(z_1)**2 into exp(2*z_1), so each exp(c_1 z_1 + ...) becomes
    prod_j (yhat_j S)**c_j.
    """
    total, s = Add(*[exp(z) for z in zs]), Dummy("S")

    def in_outputs(argument: Expr) -> Expr:
        present = argument.free_symbols  # only these z's have a coefficient: linear in the width
        pairs = [(z, o) for z, o in zip(zs, outs, strict=True) if not z.is_Symbol or z in present]
        powers = [(o * s) ** argument.coeff(z) for z, o in pairs]
        remainder = expand(argument - sum(argument.coeff(z) * z for z, _ in pairs))
        return Mul(*powers) * exp(remainder)

    rewritten = expr.xreplace({total: s}).replace(
        lambda e: isinstance(e, exp), lambda e: in_outputs(e.args[0])
    )
    result = _factored(rewritten)
    if s in result.free_symbols:  # pragma: no cover - a bug, not bad input
        raise AssertionError(f"softmax derivative not expressible in outputs: {expr}")
    return result


elementwise("identity", lambda z: z, "linear", "none", description="a = z")
elementwise("relu", ReLU, has_kink=True, description="a = max(0, z)")
elementwise(
    "leaky_relu",
    lambda z, slope: LeakyReLU(z, slope),
    "leakyrelu",
    "lrelu",
    options={"slope": Rational(1, 100)},
    has_kink=True,
    description="a = z for z > 0, slope*z otherwise",
)
elementwise("sigmoid", Sigmoid, "logistic", "sigma", description="a = 1/(1 + exp(-z))")
elementwise("tanh", tanh, description="a = tanh(z)")
elementwise("softplus", Softplus, description="a = log(1 + exp(z))")
register(
    Activation(
        "softmax",
        _softmax,
        _softmax_in_outputs,
        output_only=True,
        description="a_k = exp(z_k) / sum_j exp(z_j)",
    )
)


def canonical_name(name: str) -> str:
    """Resolve case, spelling and aliases: ``canonical_name("Logistic") == "sigmoid"``.

    Any case is accepted, and ``-`` or a space reads as ``_`` (``Leaky-ReLU`` is ``leaky_relu``).
    """
    key = normalize(name)
    return ALIASES.get(key, key)


def normalize(name: str) -> str:
    """``name`` in lower case with ``-`` and spaces read as ``_``: ``normalize("Leaky ReLU")``
    is ``leaky_relu``."""
    return "_".join(name.strip().lower().replace("-", " ").split())
