"""The SymPy LaTeX printer for our notation.

:class:`DerivationPrinter` extends SymPy's ``LatexPrinter`` through its ``_print_<Class>``
dispatch, so every formula is printed by SymPy from an expression, never typed in or edited
afterwards:

>>> from sympy import Derivative, Symbol
>>> from symbackprop.activations import ReLUPrime
>>> latex(ReLUPrime(Symbol("z^(1)_1")))
"\\\\operatorname{ReLU}'(z^{(1)}_{1})"
>>> latex(Derivative(Symbol("J"), Symbol("z^(2)_1")))
'\\\\frac{\\\\partial J}{\\\\partial z^{(2)}_{1}}'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

from sympy import (
    Add,
    AtomicExpr,
    Basic,
    Derivative,
    Expr,
    Function,
    MatrixBase,
    Mul,
    exp,
)
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from ..activations import LeakyReLU, LeakyReLUPrime, ReLU, ReLUPrime, Sigmoid, Softplus
from ..notation import Variance
from .widths import estimate_width, is_tall

# ----------------------------------------------------------------------------- numbers


class DecimalNumber(AtomicExpr):  # type: ignore[misc]
    """A decimal exactly as given, e.g. ``DecimalNumber("-1.25e-9")``: printed digit for digit.

    The derivation certifies the digits of each decimal (``Derivation.decimal``); this atom
    carries them into formulas (worked numbers, matrices) without passing through a binary
    float. It is never evaluated.
    """

    is_commutative = True
    is_number = False
    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> DecimalNumber:
        if not re.fullmatch(r"-?\d+(\.\d+)?(e[+-]?\d+)?", text):
            raise ValueError(f"not a decimal number: {text!r}")
        obj = super().__new__(cls)
        obj.text = text
        return obj

    def _hashable_content(self) -> tuple[str]:
        return (self.text,)

    def __getnewargs__(self) -> tuple[str]:
        return (self.text,)

    @property
    def negative(self) -> bool:
        """Whether the number has a leading minus sign."""
        return self.text.startswith("-")

    @property
    def magnitude(self) -> DecimalNumber:
        """The number without its sign."""
        return DecimalNumber(self.text.removeprefix("-"))

    @property
    def precedence(self) -> int:
        """Printed in brackets inside products and powers when negative."""
        return PRECEDENCE["Add"] if self.negative else PRECEDENCE["Atom"]

    def could_extract_minus_sign(self) -> bool:
        return self.negative

    def __neg__(self) -> Expr:
        return DecimalNumber(self.text[1:] if self.negative else "-" + self.text)

    def _sympystr(self, printer: Any) -> str:
        return self.text

    def _sympyrepr(self, printer: Any) -> str:
        return f"DecimalNumber({self.text!r})"


# ----------------------------------------------------------------------------- the printer


class DerivationPrinter(LatexPrinter):
    """SymPy's LaTeX printer with the notation of a backpropagation derivation.

    * ``Derivative(J, z)`` prints as ``\\frac{\\partial J}{\\partial z}``;
    * ReLU, its derivative, leaky ReLU, sigmoid and softplus print as named functions
      (``\\operatorname{ReLU}'(z)``, ``\\sigma(z)``), with brackets that grow only around tall
      arguments;
    * ``exp`` prints as ``e^{27/50}`` with short fractions folded in the exponent, or as
      ``\\exp(...)`` when the exponent is long;
    * sums lead with a positive term (``\\hat{y}_{1} - y_{1}``, not ``- y_{1} + \\hat{y}_{1}``);
    * matrices are ``bmatrix`` (with ``mat_delim=''``, so brackets are not doubled),
      transposes use ``\\top``, Hadamard products ``\\odot``, and a ones vector ``\\mathbf{1}``;
    * :class:`DecimalNumber` prints its digits, with ``\\cdot 10^{k}`` for an exponent.

    Settings are SymPy's, with ``order="none"`` by default: terms and factors in SymPy's
    canonical order, never sorted by numeric value; ``mul_symbol="dot"`` suits worked numbers.
    """

    printmethod = "_symbackprop_latex"
    _default_settings: ClassVar[dict[str, Any]] = {
        **LatexPrinter._default_settings,
        "mat_str": "bmatrix",
        "mat_delim": "",
        "fold_derivatives": False,
        # SymPy's canonical (structural) order of terms and factors: the default sorts them by
        # numeric value, an ``evalf`` per term, most of the time of a large derivation
        "order": "none",
    }

    #: How each of our function classes is named; derivatives add a prime.
    FUNCTION_NAMES: ClassVar[dict[type, str]] = {
        ReLU: r"\operatorname{ReLU}",
        LeakyReLU: r"\operatorname{LeakyReLU}",
        Sigmoid: r"\sigma",
        Softplus: r"\operatorname{softplus}",
    }
    DERIVATIVES: ClassVar[dict[type, type]] = {ReLUPrime: ReLU, LeakyReLUPrime: LeakyReLU}

    #: Printed expressions are remembered (line breaking prints subexpressions repeatedly);
    #: the memory is cleared when it grows past this many entries.
    MEMO_LIMIT = 20000

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._memo: dict[tuple[Any, ...], str] = {}

    def _print(self, expr: Any, **kwargs: Any) -> str:
        if kwargs or not isinstance(expr, Basic):
            return super()._print(expr, **kwargs)
        key = (expr, self._settings["fold_short_frac"], self._settings["fold_derivatives"])
        tex = self._memo.get(key)
        if tex is None:
            if len(self._memo) > self.MEMO_LIMIT:
                self._memo.clear()
            tex = self._memo[key] = super()._print(expr)
        return tex

    # -- functions

    def function_name(self, function: type) -> str:
        """The LaTeX name of a function class: ``\\operatorname{ReLU}`` or ``\\tanh``.

        A derivative class (``ReLUPrime``) is its function's name with a prime.
        """
        if function in self.DERIVATIVES:
            return self.function_name(self.DERIVATIVES[function]) + "'"
        if function in self.FUNCTION_NAMES:
            return self.FUNCTION_NAMES[function]
        if function is exp:
            return r"\exp"
        return self._hprint_Function(function.__name__)

    def call(self, name: str, args: Sequence[Expr]) -> str:
        """``name(arg; option)``: the first argument, then any options after a semicolon."""
        inner = "; ".join(self._print(arg) for arg in args)
        return name + self.bracket(inner)

    def bracket(self, inner: str, opening: str = "(", closing: str = ")") -> str:
        """Brackets around ``inner``: growing (``\\left``) only around tall content."""
        if is_tall(inner):
            return rf"\left{opening}{inner}\right{closing}"
        return f"{opening}{inner}{closing}"

    def _print_named(self, expr: Function, exp: Any = None) -> str:
        name = self.function_name(type(expr))
        return self.call(name if exp is None else f"{name}^{{{exp}}}", expr.args)

    _print_ReLU = _print_named
    _print_ReLUPrime = _print_named
    _print_LeakyReLU = _print_named
    _print_LeakyReLUPrime = _print_named
    _print_Sigmoid = _print_named
    _print_Softplus = _print_named

    _print_tanh = _print_named

    def _print_PoolMax(self, expr: Function, exp: Any = None) -> str:
        """The maximum of a pooling window: ``\\max(a, b, c, d)``."""
        return self._with_power(self.call(r"\max", expr.args), exp)

    def _print_FirstMax(self, expr: Function, exp: Any = None) -> str:
        """The first-argmax indicator: ``[\\operatorname{argmax}(a, b, c, d) = 2]`` (1-based)."""
        k, values = expr.args[0], expr.args[1:]
        inner = self.call(r"\operatorname{argmax}", values)
        return self._with_power(rf"[{inner} = {int(k) + 1}]", exp)

    def _print_log(self, expr: Function, exp: Any = None) -> str:
        """``\\log \\hat{y}_{1}`` for a symbol, ``\\log(1 + e^{z})`` otherwise."""
        (arg,) = expr.args
        name = self.function_name(type(expr))
        tex = f"{name} {self._print(arg)}" if arg.is_Symbol else self.call(name, [arg])
        return self._with_power(tex, exp)

    def _with_power(self, tex: str, exp: Any) -> str:
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"

    def _print_exp(self, expr: Function, exp: Any = None) -> str:
        """``e^{27/50}`` (short fractions folded), or ``\\exp(...)`` for a long exponent."""
        (arg,) = expr.args
        folded = self._settings["fold_short_frac"]
        self._settings["fold_short_frac"] = True
        try:
            exponent = self._print(arg)
        finally:
            self._settings["fold_short_frac"] = folded
        if estimate_width(exponent, scale=0.7) > 4:
            return self._with_power(self.call(r"\exp", [arg]), exp)
        return self._with_power(f"e^{{{exponent}}}", exp)

    def _print_Mul(self, expr: Mul) -> str:
        """SymPy's products, but ``e^{-u}`` over a denominator stays in the numerator:
        ``\\frac{e^{-u}}{S}``, where SymPy would print ``\\frac{1}{S e^{u}}``."""
        kept = [
            f for f in expr.args if isinstance(f, exp) and f.args[0].could_extract_minus_sign()
        ]
        rest = [f for f in expr.args if f not in kept]
        if not kept or not any(f.is_Pow and f.exp.is_negative for f in rest):
            return super()._print_Mul(expr)
        if expr.could_extract_minus_sign():
            return "- " + self._print(-expr)
        numerator, denominator = Mul(*rest).as_numer_denom()
        factors = ([] if numerator == 1 else [self._print(numerator)]) + [
            self._print(f) for f in kept
        ]
        return rf"\frac{{{' '.join(factors)}}}{{{self._print(denominator)}}}"

    def _print_Function(self, expr: Function, exp: Any = None) -> str:
        """Undefined functions with long names, such as ``softmax``, print upright."""
        if isinstance(expr, AppliedUndef) and len(type(expr).__name__) > 1:
            name = rf"\operatorname{{{type(expr).__name__}}}"
            return self.call(name if exp is None else f"{name}^{{{exp}}}", expr.args)
        return super()._print_Function(expr, exp)

    # -- calculus and sums

    def _print_Variance(self, expr: Variance) -> str:
        """``{\\sigma^{(1)}_{2}}^{2}``: the variance as the square of sigma."""
        return f"{{{self._print(expr.deviation)}}}^{{2}}"

    def _print_Derivative(self, expr: Derivative) -> str:
        r"""``\frac{\partial J}{\partial z^{(2)}_{1}}``, or with the ``fold_derivatives``
        setting (for running text) ``\partial J / \partial z^{(2)}_{1}``."""
        ((variable, count),) = expr.variable_count
        power = f"^{{{count}}}" if count != 1 else ""
        if self._settings["fold_derivatives"]:
            return (
                rf"\partial{power} {self._print(expr.expr)} / "
                rf"\partial {self._print(variable)}{power}"
            )
        return (
            rf"\frac{{\partial{power} {self._print(expr.expr)}}}"
            rf"{{\partial {self._print(variable)}{power}}}"
        )

    def _as_ordered_terms(self, expr: Any, order: str | None = None) -> list[Any]:
        """SymPy's canonical order, but where the sum has symbols, products before lone
        symbols before a number: ``W x + b``, ``x + 1``.

        A structural rule (a stable sort on the kind of term), never a numeric sort;
        :meth:`_print_Add`, line breaking and the substituted numbers all take their order
        from here.
        """
        terms = list(super()._as_ordered_terms(expr, order=order))
        if (order or self.order) != "none" or len(terms) < 2:
            return terms
        if terms[0].is_Number and not expr.free_symbols:
            return terms  # a sum of numbers keeps its own order: 1 + e^{27/50}
        return sorted(terms, key=_term_rank)

    def _print_Add(self, expr: Add, order: str | None = None) -> str:
        """Terms in the printer's order, but starting with a positive term where there is one.

        A sum of numbers keeps its own order, as the text format prints it, so that values of
        one kind read alike: ``1 + e^{27/50}`` and ``1 + e^{-27/50}``, not ``e^{-27/50} + 1``.
        """
        if not expr.free_symbols and not expr.atoms(DecimalNumber):
            order = "none"
        terms = list(self._as_ordered_terms(expr, order=order))
        if is_negative(terms[0]):
            positive = next((t for t in terms if not is_negative(t)), None)
            if positive is not None:
                terms.remove(positive)
                terms.insert(0, positive)
        tex = ""
        for i, term in enumerate(terms):
            if i and is_negative(term):
                tex += " - "
                term = negate(term)
            elif i:
                tex += " + "
            term_tex = self._print(term)
            if self._needs_add_brackets(term):
                term_tex = rf"\left({term_tex}\right)"
            tex += term_tex
        return tex

    # -- numbers

    def _print_DecimalNumber(self, expr: DecimalNumber) -> str:
        mantissa, _, exponent = expr.text.partition("e")
        if not exponent:
            return mantissa
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"

    # -- matrices

    def _print_Transpose(self, expr: Any) -> str:
        base = self._print(expr.arg)
        if not expr.arg.is_symbol or any(mark in base for mark in "^_"):
            base = self.bracket(base)
        return rf"{base}^{{\top}}"

    def _print_HadamardProduct(self, expr: Any) -> str:
        return r" \odot ".join(
            self.bracket(self._print(arg)) if arg.is_MatAdd else self._print(arg)
            for arg in expr.args
        )

    def _print_ElementwiseApplyFunction(self, expr: Any) -> str:
        """A function or its derivative applied entry by entry: ``\\operatorname{ReLU}'(z^{(1)})``."""
        body, (variable,) = expr.function.expr, expr.function.variables
        prime = ""
        if isinstance(body, Derivative) and body.variables == (variable,):
            body, prime = body.expr, "'"
        if isinstance(body, Function) and body.args and body.args[0] == variable:
            return self.call(self.function_name(type(body)) + prime, [expr.expr, *body.args[1:]])
        return super()._print_ElementwiseApplyFunction(expr)

    def _print_MatAdd(self, expr: Any) -> str:
        """Products without a scalar coefficient first: ``\\delta (a)^{\\top} + 2 \\lambda W``."""
        terms = sorted(expr.args, key=lambda term: term.as_coeff_mmul()[0] != 1)
        tex = ""
        for i, term in enumerate(terms):
            coefficient, rest = term.as_coeff_mmul()
            if coefficient.could_extract_minus_sign():
                tex += " - " if i else "-"
                term = -coefficient * rest.doit() if coefficient != -1 else rest
            elif i:
                tex += " + "
            tex += self._print(term)
        return tex

    def _print_OneMatrix(self, expr: Any) -> str:
        return r"\mathbf{1}"

    def _print_MatrixSet(self, expr: Any) -> str:
        rows, cols = expr.shape
        shape = (
            self._print(rows) if cols == 1 else rf"{self._print(rows)} \times {self._print(cols)}"
        )
        return rf"{self._print(expr.set)}^{{{shape}}}"

    def _print_MatrixBase(self, expr: MatrixBase) -> str:
        """``bmatrix`` with rows on separate source lines."""
        rows = [" & ".join(self._print(entry) for entry in expr.row(i)) for i in range(expr.rows)]
        return "\\begin{bmatrix}\n" + " \\\\\n".join(rows) + "\n\\end{bmatrix}"

    _print_ImmutableMatrix = _print_ImmutableDenseMatrix = _print_MatrixBase
    _print_Matrix = _print_MutableDenseMatrix = _print_MatrixBase


def _term_rank(term: Expr) -> int:
    """Where a term goes in a printed sum: products (and the rest), lone symbols, numbers."""
    if term.is_Number:
        return 2
    return 1 if term.is_Symbol else 0


def is_negative(term: Expr) -> bool:
    """Whether a term of a sum is printed with a leading minus (also for unevaluated products).

    A sum is never negative as a whole: it is bracketed, not pulled apart.
    """
    if term.is_Add:
        return False
    if term.could_extract_minus_sign():
        return True
    return bool(term.is_Mul and term.args and is_negative(term.args[0]))


def negate(term: Expr) -> Expr:
    """``-term``, keeping an unevaluated product unevaluated."""
    if term.is_Mul and not term.could_extract_minus_sign() and is_negative(term.args[0]):
        first = negate(term.args[0])
        rest = term.args[1:]
        return Mul(first, *rest, evaluate=False) if first != 1 else Mul(*rest, evaluate=False)
    return -term


@lru_cache(maxsize=8)
def printer(**settings: Any) -> DerivationPrinter:
    """A shared printer with ``settings`` (printers remember what they printed)."""
    return DerivationPrinter(settings)


def latex(expr: Any, **settings: Any) -> str:
    """Print ``expr`` with :class:`DerivationPrinter`.

    Example:
        >>> from sympy import Symbol
        >>> latex(Symbol("yhat_1") - Symbol("y_1"))
        '\\\\hat{y}_{1} - y_{1}'
    """
    return printer(**settings).doprint(expr)


def numeric_latex(expr: Any) -> str:
    """Print a worked number: explicit ``\\cdot`` and the expression's own term order."""
    return latex(expr, mul_symbol="dot", order="none")


_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\^{}",
    "~": r"\~{}",
}


def latex_text(text: str) -> str:
    """Escape plain text for LaTeX: ``latex_text("50% of x_1")`` is ``50\\% of x\\_1``."""
    escaped = "".join(_TEXT_ESCAPES.get(char, char) for char in text)
    return escaped.replace("--", "-{}-")  # no en dash ligature in option names
