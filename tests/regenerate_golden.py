"""Regenerate the golden files of the seed's rendered derivation in ``tests/golden/``.

Run from the repository root after a deliberate change to the output, then review the diff
(``git diff tests/golden``) like any other change:

    python tests/regenerate_golden.py

It writes ``seed.tex`` (the standalone LaTeX document), ``seed.md`` (Markdown), ``seed.html``
(the HTML page, which opens in a browser for review) and ``seed.json``. The tests compare the
output with these files byte for byte (``tests/test_render_*.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"

#: file name -> (format, render options)
FILES = {
    "seed.tex": ("latex", {"standalone": True}),
    "seed.md": ("markdown", {}),
    "seed.html": ("html", {}),
    "seed.json": ("json", {}),
}


def golden_outputs() -> dict[str, str]:
    """The seed's output in every golden format, keyed by golden file name."""
    from symbackprop import derive

    derivation = derive("seed")
    return {name: derivation.to(fmt, **options) for name, (fmt, options) in FILES.items()}


def main() -> int:
    GOLDEN.mkdir(exist_ok=True)
    for name, text in golden_outputs().items():
        path = GOLDEN / name
        old = path.read_text("utf-8") if path.exists() else None
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"{'unchanged' if old == text else 'written  '} {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
