"""Width and height estimates of LaTeX, in em of the body font, for line breaking.

The pdflatex test checks the estimates by compiling the output with no overfull boxes.
"""

from __future__ import annotations

import re
from functools import lru_cache

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
SCRIPT = 0.7


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
            argument = _argument(scanner, scale * SCRIPT)
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
        inner = scale * SCRIPT
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


def is_tall(tex: str) -> bool:
    """Whether printed math contains something taller than a line (fraction, matrix, sum)."""
    return any(mark in tex for mark in (r"\frac", r"\begin", r"\sum", r"\left"))


def bracket_height(tex: str) -> int:
    """Bracket levels an atomic piece needs around it: 2 for tall content, 1 for brackets."""
    if is_tall(tex):
        return 2
    return 1 if any(mark in tex for mark in "([") else 0
