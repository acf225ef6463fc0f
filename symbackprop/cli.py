"""The command line: argparse -> public functions, nothing else.

``main(argv)`` returns the exit status: 0 success, 1 a check failed, 2 bad input. Only
:class:`SymbackpropError` is caught (one line on stderr); anything else is a bug and keeps its
traceback. SymPy and NumPy are imported by the commands that use them, so that ``--help``,
``example`` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from . import exercise_command, layercheck_command, picture_command
from ._version import __version__
from .arguments import non_negative, positive, time_limit_option, timeout_option, tolerance
from .builtin import example_names, example_text
from .deadline import STOPPED, TimeLimitReached, deadline, stopped_message
from .defaults import (
    ATOL,
    EXACT_LIMIT,
    EXPAND_LIMIT,
    KINKS,
    MAX_DIGITS,
    MAX_NODE_LIMIT,
    MAX_RANDOM_POINTS,
    MAX_SEED,
    MAX_TOLERANCE,
    REPORT_FORMATS,
    RTOL,
)
from .errors import SymbackpropError
from .files import same_file, write_atomic, write_stdout
from .formats import MODULES, Renderer
from .quoting import one_line
from .render.sections import resolve

if TYPE_CHECKING:
    from .check import CheckReport


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def _spec_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec",
        nargs="?",
        default="seed",
        help="a TOML spec file, - for standard input, or a built-in example name "
        f"({', '.join(example_names())}); default: seed",
    )


def _derivation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--digits",
        type=positive(MAX_DIGITS),
        default=12,
        help=f"significant digits of decimal values, at most {MAX_DIGITS} (default: 12)",
    )
    parser.add_argument(
        "--relu-prime-at-zero",
        choices=KINKS,
        default="0",
        help="the value of ReLU'(0) at an exact kink (default: 0, as the notebook)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``symbackprop`` argument parser (also used to generate the CLI reference)."""
    parser = _Parser(
        prog="symbackprop",
        description="Exact, symbolic, checked backpropagation for small neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    derive_parser = commands.add_parser(
        "derive", help="derive every gradient symbolically and evaluate it exactly"
    )
    _spec_argument(derive_parser)
    derive_parser.add_argument(
        "--format", choices=sorted(MODULES), default="text", help="output format (default: text)"
    )
    _derivation_options(derive_parser)
    derive_parser.add_argument(
        "--expanded",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="include the expanded forms in x, W, b and y (default: yes)",
    )
    derive_parser.add_argument(
        "--expand-limit",
        type=non_negative(MAX_NODE_LIMIT),
        default=EXPAND_LIMIT,
        help="largest expanded form to build, in expression-tree nodes, at most "
        f"{MAX_NODE_LIMIT} (default: {EXPAND_LIMIT})",
    )
    derive_parser.add_argument(
        "--exact-limit",
        type=non_negative(MAX_NODE_LIMIT),
        default=EXACT_LIMIT,
        help="largest exact value to print, in expression-tree nodes, at most "
        f"{MAX_NODE_LIMIT}; decimals are always given (default: {EXACT_LIMIT})",
    )
    derive_parser.add_argument(
        "-o",
        "--output",
        help="write to this file (atomically); - is standard output (the default)",
    )
    derive_parser.add_argument(
        "--sections",
        type=_sections,
        metavar="LIST",
        help="comma-separated sections to render, in every format "
        f"(default: all): {', '.join(resolve(None))}",
    )
    derive_parser.add_argument(
        "--standalone",
        action="store_true",
        help="with --format latex: a complete document for pdflatex instead of a fragment",
    )
    derive_parser.add_argument(
        "--picture",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="open with the picture of the network (symbackprop draw), for latex, markdown, "
        "html and mathml (default: yes, except in a LaTeX fragment, which then needs "
        "\\usepackage{tikz})",
    )
    derive_parser.add_argument(
        "--handout",
        action="store_true",
        help="a short handout to print instead of the full derivation: the picture, notation, "
        "forward pass as matrices, output error step by step, one worked entry per layer, every "
        "gradient as a matrix and the update (a complete document in latex)",
    )
    derive_parser.add_argument("--title", help="the document's title (latex, markdown, html)")
    derive_parser.add_argument(
        "--author", help="the document's author line (latex, markdown, html; default: none)"
    )
    _check_parser(commands)
    layercheck_command.add_parser(commands)
    picture_command.add_parser(commands)
    exercise_command.add_parsers(commands)
    for name in COMPUTING:
        time_limit_option(commands.choices[name])
    example_parser = commands.add_parser(
        "example", help="print a built-in example spec, or list them"
    )
    example_parser.add_argument("name", nargs="?", help="the example to print")
    return parser


def _sections(text: str) -> tuple[str, ...]:
    try:
        return resolve(name.strip() for name in text.split(",") if name.strip())
    except SymbackpropError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _render_options(args: argparse.Namespace, renderer: Renderer) -> dict[str, object]:
    """The renderer's keyword arguments; an option the format does not take is an error."""
    options: dict[str, object] = {"expanded": args.expanded}
    if args.sections is not None:
        options["sections"] = args.sections
    if args.standalone:
        options["standalone"] = True
    if args.picture is not None:
        options["picture"] = args.picture
    if args.handout:
        if args.sections is not None:
            raise SymbackpropError("--sections cannot be used with --handout")
        options["handout"] = True
    for name in ("title", "author"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    accepted = inspect.signature(renderer).parameters
    for name in options:
        if name not in accepted:
            raise SymbackpropError(f"--{name} cannot be used with --format {args.format}")
    return options


def _derive(args: argparse.Namespace) -> int:
    from .derivation import KINK_CONVENTIONS, Options, derive
    from .formats import FORMATS, STACK_FORMATS, load
    from .spec import load_spec
    from .stack_spec import StackSpec

    load()
    _refuse_overwrite(args)
    spec = load_spec(args.spec)
    stack = isinstance(spec, StackSpec)
    if stack and args.format not in STACK_FORMATS:
        raise SymbackpropError(
            f"{spec.source}: --format {args.format} does not render [[layers]] stacks with "
            f"convolution or pooling yet; expected one of: {', '.join(sorted(STACK_FORMATS))}"
        )
    render_options = _render_options(args, (STACK_FORMATS if stack else FORMATS)[args.format])
    options = Options(
        KINK_CONVENTIONS[args.relu_prime_at_zero], args.expand_limit, args.digits, args.exact_limit
    )
    derivation = derive(spec, options)
    _emit(derivation.to(args.format, **render_options), args.output)
    return 0


def _check_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "check",
        help="compare the exact gradients with lambdified, NumPy-backprop and finite-difference "
        "ones, and with documented values; exit status 0 ok, 1 a check failed, 2 bad input",
    )
    _spec_argument(parser)
    parser.add_argument(
        "--format",
        choices=sorted(REPORT_FORMATS),
        default="text",
        help="output format (default: text)",
    )
    parser.add_argument(
        "--random-points",
        type=non_negative(MAX_RANDOM_POINTS),
        default=8,
        metavar="N",
        help="also compare at N random points of the same architecture, at most "
        f"{MAX_RANDOM_POINTS} (default: 8)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative(MAX_SEED),
        default=0,
        help=f"random seed of those points, from 0 to {MAX_SEED} (default: 0)",
    )
    parser.add_argument(
        "--backprop",
        metavar="TARGET",
        help="also check your own backprop, given as path/to/file.py:function or "
        "package.module:function (the code is imported, which runs it). Two conventions: "
        "backprop(params, x, y) -> grads, dicts keyed W1, b1, ... in the spec's shapes (biases "
        "flat, x one sample in the input's shape or a batch with a leading sample axis), for "
        "any network; or the notebook's backprop(weights, biases, x, y) -> (grads_W, grads_b), "
        "lists with biases as columns and one sample per column, for MLPs. A function of three "
        "positional parameters is taken to be the first",
    )
    timeout_option(parser, "--backprop")
    parser.add_argument(
        "--relu-prime-at-zero",
        choices=KINKS,
        default="0",
        help="the value of ReLU'(0) at an exact kink (default: 0, as the notebook)",
    )
    for name, default in (("rtol", RTOL), ("atol", ATOL)):
        parser.add_argument(
            f"--{name}",
            type=tolerance,
            default=default,
            help=f"{name} of float64 gradients against the exact values, from 0 to "
            f"{MAX_TOLERANCE:g} (default: {default:g}); "
            "finite differences and documented values keep their own",
        )
    parser.add_argument(
        "--save-failing",
        metavar="DIR",
        help="write every random point where a comparison fails to DIR as a spec file "
        "(random-point-K.toml), to re-run and debug",
    )
    parser.add_argument(
        "-o",
        "--output",
        help="write the report to this file (atomically); - is standard output (the default)",
    )


def _check(args: argparse.Namespace) -> int:
    from .check import check
    from .derivation import KINK_CONVENTIONS
    from .spec import load_spec

    _refuse_overwrite(args)
    report = check(
        load_spec(args.spec),
        backprop=args.backprop,
        random_points=args.random_points,
        seed=args.seed,
        relu_prime_at_zero=KINK_CONVENTIONS[args.relu_prime_at_zero],
        rtol=args.rtol,
        atol=args.atol,
        timeout=args.timeout,
    )
    _emit(getattr(report, REPORT_FORMATS[args.format])(), args.output)
    if args.save_failing is not None:
        _save_failing(report, args.spec, args.save_failing)
    return 0 if report.ok else 1


def _save_failing(report: CheckReport, spec: str, folder: str) -> None:
    """Write the failing random points of ``report`` as specs, and say where on stderr."""
    from .spec_writer import save_points

    specs = dict(report.points)
    named = [
        (label.replace(" ", "-"), specs[label], f"{label} of: symbackprop check {spec}")
        for label in report.failing_points()
    ]
    paths = save_points(folder, named)
    print(f"symbackprop: wrote {len(paths)} failing random points to {folder}", file=sys.stderr)


def _example(args: argparse.Namespace) -> int:
    if args.name is None:
        write_stdout("\n".join(example_names()) + "\n")
    else:
        write_stdout(example_text(args.name))
    return 0


def _emit(text: str, output: str | None) -> None:
    """Write to ``output`` (atomically), or to standard output for None or ``-``."""
    if output is None or output == "-":
        write_stdout(text)
    elif not output:
        raise SymbackpropError("-o/--output: expected a file name, or - for standard output")
    else:
        write_atomic(output, text)


def _refuse_overwrite(args: argparse.Namespace) -> None:
    """Refuse an ``-o`` that names the spec file itself."""
    if args.output and args.output != "-" and same_file(args.output, args.spec):
        raise SymbackpropError(
            f"-o/--output: {one_line(args.output, 200)} is the spec file itself; "
            "expected another file name"
        )


#: The commands that compute, and so take ``--time-limit``.
COMPUTING = ("derive", "check", "check-layer", "draw", "exercise", "grade")

COMMANDS = {
    "derive": _derive,
    "example": _example,
    "check": _check,
    "check-layer": layercheck_command.run,
    "draw": picture_command.run,
    "exercise": exercise_command.run_exercise,
    "grade": exercise_command.run_grade,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv``; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        with deadline(getattr(args, "time_limit", None)):
            return COMMANDS[args.command](args)
    except TimeLimitReached as stop:
        print(stopped_message(args.command, stop.limit), file=sys.stderr)
        return STOPPED
    except SymbackpropError as exc:
        print(f"symbackprop: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # -o writes atomically at the end, so an interrupted command leaves no partial file
        print("symbackprop: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """The console-script entry point.

    Text the terminal's encoding cannot show (``LANG=C``, ``PYTHONIOENCODING=ascii``) is written
    with backslash escapes (``\\u2202`` for ∂) rather than failing.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        status: int | str | None = main()
    except SystemExit as stop:  # --help, --version and usage errors
        status = stop.code
    except KeyboardInterrupt:  # while the parser is built, before main's own handler
        print("symbackprop: interrupted", file=sys.stderr)
        status = 130
    try:
        write_stdout("")  # what argparse printed, flushed while an error can still be reported
    except SymbackpropError as exc:
        print(f"symbackprop: error: {exc}", file=sys.stderr)
        status = 2
    sys.exit(status)
