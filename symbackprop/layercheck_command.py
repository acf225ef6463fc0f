"""The ``check-layer`` subcommand: its parser and its handler, for :mod:`symbackprop.cli`.

The checker (:mod:`symbackprop.layercheck`) is imported inside :func:`run`, not at import time.
"""

from __future__ import annotations

import argparse
from typing import Any

from .arguments import non_negative, timeout_option, tolerance
from .defaults import MAX_RANDOM_POINTS, MAX_SEED, MAX_TOLERANCE
from .files import write_stdout


def add_parser(commands: Any) -> None:
    """Add ``check-layer`` to the subcommands ``commands`` (handler: :func:`run`)."""
    parser = commands.add_parser(
        "check-layer",
        help="check one CS231n-style layer's forward and backward (or a loss function) against "
        "exact values; exit status 0 ok, 1 a mismatch, 2 bad input",
    )
    parser.add_argument(
        "kind",
        help="the layer kind, CS231n's function prefix: affine, relu, conv, max_pool, "
        "softmax_loss, svm_loss, batchnorm, layernorm, dropout, word_embedding, temporal_affine, "
        "temporal_softmax_loss, attention (an unknown kind lists them all)",
    )
    parser.add_argument(
        "--module",
        required=True,
        help="path/to/layers.py or package.module holding the functions (imported, which runs it)",
    )
    parser.add_argument(
        "--forward", metavar="NAME", help="the forward function (default: CS231n's name)"
    )
    parser.add_argument(
        "--backward", metavar="NAME", help="the backward function (default: CS231n's name)"
    )
    parser.add_argument(
        "--shape",
        metavar="SIZES",
        help="sizes over the kind's defaults, NAME=VALUE separated by commas, e.g. N=8,D=2x3 "
        "(the docs list each kind's sizes)",
    )
    parser.add_argument(
        "--random-points",
        type=non_negative(MAX_RANDOM_POINTS),
        default=5,
        metavar="N",
        help=f"random points, at most {MAX_RANDOM_POINTS} (default: 5)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative(MAX_SEED),
        default=0,
        help=f"random seed, from 0 to {MAX_SEED} (default: 0)",
    )
    parser.add_argument(
        "--format", choices=["json", "text"], default="text", help="output format (default: text)"
    )
    for name, default in (("rtol", 1e-7), ("atol", 1e-9)):
        parser.add_argument(
            f"--{name}",
            type=tolerance,
            default=default,
            help=f"{name}: pass when |value - exact| <= atol + rtol |exact|, from 0 to "
            f"{MAX_TOLERANCE:g} (default: {default:g})",
        )
    timeout_option(parser, "--module")


def run(args: argparse.Namespace) -> int:
    """Run ``check-layer``; print the report; 0 ok, 1 a mismatch (bad input raises)."""
    from .errors import SymbackpropError
    from .isolation import Isolated
    from .layercheck.check import Functions, check_functions
    from .layercheck.kinds import lookup
    from .layercheck.user import LayerFunctionError

    kind = lookup(args.kind)
    try:
        forward = args.forward or kind.forward
        backward = None if kind.loss else (args.backward or kind.backward)
        if kind.loss and args.backward:
            raise LayerFunctionError(f"check-layer {kind.name}: a loss has no --backward")
        isolated = Isolated(args.module, args.timeout)
        functions = Functions(None, None, forward, backward, args.module, isolated)
        report = check_functions(
            kind.name, functions, args.shape, args.random_points, args.seed, args.rtol, args.atol
        )
    except LayerFunctionError as exc:  # one line: the exception and where in the user's code
        raise SymbackpropError(str(exc).splitlines()[0]) from None
    write_stdout(report.json() if args.format == "json" else report.text())
    return 0 if report.ok else 1
