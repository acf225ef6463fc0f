"""The README's console examples are what the tool prints today.

A failure means the output changed: review it, then run ``python tests/regenerate_readme.py``.
"""

from __future__ import annotations

import pytest
from regenerate_readme import README, ConsoleBlock, console_blocks, regenerate, run

BLOCKS = console_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_the_examples() -> None:
    commands = [block.command for block in BLOCKS]
    assert "symbackprop check seed-notebook" in commands
    assert any(command.startswith("symbackprop derive --no-expanded") for command in commands)
    assert sum(command.startswith("symbackprop check-layer") for command in commands) == 2


@pytest.mark.parametrize("block", BLOCKS, ids=[block.command[:60] for block in BLOCKS])
def test_console_block_is_what_the_command_prints(block: ConsoleBlock) -> None:
    assert block.output.strip(), "an example that shows nothing (did a sed pattern stop matching?)"
    assert run(block.command) == block.output, (
        "the README is stale: review the output, then run python tests/regenerate_readme.py"
    )


def test_regenerate_replaces_only_the_outputs() -> None:
    text = (
        "Intro\n\n```console\n$ echo one; echo two >&2\nstale\n```\n\n"
        "```sh\n$ echo untouched\nkept\n```\n\n```console\n$ printf 'no newline'\n```\nend\n"
    )
    assert regenerate(text) == (
        "Intro\n\n```console\n$ echo one; echo two >&2\none\ntwo\n```\n\n"
        "```sh\n$ echo untouched\nkept\n```\n\n```console\n$ printf 'no newline'\nno newline\n```\nend\n"
    )


def test_commands_run_from_the_repository_root() -> None:
    assert run("ls tests/readme/bad.toml") == "tests/readme/bad.toml\n"
