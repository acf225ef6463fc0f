"""The ``exercise`` and ``grade`` subcommands, for :mod:`symbackprop.cli`.

The exercise package (SymPy and all) is imported inside the handlers, not at import time.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .arguments import non_negative, positive
from .defaults import MAX_SEED

#: The most sheets one ``exercise`` run writes.
MAX_STUDENTS = 500


def add_parsers(commands: Any) -> None:
    """Add ``exercise`` (handler :func:`run_exercise`) and ``grade`` (:func:`run_grade`)."""
    parser = commands.add_parser(
        "exercise",
        help="exercise sheets with numbers fit for hand computation, an answer key (Markdown, "
        "LaTeX/PDF, JSON) or a Moodle quiz",
    )
    parser.add_argument(
        "architecture",
        metavar="ARCH",
        help="SIZES:ACTIVATIONS:LOSS such as 2-3-2:relu,softmax:cross_entropy, or a spec file "
        "or built-in example whose numbers are redrawn",
    )
    parser.add_argument(
        "--seed",
        type=non_negative(MAX_SEED),
        required=True,
        help="random seed: the same seed, the same sheets",
    )
    parser.add_argument(
        "--students",
        type=positive(MAX_STUDENTS),
        default=1,
        metavar="K",
        help="number of sheets (default: 1)",
    )
    parser.add_argument(
        "-o", "--output", metavar="DIR", default="exercises", help="folder (default: exercises)"
    )
    parser.add_argument(
        "--format",
        choices=["moodle", "sheets"],
        default="sheets",
        help="sheets: per student sheet-NN.md/.tex/.pdf and answers-NN.toml, and the key "
        "(key.md/.tex/.pdf/.json); moodle: quiz.xml (numerical questions) and key.json",
    )
    parser.add_argument(
        "--pdf",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also compile the .tex files with pdflatex, when it is installed (default: yes)",
    )
    grade = commands.add_parser(
        "grade",
        help="grade a student's answers against an exercise key; exit status 0 all right, "
        "1 some wrong or missing, 2 bad input",
    )
    grade.add_argument("key", metavar="KEY.json", help="the key.json of symbackprop exercise")
    grade.add_argument(
        "answers",
        metavar="ANSWERS.toml",
        help='the answers: student = "NN" and an [expected] table (answers-NN.toml)',
    )


def run_exercise(args: argparse.Namespace) -> int:
    """Write the exercise set; say on stderr what was written."""
    from .exercise.key import make_exercises
    from .exercise.output import write

    exercises = make_exercises(args.architecture, args.seed, args.students)
    paths = write(exercises, args.output, args.format, args.pdf)
    print(f"symbackprop: wrote {len(paths)} files to {args.output}", file=sys.stderr)
    return 0


def run_grade(args: argparse.Namespace) -> int:
    """Print the grade; 0 when every entry is right."""
    from .exercise.grade import grade

    result = grade(args.key, args.answers)
    sys.stdout.write(result.text())
    return 0 if result.ok else 1
