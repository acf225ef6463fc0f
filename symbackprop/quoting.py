"""User values echoed in messages: quoted with escapes, cut to a bounded length.

An error message is one line on standard error, whatever the spec holds: a newline, an ANSI
escape or a five-megabyte name in the input must neither split it nor flood the terminal.

>>> quoted("tanh\\n\\x1b[31m")
"'tanh\\\\n\\\\x1b[31m'"
>>> len(quoted("x" * 10**6))
61
"""

from __future__ import annotations

#: The most characters of one echoed value in a message.
VALUE_LIMIT = 60
#: The most characters of a spec's name in a title (a file name has at most 255 bytes).
NAME_LIMIT = 255
#: The most characters of a whole one-line message.
MESSAGE_LIMIT = 1000


def quoted(value: object, limit: int = VALUE_LIMIT) -> str:
    """``value`` as a single-quoted string with escapes (``repr``-style), cut to ``limit``."""
    text = value if isinstance(value, str) else str(value)
    body = repr(text[: limit + 1] + '"')[1:-2]  # the added '"' makes repr quote with '
    if len(text) > limit or len(body) > limit:
        return f"'{body[: limit - 1]}…"
    return f"'{body}'"


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` with every control character escaped and cut to ``limit`` characters."""
    head = text[: limit + 1]
    clean = "".join(ch if ch.isprintable() else _escape(ch) for ch in head)
    return clean if len(text) <= limit and len(clean) <= limit else f"{clean[: limit - 1]}…"


def _escape(ch: str) -> str:
    return repr(ch)[1:-1]


def shown(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` as it is when printable and short (a file name), else :func:`quoted`."""
    return text if len(text) <= limit and text.isprintable() else quoted(text, limit)
