"""Regenerate the README's console examples from the tool: one command, then review the diff.

Every ```` ```console ```` block of ``README.md`` starts with ``$ COMMAND``; the rest of the
block is what the command prints (stdout and stderr, in order). Run from anywhere:

    python tests/regenerate_readme.py           # rewrite the blocks in README.md
    python tests/regenerate_readme.py --check   # exit status 1 and a diff if any is stale

Each command runs in bash from the repository root, with the ``symbackprop`` of this Python
first on ``PATH``, so a reader can paste it into a shell in a checkout. The spec files the
error examples use are in ``tests/readme/``. ``tests/test_readme.py`` asserts that every block
matches.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```console\n\$ (?P<command>[^\n]+)\n(?P<output>.*?)^```$", re.M | re.S)


@dataclass(frozen=True)
class ConsoleBlock:
    """One console example: the command and the output the README shows for it."""

    command: str
    output: str
    start: int
    end: int


def console_blocks(text: str) -> list[ConsoleBlock]:
    """The console examples of a Markdown ``text``, in order; ``start:end`` spans the output."""
    return [
        ConsoleBlock(m["command"], m["output"], m.start("output"), m.end("output"))
        for m in BLOCK.finditer(text)
    ]


def run(command: str) -> str:
    """What ``command`` prints from the repository root, stdout and stderr interleaved."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return (
        result.stdout
        if result.stdout.endswith("\n") or not result.stdout
        else result.stdout + "\n"
    )


def regenerate(text: str) -> str:
    """``text`` with the output of every console block replaced by what its command prints."""
    parts, last = [], 0
    for block in console_blocks(text):
        output = run(block.command)
        if not output.strip():
            print(f"warning: prints nothing: $ {block.command}", file=sys.stderr)
        parts += [text[last : block.start], output]
        last = block.end
    return "".join([*parts, text[last:]])


def main(argv: list[str]) -> int:
    old = README.read_text(encoding="utf-8")
    new = regenerate(old)
    if "--check" in argv:
        diff = difflib.unified_diff(
            old.splitlines(True), new.splitlines(True), "README.md", "regenerated"
        )
        sys.stdout.writelines(diff)
        return int(new != old)
    README.write_text(new, encoding="utf-8", newline="\n")
    print(f"{'unchanged' if old == new else 'written  '} {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
