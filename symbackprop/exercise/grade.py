"""Grading a student's answers (``[expected]`` form) against an exercise key.

The answers are judged as a documented table of the student's network: each entry against the
exact value with the key's tolerance, and the wrong gradients against the mistake catalogue.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SymbackpropError
from ..mistakes.diagnose import MistakeMatch

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\[[0-9]+(,[0-9]+)?\])?$")


@dataclass(frozen=True)
class Graded:
    """One answered entry: the answer, the key's answer, the difference, the verdict."""

    entry: str
    answer: str
    correct: str
    difference: float
    right: bool


@dataclass(frozen=True)
class Grade:
    """The grade of one answer file."""

    key: str
    answers: str
    student: str
    title: str
    tolerance: str
    entries: tuple[Graded, ...]
    missing: tuple[str, ...]
    mistakes: tuple[MistakeMatch, ...]

    @property
    def right(self) -> int:
        return sum(e.right for e in self.entries)

    @property
    def ok(self) -> bool:
        return not self.missing and self.right == len(self.entries)

    def text(self) -> str:
        """The report for a terminal."""
        width = max([8, *(len(e.entry) for e in self.entries)])
        lines = [
            f"Grade of {self.answers} against {self.key}, sheet {self.student}: {self.title}",
            f"right when |answer - exact| <= {self.tolerance}",
            "",
            f"  {'entry':<{width}} {'answer':>10} {'correct':>10} {'difference':>11}  verdict",
        ]
        for e in self.entries:
            verdict = "right" if e.right else "WRONG"
            lines.append(
                f"  {e.entry:<{width}} {e.answer:>10} {e.correct:>10} {e.difference:>+11.2e}  "
                f"{verdict}"
            )
        if self.missing:
            lines += ["", f"Not answered ({len(self.missing)}): {', '.join(self.missing)}"]
        if self.mistakes:
            lines += ["", "Likely mistake"]
            for m in self.mistakes:
                where = f" ({m.detail_text()})" if m.detail else ""
                lines.append(f"  {', '.join(m.parameters)}: '{m.mistake}'{where}: {m.summary}")
        total = len(self.entries) + len(self.missing)
        lines += ["", f"Score: {self.right} of {total} right"]
        return "\n".join(lines) + "\n"


def grade(key_path: str, answers_path: str) -> Grade:
    """Grade the answers file ``answers_path`` against the exercise key ``key_path``.

    Raises:
        SymbackpropError: either file is missing or malformed (one line naming file and key).
    """
    from ..check import check
    from ..spec import parse_spec

    key = _read_key(key_path)
    answers = _read_answers(answers_path)
    sheet = _sheet(key, answers, key_path, answers_path)
    expected = answers.get("expected")
    if not isinstance(expected, dict) or not expected:
        raise SymbackpropError(f"{answers_path}: [expected]: expected a table of answers")
    text = sheet["spec"] + f"\n[expected]\natol = {key['tolerance']}\nrtol = 0\n"
    text += "".join(
        f"{_toml_key(k, answers_path)} = {_toml(v, k, answers_path)}\n"
        for k, v in expected.items()
    )
    spec = parse_spec(text, answers_path)
    report = check(spec, random_points=0)
    assert report.documented is not None
    answers_by_entry = {a["entry"]: a["answer"] for a in sheet["answers"]}
    graded = tuple(
        Graded(
            e.entry,
            e.documented,
            answers_by_entry.get(e.entry, e.should_read),
            float(e.difference),
            e.ok,
        )
        for e in report.documented.entries
    )
    done = {e.entry for e in graded}
    missing = tuple(name for name in answers_by_entry if name not in done)
    mistakes = tuple(m for m in report.likely.mistakes if m.source == "documented")
    return Grade(
        key_path,
        answers_path,
        sheet["student"],
        report.title.split(": ", 1)[-1],
        key["tolerance"],
        graded,
        missing,
        mistakes,
    )


def _read_key(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise SymbackpropError(f"{path}: cannot read the key: {exc.strerror}") from None
    except ValueError as exc:
        raise SymbackpropError(f"{path}: not a JSON exercise key: {exc}") from None
    if not isinstance(data, dict) or data.get("symbackprop_exercise_key") != 1:
        raise SymbackpropError(
            f"{path}: not an exercise key (expected the key.json of symbackprop exercise)"
        )
    return data


def _read_answers(path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text("utf-8"), parse_float=_Literal)
    except OSError as exc:
        raise SymbackpropError(f"{path}: cannot read the answers: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SymbackpropError(f"{path}: not valid TOML: {exc}") from None


class _Literal(str):
    """A TOML float as written (TOML has validated it)."""


def _sheet(
    key: dict[str, Any], answers: dict[str, Any], key_path: str, path: str
) -> dict[str, Any]:
    sheets = {s["student"]: s for s in key["students"]}
    student = answers.get("student")
    if student is None and len(sheets) == 1:
        return next(iter(sheets.values()))
    if isinstance(student, int) and not isinstance(student, bool):
        student = f"{student:02d}"
    if student not in sheets:
        raise SymbackpropError(
            f"{path}: student: expected one of the sheets of {key_path}: "
            f"{', '.join(sorted(sheets))}, got {student!r}"
        )
    return sheets[student]


def _toml_key(key: str, path: str) -> str:
    if not _KEY.match(key) or key in ("atol", "rtol", "tolerance"):
        raise SymbackpropError(f"{path}: [expected] {key}: unknown key")
    return json.dumps(key)


def _toml(value: Any, key: str, path: str) -> str:
    """``value`` as TOML text again: numbers as written, lists of them."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v, key, path) for v in value) + "]"
    if isinstance(value, _Literal):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise SymbackpropError(f"{path}: [expected] {key}: expected numbers, got {value!r}")
