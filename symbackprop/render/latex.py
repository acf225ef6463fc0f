"""LaTeX: the SymPy printer for our notation, line breaking, and the ``latex`` format.

:class:`DerivationPrinter` extends SymPy's ``LatexPrinter`` through its ``_print_<Class>``
dispatch, so every formula is printed by SymPy from an expression, never typed in or edited
afterwards:

>>> from sympy import Derivative, Symbol
>>> from symbackprop.activations import ReLUPrime
>>> latex(ReLUPrime(Symbol("z^(1)_1")))
"\\\\operatorname{ReLU}'(z^{(1)}_{1})"
>>> latex(Derivative(Symbol("J"), Symbol("z^(2)_1")))
'\\\\frac{\\\\partial J}{\\\\partial z^{(2)}_{1}}'

A display row that is too wide for the page is broken by :func:`aligned`: the expression is cut
into pieces (terms, factors, function arguments) with break points between them, brackets that
span lines get fixed sizes (``\\bigl(`` ... ``\\bigr)``), and the breaks are chosen to use as
few lines as possible, preferring shallow break points. Widths are estimated from the LaTeX
(:func:`estimate_width`), in em of the body font; the pdflatex test checks the estimate by
compiling with no overfull boxes.

The ``latex`` format (:func:`to_latex`) writes a fragment needing only amsmath and amssymb,
or with ``standalone=True`` a complete document for pdflatex.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from sympy import (
    Add,
    AtomicExpr,
    Basic,
    Derivative,
    Expr,
    Function,
    MatrixBase,
    Mul,
    S,
    exp,
    fraction,
)
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from .. import __version__
from ..activations import LeakyReLU, LeakyReLUPrime, ReLU, ReLUPrime, Sigmoid, Softplus
from . import register

if TYPE_CHECKING:
    from ..derivation import Derivation

__all__ = [
    "LINE_WIDTH",
    "DecimalNumber",
    "DerivationPrinter",
    "Row",
    "Segment",
    "aligned",
    "estimate_width",
    "latex",
    "latex_text",
    "to_latex",
]

#: Width available to a display, in em of the body font (11pt on A4 with 2.5 cm margins is
#: about 41 em; the rest is a safety margin for the width estimate).
LINE_WIDTH = 36.0
#: The most columns one printed matrix gets: amsmath's ``bmatrix`` takes at most MaxMatrixCols
#: (10) unless a document raises it, and a fragment cannot.
MATRIX_COLUMNS = 10
#: The most rows one printed matrix gets, so that it fits on a page (a display cannot break).
MATRIX_ROWS = 16


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

    Settings are SymPy's; ``mul_symbol="dot"`` and ``order="none"`` suit worked numbers.
    """

    printmethod = "_symbackprop_latex"
    _default_settings: ClassVar[dict[str, Any]] = {
        **LatexPrinter._default_settings,
        "mat_str": "bmatrix",
        "mat_delim": "",
        "fold_derivatives": False,
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
        if _is_tall(inner):
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

    def _print_Function(self, expr: Function, exp: Any = None) -> str:
        """Undefined functions with long names, such as ``softmax``, print upright."""
        if isinstance(expr, AppliedUndef) and len(type(expr).__name__) > 1:
            name = rf"\operatorname{{{type(expr).__name__}}}"
            return self.call(name if exp is None else f"{name}^{{{exp}}}", expr.args)
        return super()._print_Function(expr, exp)

    # -- calculus and sums

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

    def _print_Add(self, expr: Add, order: str | None = None) -> str:
        """Terms in the printer's order, but starting with a positive term where there is one."""
        terms = list(self._as_ordered_terms(expr, order=order))
        if _negative(terms[0]):
            positive = next((t for t in terms if not _negative(t)), None)
            if positive is not None:
                terms.remove(positive)
                terms.insert(0, positive)
        tex = ""
        for i, term in enumerate(terms):
            if i and _negative(term):
                tex += " - "
                term = _negate(term)
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


def _negative(term: Expr) -> bool:
    """Whether a term of a sum is printed with a leading minus (also for unevaluated products).

    A sum is never negative as a whole: it is bracketed, not pulled apart.
    """
    if term.is_Add:
        return False
    if term.could_extract_minus_sign():
        return True
    return bool(term.is_Mul and term.args and _negative(term.args[0]))


def _negate(term: Expr) -> Expr:
    """``-term``, keeping an unevaluated product unevaluated."""
    if term.is_Mul and not term.could_extract_minus_sign() and _negative(term.args[0]):
        first = _negate(term.args[0])
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


# ----------------------------------------------------------------------------- widths

_TOKEN = re.compile(r"\\[A-Za-z]+\*?|\\.|[^\s]|\s+")
_WIDE = frozenset("MWmw")
_NARROW = frozenset("ijlt.,;:'!|")
_BINARY = frozenset({"+", "-", r"\cdot", r"\times", r"\odot", r"\pm", r"\mp", r"\circ"})
_RELATIONS = frozenset(
    {"=", "<", ">", r"\approx", r"\in", r"\le", r"\leq", r"\ge", r"\geq", r"\ne", r"\neq"}
    | {r"\to", r"\mapsto", r"\equiv", r"\sim", r"\coloneqq"}
)
_SPACES = {
    r"\quad": 1.0,
    r"\qquad": 2.0,
    r"\,": 0.167,
    r"\:": 0.222,
    r"\;": 0.278,
    r"\!": -0.167,
    r"\ ": 0.333,
}
_NAMED_WIDTHS = {
    r"\log": 1.35,
    r"\exp": 1.6,
    r"\tanh": 2.0,
    r"\sum": 1.45,
    r"\partial": 0.6,
    r"\cdots": 1.35,
    r"\ldots": 1.2,
    r"\dots": 1.2,
    r"\vdots": 0.5,
    r"\ddots": 1.2,
    r"\top": 0.8,
}
_DELIMITER_SIZES = {
    r"\left": 0.45,
    r"\right": 0.45,
    r"\bigl": 0.45,
    r"\bigr": 0.45,
    r"\Bigl": 0.55,
    r"\Bigr": 0.55,
    r"\biggl": 0.6,
    r"\biggr": 0.6,
    r"\Biggl": 0.65,
    r"\Biggr": 0.65,
}
_ONE_ARGUMENT = frozenset(
    {r"\hat", r"\bar", r"\tilde", r"\mathbf", r"\mathbb", r"\mathrm", r"\mathit", r"\boldsymbol"}
)
_TEXT = frozenset({r"\text", r"\operatorname", r"\textrm", r"\mathrm"})
_SCRIPT = 0.7


class _Scanner:
    """A cursor over LaTeX tokens for :func:`estimate_width`."""

    def __init__(self, tex: str) -> None:
        self.tokens = [t for t in _TOKEN.findall(tex) if not t.isspace()]
        self.pos = 0

    def next(self) -> str | None:
        if self.pos >= len(self.tokens):
            return None
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def group_text(self) -> str:
        """The raw text of the next argument (a braced group or one token)."""
        token = self.next()
        if token != "{":
            return token or ""
        depth, parts = 1, []
        while (token := self.next()) is not None:
            depth += {"{": 1, "}": -1}.get(token, 0)
            if depth == 0:
                break
            parts.append(token)
        return " ".join(parts)


@lru_cache(maxsize=65536)
def estimate_width(tex: str, scale: float = 1.0) -> float:
    """Estimate the typeset width of inline LaTeX math, in em of the body font.

    Deliberately generous: letters are taken as wide as their widest common cases, and binary
    operators and relations get TeX's spacing.

    Args:
        tex: Math-mode LaTeX, without ``$``.
        scale: 1 for text and display style, 0.7 in sub- and superscripts.

    Returns:
        The estimated width in em.

    Example:
        >>> round(estimate_width(r"\\hat{y}_{1} - y_{1}"), 2)
        3.08
    """
    return _width(_Scanner(tex), scale, stop=None)


def _width(scanner: _Scanner, scale: float, stop: str | None) -> float:
    total = 0.0
    previous: str | None = None  # the previous token, to tell unary from binary signs
    script = 0.0  # width of the last script, to overlap a following sub/superscript
    while (token := scanner.next()) is not None:
        if token == stop:
            break
        if token in ("^", "_"):
            argument = _argument(scanner, scale * _SCRIPT)
            total += max(0.0, argument - script) if previous in ("^", "_") else argument
            script = argument if previous not in ("^", "_") else max(script, argument)
            previous = token
            continue
        total += _token_width(token, scanner, scale, previous)
        previous, script = token, 0.0
    return total


def _argument(scanner: _Scanner, scale: float) -> float:
    """Width of the next argument: a braced group or a single token."""
    if scanner.peek() == "{":
        scanner.next()
        return _width(scanner, scale, stop="}")
    token = scanner.next()
    return _token_width(token, scanner, scale, None) if token else 0.0


def _token_width(token: str, scanner: _Scanner, scale: float, previous: str | None) -> float:
    if token == "{":
        return _width(scanner, scale, stop="}")
    if token in _BINARY:
        unary = previous is None or previous in _BINARY | _RELATIONS | {"(", "[", "{", "&"}
        spaced = scale == 1.0 and not unary
        return 0.78 * scale + (0.44 if spaced else 0.0)
    if token in _RELATIONS:
        return 0.78 * scale + (0.56 if scale == 1.0 else 0.0)
    if token in _SPACES:
        return _SPACES[token]
    if token in _DELIMITER_SIZES:
        scanner.next()  # the delimiter itself
        return _DELIMITER_SIZES[token] * scale
    if token == r"\frac" or token == r"\dfrac":
        return max(_argument(scanner, scale), _argument(scanner, scale)) + 0.25 * scale
    if token == r"\tfrac":
        inner = scale * _SCRIPT
        return max(_argument(scanner, inner), _argument(scanner, inner)) + 0.25 * scale
    if token in _TEXT:
        text = scanner.group_text()
        return (0.5 * len(re.sub(r"\\.|[{}\s]", "", text)) + 0.1) * scale + 0.17
    if token in _ONE_ARGUMENT:
        return max(_argument(scanner, scale), 0.6 * scale)
    if token == r"\begin":
        environment = scanner.group_text()
        return _environment_width(scanner, environment, scale)
    if token in _NAMED_WIDTHS:
        return _NAMED_WIDTHS[token] * scale
    if token.startswith("\\"):
        return 0.65 * scale  # Greek letters and other symbols
    if token in "([])":
        return 0.4 * scale
    if token.isdigit():
        return 0.5 * scale
    if token in _WIDE:
        return 1.0 * scale
    if token in _NARROW:
        return 0.32 * scale + (0.17 if token in ",;" and scale == 1.0 else 0.0)
    if token.isupper():
        return 0.82 * scale
    return 0.56 * scale


def _environment_width(scanner: _Scanner, environment: str, scale: float) -> float:
    """Width of a ``bmatrix``/``cases``/... body up to its ``\\end``: columns plus gaps."""
    rows: list[list[float]] = [[]]
    while True:
        cell_tokens: list[str] = []
        depth = 0
        while (token := scanner.next()) is not None:
            if token == r"\begin":
                depth += 1
            elif token == r"\end":
                if depth == 0:
                    scanner.group_text()
                    break
                depth -= 1
            elif depth == 0 and token in ("&", r"\\"):
                break
            cell_tokens.append(token)
        rows[-1].append(_width(_Scanner(" ".join(cell_tokens)), scale, stop=None))
        if token == r"\\":
            rows.append([])
        elif token != "&":
            break
    columns = max(len(row) for row in rows)
    widths = [max((row[c] for row in rows if c < len(row)), default=0.0) for c in range(columns)]
    fences = {"bmatrix": 1.0, "pmatrix": 1.0, "cases": 0.9, "aligned": 0.0}.get(environment, 0.8)
    return sum(widths) + 0.95 * (columns - 1) + fences * scale + 0.35


# ----------------------------------------------------------------------------- line breaking


@dataclass(frozen=True)
class _Piece:
    """Unbreakable LaTeX with its width; ``height`` counts the bracket levels inside it."""

    tex: str
    width: float
    height: int = 0


@dataclass(frozen=True)
class _Break:
    """A place where a line may end: ``joiner`` if it does not, ``lead`` starts the next line.

    ``depth`` counts the brackets around it; ``penalty`` makes it a worse place to break
    (between factors, rather than before a ``+``).
    """

    depth: int
    joiner: str = " "
    lead: str = "{}"
    penalty: int = 0


_Item = _Piece | _Break

_BINARY_WIDTH = 1.22  # a binary operator with its spacing, as estimate_width counts it
_OPEN_SIZES = ("", r"\bigl", r"\Bigl", r"\biggl", r"\Biggl")
_CLOSE_SIZES = ("", r"\bigr", r"\Bigr", r"\biggr", r"\Biggr")


def _is_tall(tex: str) -> bool:
    """Whether printed math contains something taller than a line (fraction, matrix, sum)."""
    return any(mark in tex for mark in (r"\frac", r"\begin", r"\sum", r"\left"))


def _height(tex: str) -> int:
    """Bracket levels an atomic piece needs around it: 2 for tall content, 1 for brackets."""
    if _is_tall(tex):
        return 2
    return 1 if any(mark in tex for mark in "([") else 0


class _Breaker:
    """Cuts an expression into pieces and break points (see :func:`aligned`)."""

    def __init__(self, printer: DerivationPrinter, atom_width: float) -> None:
        self.printer = printer
        self.atom_width = atom_width

    def items(self, expr: Expr, depth: int = 0) -> list[_Item]:
        tex = self.printer._print(expr)
        width = estimate_width(tex)
        if width <= self.atom_width or expr.is_Atom:
            return [_Piece(tex, width, _height(tex))]
        if expr.is_Add:
            return self.sum(expr, depth)
        if expr.is_Mul:
            return self.product(expr, depth)
        if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
            power = self.piece(f"^{{{self.printer._print(expr.exp)}}}", scale=_SCRIPT)
            return [*self.bracketed(self.items(expr.base, depth + 1)), power]
        if isinstance(expr, Function) and not expr.is_Derivative:
            return self.function(expr, depth)
        return [_Piece(tex, width, _height(tex))]

    def piece(self, tex: str, scale: float = 1.0) -> _Piece:
        return _Piece(tex, estimate_width(tex, scale), _height(tex))

    def sum(self, expr: Add, depth: int) -> list[_Item]:
        printer = self.printer
        terms = list(printer._as_ordered_terms(expr, order=printer.order))
        if _negative(terms[0]):
            positive = next((t for t in terms if not _negative(t)), None)
            if positive is not None:
                terms.remove(positive)
                terms.insert(0, positive)
        items: list[_Item] = []
        for i, term in enumerate(terms):
            if i:
                items.append(_Break(depth))
            if _negative(term):
                items.append(_Piece("- ", _BINARY_WIDTH) if i else self.piece("-"))
                term = _negate(term)
            elif i:
                items.append(_Piece("+ ", _BINARY_WIDTH))
            term_items = self.items(term, depth + (1 if term.is_Add else 0))
            items += self.bracketed(term_items) if term.is_Add else term_items
        return items

    def product(self, expr: Mul, depth: int) -> list[_Item]:
        """Factors with break points between them; a long denominator becomes ``/ (...)``."""
        items: list[_Item] = []
        if _negative(expr):
            items.append(self.piece("-"))
            expr = _negate(expr)
            if not expr.is_Mul:
                return items + self.items(expr, depth)
        numerator, denominator = fraction(expr, exact=True)
        factors = (
            list(numerator.args)
            if self.printer.order == "none" and numerator.is_Mul
            else list(numerator.as_ordered_factors())
        )
        long_denominator = False
        if denominator != 1:
            den_tex = self.printer._print(denominator)
            long_denominator = estimate_width(den_tex) > self.atom_width
            if not long_denominator:
                one = factors.pop(0) if factors and factors[0].is_Number else S.One
                items.append(self.piece(rf"\frac{{{self.printer._print(one)}}}{{{den_tex}}}"))
        numerator_items = self.factors(factors, depth, first=len(items) <= 1)
        if long_denominator and len(factors) > 1:
            numerator_items = self.bracketed(numerator_items)
        items += numerator_items
        if long_denominator:
            items += [_Break(depth, penalty=-2), self.piece("/ ")]
            items += self.bracketed(self.items(denominator, depth + 1))
        return items

    def factors(self, factors: list[Expr], depth: int, first: bool) -> list[_Item]:
        """Factors joined by the printer's multiplication sign, with break points between."""
        items: list[_Item] = []
        joiner = self.printer._settings["mul_symbol_latex"] or " "
        for factor in factors:
            if factor == 1 and len(factors) > 1:
                continue
            if not first and _span(items) > 3.0:  # keep a short coefficient with its factor
                items.append(_Break(depth, joiner=joiner, lead=r"{} \cdot ", penalty=2))
            elif not first:
                items.append(_Piece(joiner, estimate_width(joiner)))
            factor_items = self.items(factor, depth + 1)
            needs = self.printer._needs_mul_brackets(factor, first=first)
            items += self.bracketed(factor_items) if needs else factor_items
            first = False
        return items

    def function(self, expr: Function, depth: int) -> list[_Item]:
        name = self.printer.function_name(type(expr))
        inner: list[_Item] = []
        for i, arg in enumerate(expr.args):
            if i:
                inner += [self.piece(";"), _Break(depth + 1, lead="", penalty=1)]
            inner += self.items(arg, depth + 1)
        return [self.piece(name), *self.bracketed(inner)]

    def bracketed(self, items: list[_Item]) -> list[_Item]:
        """``items`` in brackets sized by the bracket levels inside them."""
        height = 1 + max((item.height for item in items if isinstance(item, _Piece)), default=0)
        level = min(height - 1, len(_OPEN_SIZES) - 1)
        opening = _Piece(_OPEN_SIZES[level] + "(", 0.4 + 0.05 * level, height)
        closing = _Piece(_CLOSE_SIZES[level] + ")", 0.4 + 0.05 * level, height)
        return [opening, *items, closing]


def _span(items: Sequence[_Item]) -> float:
    """The width of ``items`` since the last break point."""
    width = 0.0
    for item in reversed(items):
        if isinstance(item, _Break):
            break
        width += item.width
    return width


def _join(items: Sequence[_Item]) -> str:
    tex = ""
    for item in items:
        tex += item.tex if isinstance(item, _Piece) else item.joiner
    return tex


def break_lines(
    expr: Expr, first: float, rest: float, printer_: DerivationPrinter | None = None
) -> list[str]:
    """Print ``expr`` on as few lines as fit: ``first`` em on the first line, ``rest`` after.

    Continuation lines start with their operator (``{} + ...`` or ``{} \\cdot ...``). A piece
    wider than a whole line (a long fraction) is kept whole.

    Returns:
        The lines of LaTeX, the first without a lead.
    """
    chosen = printer_ or printer()
    tex = chosen.doprint(expr)
    if estimate_width(tex) <= first:
        return [tex]
    items = _Breaker(chosen, atom_width=min(first, rest) / 3).items(expr)
    return _best_lines(items, first, rest)


def _best_lines(items: list[_Item], first: float, rest: float) -> list[str]:
    """Choose break points by dynamic programming: few lines, shallow breaks, even fill."""
    breaks = [i for i, item in enumerate(items) if isinstance(item, _Break)]
    starts = [0, *[i + 1 for i in breaks]]
    ends = [*breaks, len(items)]
    count = len(starts)
    widths = [item.width if isinstance(item, _Piece) else 0.0 for item in items]
    prefix = [0.0]
    for i, item in enumerate(items):
        joiner = estimate_width(item.joiner) if isinstance(item, _Break) else widths[i]
        prefix.append(prefix[-1] + joiner)
    infinity = float("inf")
    best = [infinity] * (count + 1)
    choice = [0] * (count + 1)
    best[0] = 0.0
    for start in range(count):
        if best[start] == infinity:
            continue
        lead = 0.0 if start == 0 else estimate_width(_lead(items, starts[start]))
        available = first if start == 0 else rest
        for end in range(start, count):
            width = lead + prefix[ends[end]] - prefix[starts[start]]
            if width > available and end > start:
                break
            last = end == count - 1
            cost = 1000.0 + (0.0 if last else ((available - width) / available) ** 2 * 100)
            if width > available:
                cost += 100000.0
            if not last:
                cost += 60.0 * _break_depth(items, ends[end])
            if best[start] + cost < best[end + 1]:
                best[end + 1] = best[start] + cost
                choice[end + 1] = start
    lines: list[str] = []
    end = count
    while end > 0:
        start = choice[end]
        body = _join(items[starts[start] : ends[end - 1]])
        lines.append((_lead(items, starts[start]) if start else "") + body)
        end = start
    return lines[::-1]


def _lead(items: Sequence[_Item], start: int) -> str:
    previous = items[start - 1]
    return previous.lead if isinstance(previous, _Break) else ""


def _break_depth(items: Sequence[_Item], index: int) -> int:
    item = items[index]
    return item.depth + item.penalty if isinstance(item, _Break) else 0


# ----------------------------------------------------------------------------- aligned rows


@dataclass(frozen=True)
class Segment:
    """One relation of a row: ``= rhs``. ``rhs`` is an expression (broken when too long) or
    printed LaTeX (kept whole). ``numeric`` prints worked numbers (``\\cdot`` products, terms in
    the order built), ``ordered`` keeps the order of an unevaluated expression. ``newline``
    starts it on a row of its own; ``note`` is a short remark set at the right, e.g. ``(1)``.
    """

    relation: str
    rhs: Any
    numeric: bool = False
    ordered: bool = False
    newline: bool = False
    note: str = ""


@dataclass(frozen=True)
class Row:
    """``lhs`` followed by one or more segments, in an ``aligned`` block."""

    lhs: str
    segments: tuple[Segment, ...] = field(default_factory=tuple)


def aligned(rows: Iterable[Row], width: float = LINE_WIDTH) -> str:
    """An ``aligned`` environment for ``rows``, broken to fit ``width`` em.

    The relations line up. Segments share a line while they fit; a segment that does not fit
    starts a new line (``&= ...``), and an expression too long for a line of its own is broken
    across lines indented by a quad.

    Example:
        >>> from sympy import Symbol
        >>> print(aligned([Row("a", (Segment("=", Symbol("b")),))]))
        \\begin{aligned}
        a &= b
        \\end{aligned}
    """
    return aligned_environment([line for lines in aligned_lines(rows, width) for line in lines])


def aligned_lines(rows: Iterable[Row], width: float = LINE_WIDTH) -> list[list[str]]:
    """The lines of an ``aligned`` environment, grouped by row (see :func:`aligned`)."""
    rows = list(rows)
    lhs_width = max((estimate_width(row.lhs) for row in rows), default=0.0)
    notes = [s.note for row in rows for s in row.segments if s.note]
    note_width = max((estimate_width(rf"\text{{{n}}}") + 2.0 for n in notes), default=0.0)
    available = width - lhs_width - note_width
    return [_row_lines(row, available) for row in rows]


def aligned_environment(lines: Sequence[str]) -> str:
    """``\\begin{aligned}`` ... ``\\end{aligned}`` around lines made by :func:`aligned_lines`."""
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def line_height(line: str) -> float:
    """A rough height of one display line, in text lines: fractions and matrices are taller."""
    rows = line.count("\\\\") + 1 if r"\begin{bmatrix}" in line or r"\begin{cases}" in line else 1
    return max(rows * 1.3, 2.2 if r"\frac" in line or r"\sum" in line else 1.2)


@dataclass(frozen=True)
class MatrixBlock:
    """Part of a matrix: 1-based inclusive ``rows`` and ``columns`` ranges, and its LaTeX."""

    rows: tuple[int, int]
    columns: tuple[int, int]
    latex: str


def _even_ranges(count: int, limit: int) -> list[tuple[int, int]]:
    """``range(count)`` in as few 0-based ``(start, stop)`` parts of at most ``limit`` as
    possible, of nearly equal size (20 rows by 16 are 10 + 10, not 16 + 4)."""
    parts = -(-count // limit)
    size = -(-count // parts)
    return [(start, min(start + size, count)) for start in range(0, count, size)]


def _column_ranges(matrix: Any, width: float) -> list[tuple[int, int]]:
    """0-based ``(start, stop)`` runs of whole columns, each at most ``width`` em wide and at
    most :data:`MATRIX_COLUMNS` columns."""
    columns = [
        max(estimate_width(latex(matrix[i, j])) for i in range(matrix.rows))
        for j in range(matrix.cols)
    ]
    ranges, start, used = [], 0, 1.4
    for j, column in enumerate(columns):
        if j > start and (used + column > width or j - start == MATRIX_COLUMNS):
            ranges.append((start, j))
            start, used = j, 1.4
        used += column + 1.0
    return [*ranges, (start, matrix.cols)]


def matrix_blocks(matrix: Any, width: float) -> list[MatrixBlock]:
    """A matrix as ``bmatrix`` blocks that fit the line and the page, row by row of blocks.

    Columns are split by ``width`` (em) and :data:`MATRIX_COLUMNS`, rows by
    :data:`MATRIX_ROWS`.
    """
    return [
        MatrixBlock((r0 + 1, r1), (c0 + 1, c1), latex(matrix[r0:r1, c0:c1]))
        for r0, r1 in _even_ranges(matrix.rows, MATRIX_ROWS)
        for c0, c1 in _column_ranges(matrix, width)
    ]


def _row_lines(row: Row, available: float) -> list[str]:
    symbolic, ordered = printer(), printer(order="none")
    numeric = printer(mul_symbol="dot", order="none")
    lines: list[str] = []
    current, used = f"{row.lhs} &" if row.lhs else "&", 0.0
    note = ""
    for segment in row.segments:
        chosen = numeric if segment.numeric else ordered if segment.ordered else symbolic
        relation = f"{segment.relation} "
        relation_width = estimate_width(f"{segment.relation} x") - estimate_width("x")
        rhs_tex = segment.rhs if isinstance(segment.rhs, str) else chosen.doprint(segment.rhs)
        width = relation_width + estimate_width(rhs_tex)
        fresh = used == 0.0
        if not fresh and (segment.newline or used + width > available):
            lines.append(current + _note(note))
            current, used, note = "&", 0.0, ""
            fresh = True
        if used + width <= available or isinstance(segment.rhs, str):
            current += ("" if fresh else " ") + relation + rhs_tex
            used += width
        else:
            budget = available - used - relation_width
            broken = break_lines(segment.rhs, budget, available - 1.0, chosen)
            current += ("" if fresh else " ") + relation + broken[0]
            for line in broken[1:]:
                lines.append(current + _note(note))
                current, note = rf"&\quad {line}", ""
            used = 1.0 + estimate_width(broken[-1]) if len(broken) > 1 else used + width
        note = note or segment.note
    lines.append(current + _note(note))
    return lines


def _note(note: str) -> str:
    return rf" && \text{{{latex_text(note)}}}" if note else ""


# ----------------------------------------------------------------------------- the format

PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[margin=2.5cm]{geometry}
\usepackage{amsmath}
\usepackage{amssymb}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6\baselineskip}
\setlength{\emergencystretch}{3em}
"""


@register("latex")
def to_latex(
    derivation: Derivation,
    *,
    sections: Sequence[str] | None = None,
    expanded: bool = True,
    standalone: bool = False,
) -> str:
    """Render ``derivation`` as LaTeX.

    Args:
        derivation: What to render.
        sections: Section names (:data:`~symbackprop.render.blocks.SECTIONS`); default all.
        expanded: Include the expanded forms of the gradients.
        standalone: A complete document for pdflatex instead of a fragment. The fragment needs
            ``amsmath`` and ``amssymb`` only.

    Returns:
        The LaTeX source, ending in a newline.
    """
    from . import blocks as content

    parts = []
    for block in content.blocks(derivation, sections=content.resolve(sections), expanded=expanded):
        parts.append(_block_latex(block))
    body = "\n\n".join(parts) + "\n"
    if not standalone:
        return body
    title = latex_text(content.title(derivation))
    return (
        PREAMBLE
        + f"\\title{{{title}}}\n\\author{{symbackprop {__version__}}}\n\\date{{}}\n\n"
        + "\\begin{document}\n\\maketitle\n\n"
        + body
        + "\n\\end{document}\n"
    )


def _block_latex(block: Any) -> str:
    from .blocks import Equation, Heading, Paragraph

    if isinstance(block, Heading):
        command = {1: "section", 2: "subsection"}.get(block.level, "subsubsection")
        return f"\\{command}*{{{latex_text(block.text)}}}"
    if isinstance(block, Paragraph):
        return "".join(
            latex_text(text) if kind == "text" else f"${text}$" for kind, text in block.parts
        )
    if isinstance(block, Equation):
        return f"\\[\n{block.latex}\n\\]"
    raise TypeError(f"not a block: {block!r}")
