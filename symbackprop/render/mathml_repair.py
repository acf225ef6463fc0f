"""Repairs turning latex2mathml's tree into MathML Core that renders like TeX in Chromium."""

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable

from .mathml_core import (
    ALIGN_CSS,
    MATRIX_HALF_GAP,
    OPERATOR_MARK,
    ROW_LIKE,
    SCRIPTS,
    THIN_SPACE,
    TOKENS,
    Rejected,
    attribute_allowed,
    wrap,
)


def repair(root: ET.Element) -> None:
    """Turn latex2mathml's tree into MathML Core that renders like TeX in Chromium."""
    for step in _REPAIRS:
        step(root)


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
            element.attrib = {"mathvariant": "normal", OPERATOR_MARK: ""}


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
        if parent.tag not in ROW_LIKE:
            continue
        children = list(parent)
        gaps = {gap for index in range(len(children)) for gap in _thin_gaps(children, index)}
        for gap in sorted(gaps, reverse=True):
            parent.insert(gap, _space(THIN_SPACE))


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
    if element.tag in SCRIPTS and len(element):
        return _is_operator_name(element[0])
    return OPERATOR_MARK in element.attrib


def _is_spacing(neighbour: ET.Element, *, before_name: bool) -> bool:
    """Whether a neighbour of an operator name already brings its own spacing.

    Operators (relations, fences, punctuation) do, except a closing fence before the name.
    """
    core = neighbour[0] if neighbour.tag in SCRIPTS and len(neighbour) else neighbour
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
                parent[index] = wrap([child[0], prime])


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
                if token.tag in TOKENS and token.text:
                    token.text = "".join(_styled_character(char, variant) for char in token.text)


def _styled_character(char: str, variant: str) -> str:
    """The Unicode math alphanumeric for ``char`` in ``variant``: ("1", "bold") gives "𝟏".

    Characters without a styled form (punctuation, Greek in script) are kept, as TeX does.
    """
    style = _VARIANT_NAMES.get(variant)
    if style is None:
        raise Rejected(f"mathvariant {variant!r} has no MathML Core equivalent")
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
            raise Rejected(f"<menclose notation={notation!r}> has no MathML Core equivalent")
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
                raise Rejected("table rules ('|' in array columns, \\hline) are not supported")
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
    if align in ALIGN_CSS:
        _add_style(cell, ALIGN_CSS[align])
    css = _gap_padding(table.attrib.get("columnspacing"), column, len(row), ("left", "right"))
    css += _gap_padding(table.attrib.get("rowspacing"), row_index, len(table), ("top", "bottom"))
    if css:
        _add_style(cell, "; ".join(css))


def _matrix_padding(column: int, columns: int) -> str:
    """amsmath's matrix spacing: 1em between columns, a thin space at the outer edges.

    (Chromium's UA style gives every cell 0.4em on both sides.)
    """
    left = THIN_SPACE if column == 0 else MATRIX_HALF_GAP
    right = THIN_SPACE if column == columns - 1 else MATRIX_HALF_GAP
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
                    parent[index - 1 : index + 2] = [wrap([opening, table, closing])]


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
        if parent.tag not in ROW_LIKE:
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
    core = element[0] if element.tag in SCRIPTS and len(element) else element
    if core.tag != "mo":
        return False
    return core.get("form") != "postfix" and (core.text or "") not in _CLOSE_FENCES


def _repair_script_spacing(root: ET.Element) -> None:
    """Operators in scripts get no spacing, as in TeX's script styles: ``\\sum_{k=1}``."""
    for element in root.iter():
        if element.tag not in SCRIPTS:
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
            if not attribute_allowed(element.tag, attribute, value):
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
