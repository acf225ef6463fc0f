"""MathML Core: its elements and attributes, and :func:`validate_core`."""

import xml.etree.ElementTree as ET
from collections.abc import Iterator

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
TOKENS = frozenset({"mi", "mn", "mo", "ms", "mtext"})
ARITY = {
    "mfrac": 2,
    "mroot": 2,
    "msub": 2,
    "msup": 2,
    "munder": 2,
    "mover": 2,
    "msubsup": 3,
    "munderover": 3,
}
SCRIPTS = frozenset({"msub", "msup", "msubsup", "munder", "mover", "munderover"})
ROW_LIKE = frozenset({"math", "mrow", "mtd", "mstyle", "msqrt", "mpadded", "mphantom"})
OPERATOR_MARK = "data-symbackprop-operator"  # internal; removed before serialising
THIN_SPACE = "0.1667em"


class MathMLError(ValueError):
    """LaTeX that cannot be turned into MathML Core, or MathML that is not Core."""


class Rejected(Exception):
    """Why a piece of LaTeX cannot be converted; the public entry adds the equation label."""


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
        symbackprop.render.mathml_core.MathMLError: not MathML Core: <mfenced> is not a Core element
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
        if not attribute_allowed(name, attribute, value):
            return f"<{name}> has attribute {attribute}={value!r}"
    return structure_problem(name, element)


def attribute_allowed(tag: str, attribute: str, value: str) -> bool:
    """Whether MathML Core allows ``attribute=value`` on ``<tag>``."""
    if attribute.startswith("data-") and attribute != OPERATOR_MARK:
        return True
    if attribute not in GLOBAL_ATTRIBUTES and attribute not in ELEMENT_ATTRIBUTES.get(tag, ()):
        return False
    if attribute == "mathvariant" and tag != "mi":
        return False
    allowed = _ATTRIBUTE_VALUES.get((tag, attribute))
    return allowed is None or value in allowed


def structure_problem(tag: str, element: ET.Element) -> str | None:
    """Return why an element's children are malformed (token markup, arity), or None."""
    if tag in TOKENS and len(element):
        return f"<{tag}> contains markup instead of text"
    arity = ARITY.get(tag)
    if arity is not None and len(element) != arity:
        return f"<{tag}> has {len(element)} children instead of {arity}"
    return None


def wrap(children: list[ET.Element], attributes: dict[str, str] | None = None) -> ET.Element:
    """Return a new ``<mrow>`` holding ``children``."""
    row = ET.Element("mrow", attributes or {})
    row.extend(children)
    return row


# Chromium lays out the content of an <mtd> as one block-level anonymous <mrow>, so plain
# `text-align: right` does not move it; `justify-items` does (and `text-align` is kept for
# engines that lay the cell out inline). Chromium ignores the `columnalign` attribute.
ALIGN_CSS = {
    "left": "justify-items: start; text-align: left",
    "right": "justify-items: end; text-align: right",
    "center": "justify-items: center; text-align: center",
}
MATRIX_HALF_GAP = "0.5em"
