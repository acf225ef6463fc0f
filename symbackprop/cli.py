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

from . import exercise_command, layercheck_command
from ._version import __version__
from .arguments import non_negative, positive, tolerance
from .builtin import example_names, example_text
from .defaults import ATOL, EXACT_LIMIT, EXPAND_LIMIT, KINKS, REPORT_FORMATS, RTOL
from .errors import SymbackpropError
from .files import write_atomic
from .formats import MODULES, Renderer
from .render.sections import resolve

if TYPE_CHECKING:
    from .check import CheckReport


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _spec_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec",
        nargs="?",
        default="seed",
        help="a TOML spec file or a built-in example name "
        f"({', '.join(example_names())}); default: seed",
    )


def _derivation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--digits",
        type=positive,
        default=12,
        help="significant digits of decimal values (default: 12)",
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
        type=non_negative,
        default=EXPAND_LIMIT,
        help=f"largest expanded form to build, in expression-tree nodes (default: {EXPAND_LIMIT})",
    )
    derive_parser.add_argument(
        "--exact-limit",
        type=non_negative,
        default=EXACT_LIMIT,
        help="largest exact value to print, in expression-tree nodes; decimals are always given "
        f"(default: {EXACT_LIMIT})",
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
        help="comma-separated sections to render, for latex, markdown, html and mathml "
        f"(default: all): {', '.join(resolve(None))}",
    )
    derive_parser.add_argument(
        "--standalone",
        action="store_true",
        help="with --format latex: a complete document for pdflatex instead of a fragment",
    )
    _check_parser(commands)
    layercheck_command.add_parser(commands)
    exercise_command.add_parsers(commands)
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
        type=non_negative,
        default=8,
        metavar="N",
        help="also compare at N random points of the same architecture (default: 8)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative,
        default=0,
        help="random seed of those points, an integer >= 0 (default: 0)",
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
            help=f"{name} of float64 gradients against the exact values (default: {default:g}); "
            "finite differences and documented values keep their own",
        )
    parser.add_argument(
        "--save-failing",
        metavar="DIR",
        help="write every random point where a comparison fails to DIR as a spec file "
        "(random-point-K.toml), to re-run and debug; dense networks only",
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

    report = check(
        load_spec(args.spec),
        backprop=args.backprop,
        random_points=args.random_points,
        seed=args.seed,
        relu_prime_at_zero=KINK_CONVENTIONS[args.relu_prime_at_zero],
        rtol=args.rtol,
        atol=args.atol,
    )
    _emit(getattr(report, REPORT_FORMATS[args.format])(), args.output)
    if args.save_failing is not None:
        _save_failing(report, args.spec, args.save_failing)
    return 0 if report.ok else 1


def _save_failing(report: CheckReport, spec: str, folder: str) -> None:
    """Write the failing random points of ``report`` as specs, and say where on stderr."""
    from .spec_writer import save_points

    if not report.points:
        print("symbackprop: --save-failing: only dense networks can be saved yet", file=sys.stderr)
        return
    specs = dict(report.points)
    named = [
        (label.replace(" ", "-"), specs[label], f"{label} of: symbackprop check {spec}")
        for label in report.failing_points()
    ]
    paths = save_points(folder, named)
    print(f"symbackprop: wrote {len(paths)} failing random points to {folder}", file=sys.stderr)


def _example(args: argparse.Namespace) -> int:
    if args.name is None:
        print("\n".join(example_names()))
    else:
        sys.stdout.write(example_text(args.name))
    return 0


def _emit(text: str, output: str | None) -> None:
    """Write to ``output`` (atomically), or to standard output for None or ``-``."""
    if output is None or output == "-":
        sys.stdout.write(text)
    elif not output:
        raise SymbackpropError("-o/--output: expected a file name, or - for standard output")
    else:
        write_atomic(output, text)


COMMANDS = {
    "derive": _derive,
    "example": _example,
    "check": _check,
    "check-layer": layercheck_command.run,
    "exercise": exercise_command.run_exercise,
    "grade": exercise_command.run_grade,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv``; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except SymbackpropError as exc:
        print(f"symbackprop: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # -o writes atomically at the end, so an interrupted command leaves no partial file
        print("symbackprop: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """The console-script entry point."""
    sys.exit(main())
