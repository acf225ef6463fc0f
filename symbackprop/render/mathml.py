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
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from functools import lru_cache

from latex2mathml.converter import convert as _latex2mathml

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

MATHML_NAMESPACE = "http://www.w3.org/1998/Math/MathML"


def _names(text: str) -> frozenset[str]:
    """The whitespace-separated names in ``text``."""
    return frozenset(text.split())


MATHML_CORE_ELEMENTS = _names(
    """math annotation annotation-xml maction merror mfrac mi mmultiscripts mn mo mover mpadded
    mphantom mprescripts mroot mrow ms mspace msqrt mstyle msub msubsup msup mtable mtd mtext mtr
    munder munderover semantics"""
)
"""The elements of MathML Core (https://w3c.github.io/mathml-core/)."""

GLOBAL_ATTRIBUTES = _names(
    """class dir displaystyle id mathbackground mathcolor mathsize mathvariant nonce scriptlevel
    style tabindex"""
)
"""Attributes allowed on every MathML Core element (plus ``data-*``)."""

ELEMENT_ATTRIBUTES: dict[str, frozenset[str]] = {
    "math": frozenset({"display"}),
    "mfrac": frozenset({"linethickness"}),
    "mo": _names(
        """form fence separator lspace rspace stretchy symmetric maxsize minsize largeop
        movablelimits"""
    ),
    "mover": frozenset({"accent"}),
    "munder": frozenset({"accentunder"}),
    "munderover": frozenset({"accent", "accentunder"}),
    "mpadded": frozenset({"width", "height", "depth", "lspace", "voffset"}),
    "mspace": frozenset({"width", "height", "depth"}),
    "mtd": frozenset({"columnspan", "rowspan"}),
    "maction": frozenset({"actiontype", "selection"}),
    "annotation": frozenset({"encoding"}),
    "annotation-xml": frozenset({"encoding"}),
}
"""Element-specific MathML Core attributes, on top of :data:`GLOBAL_ATTRIBUTES`."""

_ATTRIBUTE_VALUES: dict[tuple[str, str], frozenset[str]] = {
    ("math", "display"): frozenset({"block", "inline"}),
    ("mi", "mathvariant"): frozenset({"normal"}),
}
_TOKENS = frozenset({"mi", "mn", "mo", "ms", "mtext"})
_ARITY = {
    "mfrac": 2,
    "mroot": 2,
    "msub": 2,
    "msup": 2,
    "munder": 2,
    "mover": 2,
    "msubsup": 3,
    "munderover": 3,
}
_SCRIPTS = frozenset({"msub", "msup", "msubsup", "munder", "mover", "munderover"})
_ROW_LIKE = frozenset({"math", "mrow", "mtd", "mstyle", "msqrt", "mpadded", "mphantom"})
_ALIGNMENTS = frozenset({"aligned", "split", "gathered"})
_ENVIRONMENTS = _ALIGNMENTS | _names(
    "matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix cases array"
)
_OPERATOR_MARK = "data-symbackprop-operator"  # internal; removed before serialising
_THIN_SPACE = "0.1667em"


class MathMLError(ValueError):
    """LaTeX that cannot be turned into MathML Core, or MathML that is not Core."""


class _Rejected(Exception):
    """Why a piece of LaTeX cannot be converted; the public entry adds the equation label."""


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
        _repair(root)
    except _Rejected as error:
        raise MathMLError(f"cannot convert equation '{label}' to MathML: {error}") from None
    return ET.tostring(root, encoding="unicode", short_empty_elements=False)


def checked(mathml: str, label: str) -> str:
    """``mathml`` once :func:`validate_core` accepts it; the error names ``label``."""
    try:
        validate_core(mathml)
    except MathMLError as error:
        raise MathMLError(f"cannot convert equation '{label}' to MathML: {error}") from None
    return mathml


def validate_core(mathml: str) -> None:
    """Check that a ``<math>`` string is well-formed XML using only MathML Core.

    Checks element names, attribute names (and the values of ``display`` and ``mathvariant``),
    that token elements hold only text, and the child counts of fixed-arity elements. The
    content of ``<annotation-xml>`` is not checked.

    Args:
        mathml: One serialised ``<math>`` element in the MathML namespace.

    Raises:
        MathMLError: Naming the first problem found.

    Example:
        >>> validate_core('<math xmlns="http://www.w3.org/1998/Math/MathML"><mi>x</mi></math>')
        >>> validate_core('<math xmlns="http://www.w3.org/1998/Math/MathML"><mfenced/></math>')
        Traceback (most recent call last):
        ...
        symbackprop.render.mathml.MathMLError: not MathML Core: <mfenced> is not a Core element
    """
    try:
        root = ET.fromstring(mathml)
    except ET.ParseError as error:
        raise MathMLError(f"not well-formed XML: {error}") from None
    if root.tag != f"{{{MATHML_NAMESPACE}}}math":
        raise MathMLError(f"root element is {root.tag!r}, not <math> in the MathML namespace")
    for element in _core_elements(root):
        problem = _core_problem(element)
        if problem:
            raise MathMLError(f"not MathML Core: {problem}")


# --- Validation ---------------------------------------------------------------------------


def _core_elements(element: ET.Element) -> Iterator[ET.Element]:
    """Yield ``element`` and its descendants, skipping ``annotation-xml`` content."""
    yield element
    if element.tag != f"{{{MATHML_NAMESPACE}}}annotation-xml":
        for child in element:
            yield from _core_elements(child)


def _core_problem(element: ET.Element) -> str | None:
    """Return why a parsed (namespaced) element is not MathML Core, or None."""
    namespace, _, name = element.tag.rpartition("}")
    if namespace != "{" + MATHML_NAMESPACE or name not in MATHML_CORE_ELEMENTS:
        return f"<{name}> is not a Core element"
    for attribute, value in element.attrib.items():
        if not _attribute_allowed(name, attribute, value):
            return f"<{name}> has attribute {attribute}={value!r}"
    return _structure_problem(name, element)


def _attribute_allowed(tag: str, attribute: str, value: str) -> bool:
    """Whether MathML Core allows ``attribute=value`` on ``<tag>``."""
    if attribute.startswith("data-") and attribute != _OPERATOR_MARK:
        return True
    if attribute not in GLOBAL_ATTRIBUTES and attribute not in ELEMENT_ATTRIBUTES.get(tag, ()):
        return False
    if attribute == "mathvariant" and tag != "mi":
        return False
    allowed = _ATTRIBUTE_VALUES.get((tag, attribute))
    return allowed is None or value in allowed


def _structure_problem(tag: str, element: ET.Element) -> str | None:
    """Return why an element's children are malformed (token markup, arity), or None."""
    if tag in _TOKENS and len(element):
        return f"<{tag}> contains markup instead of text"
    arity = _ARITY.get(tag)
    if arity is not None and len(element) != arity:
        return f"<{tag}> has {len(element)} children instead of {arity}"
    return None


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
            raise _Rejected("the equation ends with a lone backslash")
        if token in ("{", "}") or _ENVIRONMENT.fullmatch(token):
            _track_group(groups, token)
        elif token == "&" and not groups:
            raise _Rejected("'&' outside an aligned or matrix environment")
        elif token == "&" and groups[-1] == "{":
            raise _Rejected("'&' inside a brace group (missing '}'?)")
        elif token == _ROW_BREAK and not groups:
            raise _Rejected("line break '\\\\' outside an aligned or matrix environment")
    if groups:
        opened = groups[-1]
        raise _Rejected("missing '}'" if opened == "{" else f"\\begin{{{opened}}} has no \\end")


def _track_group(groups: list[str], token: str) -> None:
    """Open or close a brace group or environment, rejecting mismatches."""
    environment = _ENVIRONMENT.fullmatch(token)
    if token == "{":
        groups.append("{")
    elif token == "}":
        if not groups or groups[-1] != "{":
            raise _Rejected("unbalanced '}'")
        groups.pop()
    elif environment and environment[1] == "begin":
        if environment[2] not in _ENVIRONMENTS:
            expected = ", ".join(sorted(_ENVIRONMENTS))
            raise _Rejected(f"unknown environment {environment[2]!r}; expected one of: {expected}")
        groups.append(environment[2])
    elif environment and (not groups or groups.pop() != environment[2]):
        raise _Rejected(f"\\end{{{environment[2]}}} does not close the innermost group")


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
        raise _Rejected("the equation is empty")
    _check_source(latex)
    alignment = _outer_alignment(latex)
    if alignment is None:
        return _convert_fragment(latex)
    environment, body = alignment
    return _alignment_table(environment, _split_alignment(body))


def _convert_fragment(latex: str) -> ET.Element:
    """Convert LaTeX without alignment environments to an ``<mrow>``; blank gives an empty one."""
    if re.search(r"\\begin\s*\{(?:aligned|split|gathered)\}", latex):
        raise _Rejected("an aligned/split/gathered environment must be the whole equation")
    if "\\nolimits" in latex:
        raise _Rejected("\\nolimits is not supported (latex2mathml ignores it)")
    if not latex.strip():
        return ET.Element("mrow")
    _check_source(latex)
    output = _converted(_hide_text_escapes(latex))
    try:
        math = ET.fromstring(output)
    except ET.ParseError as error:
        raise _Rejected(f"latex2mathml produced malformed XML ({error})") from None
    for element in math.iter():
        element.tag = element.tag.rpartition("}")[2]
        element.text = element.text and element.text.translate(_UNHIDE)
    _reject_garbage(math)
    row = math[0]
    return row if row.tag == "mrow" else _wrap(list(math))


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
            raise _Rejected(f"latex2mathml produced <merror>: {''.join(element.itertext())}")
        if element.tag in _TOKENS and text.startswith("\\"):
            command = re.match(r"\\(?:[A-Za-z]+|.?)", text)
            raise _Rejected(f"unknown command '{command[0] if command else text}'")
        if element.tag in ("mi", "mn") and text in ("&", "{", "}"):
            raise _Rejected(f"stray {text!r}")
        if element.tag == "mspace" and "linebreak" in element.attrib:
            raise _Rejected("line break '\\\\' outside an aligned or matrix environment")
        if element.tag == "mo" and not text and "fence" not in element.attrib:
            raise _Rejected("a command is missing its argument (latex2mathml produced <mo/>)")
        problem = _structure_problem(element.tag, element)
        if problem:
            raise _Rejected(f"a command is missing an argument ({problem})")


def _wrap(children: list[ET.Element], attributes: dict[str, str] | None = None) -> ET.Element:
    """Return a new ``<mrow>`` holding ``children``."""
    row = ET.Element("mrow", attributes or {})
    row.extend(children)
    return row


@lru_cache(maxsize=4096)
def _converted(latex: str) -> str:
    """latex2mathml's output for ``latex`` (a pure function: cells repeat across equations)."""
    try:
        return str(_latex2mathml(latex))
    except Exception as error:  # latex2mathml raises many types, often with empty messages
        raise _Rejected(_describe_failure(error)) from None


# --- Alignment tables ---------------------------------------------------------------------

# Chromium lays out the content of an <mtd> as one block-level anonymous <mrow>, so plain
# `text-align: right` does not move it; `justify-items` does (and `text-align` is kept for
# engines that lay the cell out inline). Chromium ignores the `columnalign` attribute.
_ALIGN_CSS = {
    "left": "justify-items: start; text-align: left",
    "right": "justify-items: end; text-align: right",
    "center": "justify-items: center; text-align: center",
}
_NO_SIDE_PADDING = "padding-left: 0; padding-right: 0"
_PAIR_SEPARATION = "2em"
_MATRIX_HALF_GAP = "0.5em"


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
        return f"{_ALIGN_CSS['center']}; {_NO_SIDE_PADDING}"
    style = f"{_ALIGN_CSS['left' if column % 2 else 'right']}; {_NO_SIDE_PADDING}"
    if column and column % 2 == 0:
        style = style.replace("padding-left: 0", f"padding-left: {_PAIR_SEPARATION}")
    return style


def _convert_cell(latex: str, row: int, column: int) -> ET.Element:
    """Convert one alignment cell, naming its position in errors."""
    try:
        return _convert_fragment(latex)
    except _Rejected as error:
        raise _Rejected(f"row {row + 1}, column {column + 1}: {error}") from None


# --- Repairs --------------------------------------------------------------------------------


def _repair(root: ET.Element) -> None:
    """Turn latex2mathml's tree into MathML Core that renders like TeX in Chromium."""
    for repair in _REPAIRS:
        repair(root)


def _repair_operator_names(root: ET.Element) -> None:
    """Operator names (``<mo>ReLU</mo>``, ``<mi>log</mi>``) become marked, normal ``<mi>``.

    latex2mathml's ``<mo>`` gets the default operator spacing (0.28em on both sides) in
    Chromium; TeX's spacing around operator names is added by :func:`_space_operator_names`.
    """
    for element in root.iter():
        text = element.text or ""
        is_name = bool(text) and all(char.isalpha() or char in "\u2006\u2009" for char in text)
        if is_name and (element.tag == "mo" or (element.tag == "mi" and len(text) > 1)):
            element.tag = "mi"
            element.attrib = {"mathvariant": "normal", _OPERATOR_MARK: ""}


# TeX treats these as ordinary symbols; as <mo> Chromium spaces them like operators.
_ORDINARY_SYMBOLS = {"∂": {}, "∞": {}, "⊤": {}, "⊥": {}, "∇": {"mathvariant": "normal"}}


def _repair_ordinary_symbols(root: ET.Element) -> None:
    """``<mo>∂</mo>`` becomes ``<mi>∂</mi>`` (italic, like TeX's \\partial), and so on."""
    for element in root.iter("mo"):
        attributes = _ORDINARY_SYMBOLS.get(element.text or "")
        if attributes is not None:
            element.tag = "mi"
            element.attrib = dict(attributes)


def _space_operator_names(root: ET.Element) -> None:
    """Insert TeX's thin spaces around operator names: ``\\log x`` but ``\\log(x)``."""
    for parent in list(root.iter()):
        if parent.tag not in _ROW_LIKE:
            continue
        children = list(parent)
        gaps = {gap for index in range(len(children)) for gap in _thin_gaps(children, index)}
        for gap in sorted(gaps, reverse=True):
            parent.insert(gap, _space(_THIN_SPACE))


def _thin_gaps(children: list[ET.Element], index: int) -> list[int]:
    """Gap positions (before child ``g``) needing a thin space around operator name ``index``."""
    if not _is_operator_name(children[index]):
        return []
    gaps = []
    if index and not _is_spacing(children[index - 1], before_name=True):
        gaps.append(index)
    if index + 1 < len(children) and not _is_spacing(children[index + 1], before_name=False):
        gaps.append(index + 1)
    return gaps


def _is_operator_name(element: ET.Element) -> bool:
    """A marked operator name, possibly carrying scripts (``\\operatorname{ReLU}'``)."""
    if element.tag in _SCRIPTS and len(element):
        return _is_operator_name(element[0])
    return _OPERATOR_MARK in element.attrib


def _is_spacing(neighbour: ET.Element, *, before_name: bool) -> bool:
    """Whether a neighbour of an operator name already brings its own spacing.

    Operators (relations, fences, punctuation) do, except a closing fence before the name.
    """
    core = neighbour[0] if neighbour.tag in _SCRIPTS and len(neighbour) else neighbour
    if neighbour.tag == "mspace":
        return True
    if core.tag != "mo":
        return False
    return not (before_name and (core.text or "") in ")]}|‖⟩")


def _space(width: str) -> ET.Element:
    """Return ``<mspace width=...>``."""
    return ET.Element("mspace", {"width": width})


_PRIMES = frozenset("′″‴⁗")


def _repair_primes(root: ET.Element) -> None:
    """``<msup>f<mi>′</mi></msup>`` becomes ``f<mo>′</mo>``.

    Unicode math fonts draw ′ already raised; as a superscript Chromium shrinks and lifts it
    again, so it shows tiny and high.
    """
    for parent in list(root.iter()):
        for index, child in enumerate(list(parent)):
            if child.tag == "msup" and len(child) == 2 and _is_prime(child[1]):
                prime = ET.Element("mo", {"lspace": "0em", "rspace": "0em"})
                prime.text = "".join(child[1].itertext())
                parent[index] = _wrap([child[0], prime])


def _is_prime(element: ET.Element) -> bool:
    """Whether an element is only prime marks (possibly inside a one-child ``<mrow>``)."""
    if element.tag == "mrow" and len(element) == 1:
        return _is_prime(element[0])
    text = element.text or ""
    return element.tag in ("mi", "mo") and bool(text) and set(text) <= _PRIMES


_VARIANT_NAMES = {
    "bold": "BOLD",
    "italic": "ITALIC",
    "bold-italic": "BOLD ITALIC",
    "double-struck": "DOUBLE-STRUCK",
    "script": "SCRIPT",
    "bold-script": "BOLD SCRIPT",
    "fraktur": "FRAKTUR",
    "bold-fraktur": "BOLD FRAKTUR",
    "sans-serif": "SANS-SERIF",
    "bold-sans-serif": "SANS-SERIF BOLD",
    "sans-serif-italic": "SANS-SERIF ITALIC",
    "sans-serif-bold-italic": "SANS-SERIF BOLD ITALIC",
    "monospace": "MONOSPACE",
}
_TEXT_CSS = {
    "bold": "font-weight: bold",
    "italic": "font-style: italic",
    "bold-italic": "font-weight: bold; font-style: italic",
    "sans-serif": "font-family: sans-serif",
    "monospace": "font-family: monospace",
}
_LETTER_NAME = re.compile(
    r"(?:LATIN|GREEK) (?P<case>CAPITAL|SMALL) LETTER (?P<letter>.+)|(?P<digit>DIGIT \w+)"
    r"|GREEK (?P<symbol>.+ SYMBOL)"
)


def _repair_mathvariants(root: ET.Element) -> None:
    """Replace ``mathvariant`` (only "normal" on ``<mi>`` is Core) by characters or CSS.

    ``<mn mathvariant="double-struck">1</mn>`` (\\mathbb{1}) becomes ``<mn>𝟙</mn>``;
    ``<mtext mathvariant="bold">`` (\\textbf) gets ``font-weight: bold``.
    """
    for element in root.iter():
        variant = element.attrib.get("mathvariant")
        if variant is None or (variant == "normal" and element.tag == "mi"):
            continue
        del element.attrib["mathvariant"]
        if element.tag == "mtext" and variant in _TEXT_CSS:
            _add_style(element, _TEXT_CSS[variant])
        elif variant != "normal":
            for token in element.iter():
                if token.tag in _TOKENS and token.text:
                    token.text = "".join(_styled_character(char, variant) for char in token.text)


def _styled_character(char: str, variant: str) -> str:
    """The Unicode math alphanumeric for ``char`` in ``variant``: ("1", "bold") gives "𝟏".

    Characters without a styled form (punctuation, Greek in script) are kept, as TeX does.
    """
    style = _VARIANT_NAMES.get(variant)
    if style is None:
        raise _Rejected(f"mathvariant {variant!r} has no MathML Core equivalent")
    match = _LETTER_NAME.fullmatch(unicodedata.name(char, ""))
    if not match:
        return char
    if match["case"]:
        tail = f"{match['case']} {match['letter']}"
    else:
        tail = match["digit"] or match["symbol"]
    candidates = [
        f"MATHEMATICAL {style} {tail}",
        f"{style} {tail}".replace("FRAKTUR", "BLACK-LETTER"),
    ]
    if (style, tail) == ("ITALIC", "SMALL H"):
        candidates.append("PLANCK CONSTANT")
    for name in candidates:
        try:
            return unicodedata.lookup(name)
        except KeyError:
            continue
    return char


def _add_style(element: ET.Element, css: str) -> None:
    """Append CSS declarations to an element's ``style``."""
    existing = element.attrib.get("style", "").rstrip("; ")
    element.set("style", f"{existing}; {css}" if existing else css)


def _repair_enclosures(root: ET.Element) -> None:
    """``<menclose notation="box">`` (\\boxed, \\fbox; ignored by Chromium) becomes a CSS box."""
    for element in root.iter("menclose"):
        notation = element.attrib.get("notation", "")
        if notation.split() != ["box"]:
            raise _Rejected(f"<menclose notation={notation!r}> has no MathML Core equivalent")
        element.tag = "mrow"
        element.attrib = {"style": "border: 0.04em solid; padding: 0.3em"}


_NAMED_SPACES = {
    "veryverythinmathspace": "0.0556em",
    "verythinmathspace": "0.1111em",
    "thinmathspace": "0.1667em",
    "mediummathspace": "0.2222em",
    "thickmathspace": "0.2778em",
    "verythickmathspace": "0.3333em",
    "veryverythickmathspace": "0.3889em",
}


def _repair_spaces(root: ET.Element) -> None:
    """Named widths become lengths; a negative ``<mspace>`` (clamped to 0) becomes a margin."""
    for element in root.iter():
        for attribute in ("width", "lspace", "rspace"):
            value = element.attrib.get(attribute)
            if value is not None:
                element.set(attribute, _length(value))
        width = element.attrib.get("width", "")
        if element.tag == "mspace" and width.startswith("-"):
            del element.attrib["width"]
            _add_style(element, f"margin-left: {width}")


def _length(value: str) -> str:
    """Resolve a named MathML space such as ``negativethinmathspace``; keep other values."""
    name = value.removeprefix("negative")
    if name in _NAMED_SPACES:
        return ("-" if name != value else "") + _NAMED_SPACES[name]
    return value


def _repair_tables(root: ET.Element) -> None:
    """Translate ``columnalign``/``columnspacing``/``rowspacing`` into CSS on each ``<mtd>``."""
    for table in root.iter("mtable"):
        for attribute in ("columnlines", "rowlines", "frame"):
            if attribute in table.attrib:
                raise _Rejected("table rules ('|' in array columns, \\hline) are not supported")
        for row_index, row in enumerate(table):
            for column, cell in enumerate(row):
                _style_cell(table, row, cell, (row_index, column))
                if not {"data-environment", "columnspacing"} & table.attrib.keys():
                    _add_style(cell, _matrix_padding(column, len(row)))
            row.attrib.pop("columnalign", None)
        for attribute in ("columnalign", "columnspacing", "rowspacing"):
            table.attrib.pop(attribute, None)


def _style_cell(table: ET.Element, row: ET.Element, cell: ET.Element, at: tuple[int, int]) -> None:
    """Give one cell CSS equivalent to the table's alignment and spacing attributes."""
    row_index, column = at
    align = cell.attrib.pop("columnalign", None) or _list_item(
        row.attrib.get("columnalign") or table.attrib.get("columnalign"), column
    )
    if align in _ALIGN_CSS:
        _add_style(cell, _ALIGN_CSS[align])
    css = _gap_padding(table.attrib.get("columnspacing"), column, len(row), ("left", "right"))
    css += _gap_padding(table.attrib.get("rowspacing"), row_index, len(table), ("top", "bottom"))
    if css:
        _add_style(cell, "; ".join(css))


def _matrix_padding(column: int, columns: int) -> str:
    """amsmath's matrix spacing: 1em between columns, a thin space at the outer edges.

    (Chromium's UA style gives every cell 0.4em on both sides.)
    """
    left = _THIN_SPACE if column == 0 else _MATRIX_HALF_GAP
    right = _THIN_SPACE if column == columns - 1 else _MATRIX_HALF_GAP
    return f"padding-left: {left}; padding-right: {right}"


def _list_item(values: str | None, index: int) -> str | None:
    """Item ``index`` of a MathML space-separated list whose last item repeats."""
    if not values:
        return None
    items = values.split()
    return items[min(index, len(items) - 1)]


def _gap_padding(spacing: str | None, index: int, count: int, sides: tuple[str, str]) -> list[str]:
    """Padding giving half of each gap in ``spacing`` to the cells on either side of it."""
    if spacing is None:
        return []
    before = f"calc({_list_item(spacing, index - 1)} / 2)" if index else "0"
    after = f"calc({_list_item(spacing, index)} / 2)" if index + 1 < count else "0"
    return [f"padding-{sides[0]}: {before}", f"padding-{sides[1]}: {after}"]


_OPEN_FENCES = frozenset("([{|‖⟨")
_CLOSE_FENCES = frozenset(")]}|‖⟩")


def _repair_matrix_fences(root: ET.Element) -> None:
    """Group ``[ mtable ]`` in its own stretchy-fenced ``<mrow>`` (bmatrix, pmatrix, ...).

    Otherwise the brackets stretch to everything else in the surrounding row.
    """
    for parent in list(root.iter()):
        children = list(parent)
        for index in range(len(children) - 2, 0, -1):
            opening, table, closing = children[index - 1 : index + 2]
            if not (table.tag == "mtable" and _is_mo_with(opening, _OPEN_FENCES)):
                continue
            if _is_mo_with(closing, _CLOSE_FENCES):
                _fence(opening, "prefix")
                _fence(closing, "postfix")
                if len(children) > 3:
                    parent[index - 1 : index + 2] = [_wrap([opening, table, closing])]


def _is_mo_with(element: ET.Element, characters: frozenset[str]) -> bool:
    """Whether an element is an ``<mo>`` holding one of ``characters``."""
    return element.tag == "mo" and (element.text or "") in characters


def _fence(element: ET.Element, form: str) -> None:
    """Make an ``<mo>`` a stretchy fence of the given form."""
    element.attrib.update({"stretchy": "true", "fence": "true", "form": form})


_LIMIT_OPERATORS = frozenset("∑∏∐⋀⋁⋂⋃⨀⨁⨂⨄⨆")
_LIMIT_FORMS = {"msub": "munder", "msup": "mover", "msubsup": "munderover"}


def _repair_limits(root: ET.Element) -> None:
    """``\\sum_{k=1}^{2}`` takes its limits below and above in display style, as in TeX.

    latex2mathml always uses ``<msubsup>``; ``<munderover>`` with ``movablelimits`` puts the
    limits beside the sum only in inline (compact) style.
    """
    for element in root.iter():
        if element.tag in _LIMIT_FORMS and _is_mo_with(element[0], _LIMIT_OPERATORS):
            element.tag = _LIMIT_FORMS[element.tag]
            element[0].set("movablelimits", "true")


_TALL = frozenset({"mfrac", "mtable", "msqrt", "mroot", "munder", "munderover"})


def _repair_flat_fences(root: ET.Element) -> None:
    """``\\left( W^{(2)} \\right)`` around flat content gets non-stretchy fences.

    Chromium (per MathML Core) gives a vertically stretchy ``<mo>`` the width of its widest
    glyph variant, whatever size it draws: 0.875em for Latin Modern's parenthesis, twice
    the glyph. Normal-size fences fit content without fractions, tables, roots or limits.
    """
    for row in root.iter("mrow"):
        fenced = len(row) > 2 and _is_stretchy_fence(row[0]) and _is_stretchy_fence(row[-1])
        if fenced and not any(_is_tall(child) for child in row[1:-1]):
            row[0].set("stretchy", "false")
            row[-1].set("stretchy", "false")


def _is_stretchy_fence(element: ET.Element) -> bool:
    """Whether an element is a ``\\left``/``\\right`` fence."""
    attributes = element.attrib
    return element.tag == "mo" and attributes.get("stretchy") == "true" and "fence" in attributes


def _is_tall(element: ET.Element) -> bool:
    """Whether an element contains something taller than a line (fraction, table, limits)."""
    return any(
        node.tag in _TALL or (node.tag == "mover" and node.get("accent") != "true")
        for node in element.iter()
    )


_UNARY = frozenset("+−-±∓")


def _repair_unary_operators(root: ET.Element) -> None:
    """``= -x`` and ``(-z)``: a sign after an operator or opening fence gets prefix form.

    TeX makes such a binary operator ordinary; Chromium would space it as binary.
    """
    for parent in root.iter():
        if parent.tag not in _ROW_LIKE:
            continue
        previous: ET.Element | None = None
        for child in parent:
            if child.tag == "mspace":
                continue
            if _is_mo_with(child, _UNARY) and previous is not None and _is_opening(previous):
                child.set("form", "prefix")
            previous = child


def _is_opening(element: ET.Element) -> bool:
    """Whether an element is an operator after which a sign is unary (not a closing fence)."""
    core = element[0] if element.tag in _SCRIPTS and len(element) else element
    if core.tag != "mo":
        return False
    return core.get("form") != "postfix" and (core.text or "") not in _CLOSE_FENCES


def _repair_script_spacing(root: ET.Element) -> None:
    """Operators in scripts get no spacing, as in TeX's script styles: ``\\sum_{k=1}``."""
    for element in root.iter():
        if element.tag not in _SCRIPTS:
            continue
        for script in element[1:]:
            for operator in script.iter("mo"):
                if "lspace" not in operator.attrib and "rspace" not in operator.attrib:
                    operator.attrib.update({"lspace": "0em", "rspace": "0em"})


def _repair_accents(root: ET.Element) -> None:
    """Move ``accent`` from an over/underscript ``<mo>`` (not Core) to its parent."""
    for parent in root.iter():
        if parent.tag in ("mover", "munder") and len(parent) == 2:
            accent = parent[1].attrib.pop("accent", None)
            name = "accent" if parent.tag == "mover" else "accentunder"
            if accent is not None and name not in parent.attrib:
                parent.set(name, accent)


def _strip_non_core(root: ET.Element) -> None:
    """Drop attributes MathML Core does not define (Chromium ignores them anyway)."""
    for element in root.iter():
        for attribute, value in list(element.attrib.items()):
            if attribute == "xmlns" and element is root:
                continue
            if not _attribute_allowed(element.tag, attribute, value):
                del element.attrib[attribute]


_REPAIRS: tuple[Callable[[ET.Element], None], ...] = (
    _repair_operator_names,
    _repair_ordinary_symbols,
    _space_operator_names,
    _repair_primes,
    _repair_mathvariants,
    _repair_enclosures,
    _repair_spaces,
    _repair_tables,
    _repair_matrix_fences,
    _repair_limits,
    _repair_flat_fences,
    _repair_unary_operators,
    _repair_script_spacing,
    _repair_accents,
    _strip_non_core,
)
