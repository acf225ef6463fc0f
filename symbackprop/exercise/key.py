"""The exercises of one seed: each student's network, and every answer exact and to 4 decimals."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from sympy import Expr, ImmutableMatrix, latex

from .. import notation
from ..derivation import Derivation, derive
from ..formats import Omitted
from ..network import SymbolicNetwork
from ..spec import NetworkSpec
from ..spec_writer import spec_toml
from .architecture import architecture
from .draw import PLACES, Drawn, answer_keys, draw, fraction

#: Answers within this of the exact value are right (Moodle's tolerance too).
TOLERANCE = Decimal("0.0001")
#: The version of the key's JSON layout.
KEY_VERSION = 1


@dataclass(frozen=True)
class Answer:
    """One entry to compute: its name (``dW1[0,1]``), exact form and value to 4 decimals."""

    key: str
    index: tuple[int, ...]
    exact: str
    exact_latex: str
    rounded: str

    @property
    def name(self) -> str:
        return notation.entry_name(self.key, self.index)


@dataclass(frozen=True)
class Student:
    """One sheet: the student's number (1-based), network and answers."""

    number: int
    spec: NetworkSpec
    answers: tuple[Answer, ...]
    #: Answers whose 4 decimals change by hand with rounded intermediates (see ``draw``).
    unstable: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.number:02d}"

    @property
    def toml(self) -> str:
        return spec_toml(self.spec, f"symbackprop exercise, sheet {self.label}")

    def shape(self, key: str) -> tuple[int, int]:
        """(rows, cols) of the answer ``key``."""
        cells = [a.index for a in self.answers if a.key == key]
        rows = 1 + max(i[0] for i in cells)
        return rows, 1 + max(i[1] for i in cells) if len(cells[0]) == 2 else 1


@dataclass(frozen=True)
class Exercises:
    """The sheets of one architecture and seed."""

    architecture: str
    seed: int
    students: tuple[Student, ...]
    #: The symbolic network (its symbols and definitions; the numbers are each student's).
    network: SymbolicNetwork = field(compare=False, repr=False)

    @property
    def title(self) -> str:
        spec = self.students[0].spec
        activations = ", ".join(a.name for a in spec.activations)
        sizes = "-".join(map(str, spec.layers))
        return f"{sizes} network ({activations}; {spec.loss.name} loss)"


def make_exercises(text: str, seed: int, students: int = 1) -> Exercises:
    """``students`` exercises of the network ``text`` (ARCH or spec), numbers drawn from ``seed``.

    >>> make_exercises("2-2-2:sigmoid,softmax:cross_entropy", 1).students[0].answers[0].name
    'z1[0]'
    """
    base = derive(architecture(text))
    rng = random.Random(seed)
    sheets = []
    for number in range(1, students + 1):
        drawn = draw(base, rng)
        answers = _answers(derive(drawn.spec), drawn)
        sheets.append(Student(number, drawn.spec, answers, drawn.unstable))
    return Exercises(text, seed, tuple(sheets), base.network)


def _answers(derivation: Derivation, drawn: Drawn) -> tuple[Answer, ...]:
    """Every answer of ``drawn``: the exact form from ``derivation``, the value to 4 decimals."""
    answers = []
    for key in answer_keys(drawn.exact):
        matrix = _exact_matrix(derivation, key)
        rows = drawn.exact[key]
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                index = (i,) if len(row) == 1 else (i, j)
                form = derivation.exact_form(matrix[i, j])
                answers.append(
                    Answer(key, index, _text(form), _latex(form), rounded(fraction(value)))
                )
    return tuple(answers)


def _exact_matrix(derivation: Derivation, key: str) -> ImmutableMatrix:
    if key.endswith("_updated"):
        return (derivation.updated or {})[key.removesuffix("_updated")]
    if key.startswith("d"):
        return derivation.values.gradients[key[1:]]
    return derivation.values.forward[key]


def _text(form: Expr | Omitted) -> str:
    return str(form) if not isinstance(form, Omitted) else f"(omitted: {form.size} nodes)"


def _latex(form: Expr | Omitted) -> str:
    if isinstance(form, Omitted):
        return rf"\text{{(omitted: {form.size} nodes)}}"
    return latex(form)


def rounded(value: Fraction) -> str:
    """``value`` to :data:`PLACES` decimals: ``"-0.1235"``."""
    units = round(value * 10**PLACES)
    return f"{Decimal(units).scaleb(-PLACES):.{PLACES}f}"


def key_json(exercises: Exercises) -> str:
    """The answer key as JSON (what ``symbackprop grade`` reads)."""
    data = {
        "symbackprop_exercise_key": KEY_VERSION,
        "architecture": exercises.architecture,
        "seed": exercises.seed,
        "places": PLACES,
        "tolerance": str(TOLERANCE),
        "students": [
            {
                "student": s.label,
                "spec": s.toml,
                "unstable_by_hand": list(s.unstable),
                "answers": [
                    {"entry": a.name, "answer": a.rounded, "exact": a.exact} for a in s.answers
                ],
            }
            for s in exercises.students
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
