"""The ``draw`` subcommand: its parser and its handler, for :mod:`symbackprop.cli`.

The drawing (:mod:`symbackprop.picture`) and the derivation are imported inside :func:`run`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .builtin import example_names
from .defaults import KINKS
from .errors import SymbackpropError
from .files import write_atomic
from .picture import PICTURE_FORMATS


def add_parser(commands: Any) -> None:
    """Add ``draw`` to the subcommands ``commands`` (handler: :func:`run`)."""
    parser = commands.add_parser(
        "draw",
        help="draw the network with its activations, weights, biases, target and loss at the "
        "documented point, as SVG, TikZ or PDF",
    )
    parser.add_argument(
        "spec",
        nargs="?",
        default="seed",
        help="a TOML spec file or a built-in example name "
        f"({', '.join(example_names())}); default: seed",
    )
    parser.add_argument(
        "-o",
        "--output",
        help="the file to write: .svg, .tex (a tikzpicture needing \\usepackage{tikz}) or .pdf "
        "(through pdflatex); - or none is SVG on standard output",
    )
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument(
        "--gradients",
        dest="gradients",
        action="store_const",
        const="both",
        default="weights",
        help="label edges and biases with dJ/dW and dJ/db (in red) as well as their values; "
        "a [[layers]] stack's boxes hold the gradient of each of their parameters",
    )
    labels.add_argument(
        "--gradients-only",
        dest="gradients",
        action="store_const",
        const="only",
        help="label edges and biases with dJ/dW and dJ/db instead of their values (a stack's "
        "boxes: as with --gradients)",
    )
    parser.add_argument(
        "--relu-prime-at-zero",
        choices=KINKS,
        default="0",
        help="the value of ReLU'(0) at an exact kink (default: 0, as the notebook)",
    )


def _format(output: str | None) -> str:
    if output is None or output == "-":
        return "svg"
    suffix = Path(output).suffix.lower()
    if suffix not in PICTURE_FORMATS:
        raise SymbackpropError(
            f"-o {output}: unknown picture format '{suffix}'; expected one of: "
            f"{', '.join(sorted(PICTURE_FORMATS))}"
        )
    return PICTURE_FORMATS[suffix]


def run(args: argparse.Namespace) -> int:
    """Draw ``args.spec`` to ``args.output``; return the exit status."""
    from .derivation import KINK_CONVENTIONS, Options, derive
    from .picture import draw
    from .spec import load_spec

    fmt = _format(args.output)
    spec = load_spec(args.spec)
    options = Options(relu_prime_at_zero=KINK_CONVENTIONS[args.relu_prime_at_zero])
    picture = draw(derive(spec, options), fmt, gradients=args.gradients)
    if isinstance(picture, bytes):
        _write_bytes(args.output, picture)
    elif args.output is None or args.output == "-":
        sys.stdout.write(picture)
    else:
        write_atomic(args.output, picture)
    return 0


def _write_bytes(output: str, data: bytes) -> None:
    """Write a PDF through a temporary file, so a failure leaves no partial file."""
    target = Path(output)
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        temporary.write_bytes(data)
        temporary.replace(target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise SymbackpropError(f"{target}: cannot write output: {exc.strerror or exc}") from None
