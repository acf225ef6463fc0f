"""LaTeX to MathML Core, built on latex2mathml with its known defects repaired.

latex2mathml 3.81 converts most of our LaTeX, but its output is not MathML Core, some of it is
not even XML, and Chromium renders parts of it unlike TeX. :func:`latex_to_mathml` checks the
source, converts with latex2mathml, then repairs the tree:

* ``aligned``/``split``/``gathered`` are split into cells here and laid out as an ``<mtable>``
  (latex2mathml emits a literal ``&`` on one line); Chromium ignores ``columnalign``, so cells
  are aligned with CSS ``justify-items``/``text-align``;
* operator names (``\\operatorname``, ``\\lim``, ``\\log``) become ``<mi mathvariant="normal">``
  with TeX's thin spaces; primes sit at base level; ``\\partial`` and ``\\top`` are ``<mi>``;
* ``mathvariant`` styles (``\\mathbb{1}``, ``\\mathbf{1}``) become Unicode math alphanumerics;
* ``\\boxed`` becomes a CSS border; negative and named spaces become CSS lengths;
* TeX spacing Chromium lacks: unary signs, no operator spacing in scripts, sums with limits
  below in display style, matrix column gaps, non-stretchy ``\\left( \\right)`` around flat
  content (a stretchy ``<mo>`` is as wide as its widest glyph variant);
* anything latex2mathml accepts silently (unknown commands, stray ``&``, missing arguments) or
  rejects with an empty message raises :class:`MathMLError` naming the equation.

Every result is checked with :func:`validate_core` before it is returned.
"""

import re
import xml.etree.ElementTree as ET
from functools import lru_cache

from latex2mathml.converter import convert as _latex2mathml

from .mathml_core import (
    ALIGN_CSS,
    ELEMENT_ATTRIBUTES,
    GLOBAL_ATTRIBUTES,
    MATHML_CORE_ELEMENTS,
    MATHML_NAMESPACE,
    TOKENS,
    MathMLError,
    Rejected,
    structure_problem,
    validate_core,
    wrap,
)
from .mathml_repair import repair

__all__ = [
    "ELEMENT_ATTRIBUTES",
    "GLOBAL_ATTRIBUTES",
    "MATHML_CORE_ELEMENTS",
    "MATHML_NAMESPACE",
    "MathMLError",
    "checked",
    "latex_to_mathml",
    "unchecked_mathml",
    "validate_core",
]

_ALIGNMENTS = frozenset({"aligned", "split", "gathered"})
_ENVIRONMENTS = _ALIGNMENTS | frozenset(
    [
        "matrix",
        "pmatrix",
        "bmatrix",
        "Bmatrix",
        "vmatrix",
        "Vmatrix",
        "smallmatrix",
        "cases",
        "array",
    ]
)


def latex_to_mathml(latex: str, *, display: bool = True, label: str = "equation") -> str:
    """Convert one LaTeX equation to a MathML Core ``<math>`` element.

    Args:
        latex: The equation, without ``$`` delimiters. A top-level ``aligned``, ``split`` or
            ``gathered`` environment becomes a table whose relations line up.
        display: ``display="block"`` if true, ``display="inline"`` otherwise.
        label: Names the equation in error messages.

    Returns:
        The ``<math xmlns=... display=...>`` element as a string; the same input always gives
        the same bytes.

    Raises:
        MathMLError: If the LaTeX is invalid, uses something latex2mathml does not know, or
            cannot be expressed in MathML Core. The message starts with
            ``cannot convert equation '<label>' to MathML:``.

    Example:
        >>> latex_to_mathml(r"\\operatorname{ReLU}(z)", display=False)  # doctest: +ELLIPSIS
        '<math ... display="inline"><mrow><mi mathvariant="normal">ReLU</mi><mo ...>(</mo>...'
    """
    return checked(unchecked_mathml(latex, display=display, label=label), label)


def unchecked_mathml(latex: str, *, display: bool = True, label: str = "equation") -> str:
    """:func:`latex_to_mathml` without the final :func:`validate_core`, for a caller that
    changes the result further and then validates it once with :func:`checked`."""
    try:
        root = ET.Element("math", {"xmlns": MATHML_NAMESPACE})
        root.set("display", "block" if display else "inline")
        root.append(_convert_equation(latex))
        repair(root)
    except Rejected as error:
        raise MathMLError(f"cannot convert equation '{label}' to MathML: {error}") from None
    return ET.tostring(root, encoding="unicode", short_empty_elements=False)


def checked(mathml: str, label: str) -> str:
    """``mathml`` once :func:`validate_core` accepts it; the error names ``label``."""
    try:
        validate_core(mathml)
    except MathMLError as error:
        raise MathMLError(f"cannot convert equation '{label}' to MathML: {error}") from None
    return mathml


# --- Scanning the LaTeX source --------------------------------------------------------------

_TOKEN = re.compile(r"\\(?:begin|end)\s*\{[^{}]*\}|\\[A-Za-z]+|\\.|\\$|.", re.DOTALL)
_ENVIRONMENT = re.compile(r"\\(begin|end)\s*\{([^{}]*)\}")
_ROW_BREAK = "\\\\"
_ROW_SPACING = re.compile(r"\s*\[[^\]]*\]")


def _check_source(latex: str) -> None:
    """Reject unbalanced braces/environments, unknown environments, stray ``&`` and ``\\\\``."""
    groups: list[str] = []  # "{" or an environment name, innermost last
    for match in _TOKEN.finditer(latex):
        token = match.group()
        if token == "\\":
            raise Rejected("the equation ends with a lone backslash")
        if token in ("{", "}") or _ENVIRONMENT.fullmatch(token):
            _track_group(groups, token)
        elif token == "&" and not groups:
            raise Rejected("'&' outside an aligned or matrix environment")
        elif token == "&" and groups[-1] == "{":
            raise Rejected("'&' inside a brace group (missing '}'?)")
        elif token == _ROW_BREAK and not groups:
            raise Rejected("line break '\\\\' outside an aligned or matrix environment")
    if groups:
        opened = groups[-1]
        raise Rejected("missing '}'" if opened == "{" else f"\\begin{{{opened}}} has no \\end")


def _track_group(groups: list[str], token: str) -> None:
    """Open or close a brace group or environment, rejecting mismatches."""
    environment = _ENVIRONMENT.fullmatch(token)
    if token == "{":
        groups.append("{")
    elif token == "}":
        if not groups or groups[-1] != "{":
            raise Rejected("unbalanced '}'")
        groups.pop()
    elif environment and environment[1] == "begin":
        if environment[2] not in _ENVIRONMENTS:
            expected = ", ".join(sorted(_ENVIRONMENTS))
            raise Rejected(f"unknown environment {environment[2]!r}; expected one of: {expected}")
        groups.append(environment[2])
    elif environment and (not groups or groups.pop() != environment[2]):
        raise Rejected(f"\\end{{{environment[2]}}} does not close the innermost group")


def _depth_change(token: str) -> int:
    """+1 for a token opening a group or environment, -1 for one closing it, else 0."""
    if token == "{" or token.startswith("\\begin"):
        return 1
    if token == "}" or token.startswith("\\end"):
        return -1
    return 0


def _outer_alignment(latex: str) -> tuple[str, str] | None:
    """Return ``(environment, body)`` if an alignment environment is the whole equation.

    Example: ``\\begin{aligned} a &= b \\end{aligned}`` gives ``("aligned", " a &= b ")``.
    """
    text = latex.strip()
    opening = _ENVIRONMENT.match(text)
    if not opening or opening[1] != "begin" or opening[2] not in _ALIGNMENTS:
        return None
    depth = 0
    for match in _TOKEN.finditer(text):
        depth += _depth_change(match.group())
        if depth == 0:
            whole = match.end() == len(text)
            return (opening[2], text[opening.end() : match.start()]) if whole else None
    return None


def _split_alignment(body: str) -> list[list[str]]:
    """Split an alignment body into rows of cells at top-level ``\\\\`` and ``&``.

    Braces and nested environments (a ``bmatrix`` in a cell) keep their own ``&`` and ``\\\\``.
    A trailing ``\\\\`` does not start an empty row, as in TeX.

    Example: ``a &= b \\\\ &= c`` gives ``[["a ", "= b "], [" ", "= c"]]``.
    """
    rows: list[list[str]] = [[]]
    depth, start = 0, 0
    for match in _TOKEN.finditer(body):
        token = match.group()
        if depth == 0 and token in ("&", _ROW_BREAK):
            rows[-1].append(body[start : match.start()])
            start = match.end()
            if token == _ROW_BREAK:
                rows.append([])
                spacing = _ROW_SPACING.match(body, start)
                start = spacing.end() if spacing else start
        depth += _depth_change(token)
    rows[-1].append(body[start:])
    if len(rows) > 1 and len(rows[-1]) == 1 and not rows[-1][0].strip():
        rows.pop()
    return rows


# --- Conversion -------------------------------------------------------------------------------

_LATEX2MATHML_ERRORS = {
    "NumeratorNotFoundError": "\\frac has no numerator",
    "DenominatorNotFoundError": "\\frac has no denominator",
    "ExtraLeftOrMissingRightError": "\\left and \\right do not pair up",
    "MissingSuperScriptOrSubscriptError": "'^' or '_' has no argument",
    "DoubleSubscriptsError": "double subscript (use braces, e.g. x_{12})",
    "DoubleSuperscriptsError": "double superscript (use braces)",
    "NoAvailableTokensError": "unexpected end of input (a command is missing an argument)",
    "InvalidStyleForGenfracError": "invalid style argument for \\genfrac",
    "MissingEndError": "\\begin has no matching \\end",
    "InvalidAlignmentError": "invalid column alignment",
    "InvalidWidthError": "invalid width",
    "LimitsMustFollowMathOperatorError": "\\limits must follow a math operator",
    "StopIteration": "unexpected end of input (a command is missing an argument)",
}


_TEXT_COMMANDS = frozenset({"\\text", "\\textrm", "\\textit", "\\textbf", "\\mbox"})
_TEXT_ESCAPES = "{}&%_#$"
_HIDDEN = {f"\\{char}": chr(0xE000 + index) for index, char in enumerate(_TEXT_ESCAPES)}
_UNHIDE = str.maketrans({code: escape[1] for escape, code in _HIDDEN.items()})


def _hide_text_escapes(latex: str) -> str:
    """Replace ``\\{``, ``\\&`` ... inside ``\\text{...}`` by private-use characters.

    latex2mathml copies them verbatim, and ends the text at ``\\{``; :data:`_UNHIDE`
    restores them in the output.
    """
    pieces, depth, pending = [], 0, False
    for match in _TOKEN.finditer(latex):
        token = match.group()
        if depth:
            depth += {"{": 1, "}": -1}.get(token, 0)
            token = _HIDDEN.get(token, token)
        elif pending and token == "{":
            depth = 1
        pending = (pending and token.isspace()) or token in _TEXT_COMMANDS
        pieces.append(token)
    return "".join(pieces)


def _convert_equation(latex: str) -> ET.Element:
    """Convert a whole equation: an alignment table or one row of math."""
    if not latex.strip():
        raise Rejected("the equation is empty")
    _check_source(latex)
    alignment = _outer_alignment(latex)
    if alignment is None:
        return _convert_fragment(latex)
    environment, body = alignment
    return _alignment_table(environment, _split_alignment(body))


def _convert_fragment(latex: str) -> ET.Element:
    """Convert LaTeX without alignment environments to an ``<mrow>``; blank gives an empty one."""
    if re.search(r"\\begin\s*\{(?:aligned|split|gathered)\}", latex):
        raise Rejected("an aligned/split/gathered environment must be the whole equation")
    if "\\nolimits" in latex:
        raise Rejected("\\nolimits is not supported (latex2mathml ignores it)")
    if not latex.strip():
        return ET.Element("mrow")
    _check_source(latex)
    output = _converted(_hide_text_escapes(latex))
    try:
        math = ET.fromstring(output)
    except ET.ParseError as error:
        raise Rejected(f"latex2mathml produced malformed XML ({error})") from None
    for element in math.iter():
        element.tag = element.tag.rpartition("}")[2]
        element.text = element.text and element.text.translate(_UNHIDE)
    _reject_garbage(math)
    row = math[0]
    return row if row.tag == "mrow" else wrap(list(math))


def _describe_failure(error: Exception) -> str:
    """Describe a latex2mathml exception, whose message is often empty."""
    name = type(error).__name__
    message = str(error).strip()
    if message:
        return f"latex2mathml raised {name}: {message}"
    description = _LATEX2MATHML_ERRORS.get(name, "no further details")
    return f"{description} (latex2mathml raised {name} with an empty message)"


def _reject_garbage(math: ET.Element) -> None:
    """Reject what latex2mathml outputs for input it did not understand."""
    for element in math.iter():
        text = element.text or ""
        if element.tag == "merror":
            raise Rejected(f"latex2mathml produced <merror>: {''.join(element.itertext())}")
        if element.tag in TOKENS and text.startswith("\\"):
            command = re.match(r"\\(?:[A-Za-z]+|.?)", text)
            raise Rejected(f"unknown command '{command[0] if command else text}'")
        if element.tag in ("mi", "mn") and text in ("&", "{", "}"):
            raise Rejected(f"stray {text!r}")
        if element.tag == "mspace" and "linebreak" in element.attrib:
            raise Rejected("line break '\\\\' outside an aligned or matrix environment")
        if element.tag == "mo" and not text and "fence" not in element.attrib:
            raise Rejected("a command is missing its argument (latex2mathml produced <mo/>)")
        problem = structure_problem(element.tag, element)
        if problem:
            raise Rejected(f"a command is missing an argument ({problem})")


@lru_cache(maxsize=4096)
def _converted(latex: str) -> str:
    """latex2mathml's output for ``latex`` (a pure function: cells repeat across equations)."""
    try:
        return str(_latex2mathml(latex))
    except Exception as error:  # latex2mathml raises many types, often with empty messages
        raise Rejected(_describe_failure(error)) from None


# --- Alignment tables ---------------------------------------------------------------------

_NO_SIDE_PADDING = "padding-left: 0; padding-right: 0"
_PAIR_SEPARATION = "2em"


def _alignment_table(environment: str, rows: list[list[str]]) -> ET.Element:
    """Lay out split alignment rows as a display-style ``<mtable>``.

    ``aligned``/``split`` alternate right- and left-aligned columns with no gap between them,
    so each relation starts its left-aligned cell and all relations share one x position.
    """
    table = ET.Element("mtable", {"displaystyle": "true", "data-environment": environment})
    for row_index, cells in enumerate(rows):
        row = ET.SubElement(table, "mtr")
        for column, latex in enumerate(cells):
            cell = ET.SubElement(row, "mtd", {"style": _cell_style(environment, column)})
            cell.extend(list(_convert_cell(latex, row_index, column)))
    return table


def _cell_style(environment: str, column: int) -> str:
    """CSS for a cell of an alignment table."""
    if environment == "gathered":
        return f"{ALIGN_CSS['center']}; {_NO_SIDE_PADDING}"
    style = f"{ALIGN_CSS['left' if column % 2 else 'right']}; {_NO_SIDE_PADDING}"
    if column and column % 2 == 0:
        style = style.replace("padding-left: 0", f"padding-left: {_PAIR_SEPARATION}")
    return style


def _convert_cell(latex: str, row: int, column: int) -> ET.Element:
    """Convert one alignment cell, naming its position in errors."""
    try:
        return _convert_fragment(latex)
    except Rejected as error:
        raise Rejected(f"row {row + 1}, column {column + 1}: {error}") from None
