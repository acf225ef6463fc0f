"""The loss registry: one entry per loss, each mapping (prediction, target) to a SymPy scalar.

Adding a loss is one ``register(Loss(...))`` call at the bottom of this module. An entry may
also state an assumption about its targets (one-hot for categorical cross-entropy) that the
derivation applies explicitly, as a recorded step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sympy import (
    Add,
    Eq,
    Expr,
    ImmutableMatrix,
    Integer,
    Rational,
    Symbol,
    collect,
    exp,
    expand,
    log,
)

from .activations import ReLU, normalize

Vector = Sequence[Symbol]
#: (derived expression, prediction symbol, targets) -> (expression, the assumption used) or None
Assumption = Callable[[Expr, Symbol, Vector], "tuple[Expr, Eq] | None"]


@dataclass(frozen=True)
class Loss:
    """One per-sample loss J_s(yhat, y) and what it requires of the network and targets."""

    name: str
    per_sample: Callable[[Vector, Vector, Mapping[str, Any]], Expr]
    output_activations: tuple[str, ...] | None = None
    check_target: Callable[[ImmutableMatrix], str | None] = lambda y: None
    assumption: Assumption | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    #: The rank of one sample's prediction: 1 for a vector, 2 for a (T, V) sequence.
    output_rank: int = 1


LOSSES: dict[str, Loss] = {}
#: Other spellings of a loss name (after :func:`canonical_loss`'s case folding).
LOSS_ALIASES: dict[str, str] = {}

#: Options every loss takes: how the per-sample losses of a batch are combined.
REDUCTIONS = ("mean", "sum")


def register(loss: Loss, *aliases: str) -> Loss:
    """Add ``loss`` (and any alias names) to the registry."""
    LOSSES[loss.name] = loss
    LOSS_ALIASES.update(dict.fromkeys(aliases, loss.name))
    return loss


def canonical_loss(name: str) -> str:
    """Resolve case, spelling and aliases: ``canonical_loss("CE") == "cross_entropy"``.

    Any case is accepted, and ``-`` or a space reads as ``_``.
    """
    key = normalize(name)
    return LOSS_ALIASES.get(key, key)


def _one_hot_target(y: ImmutableMatrix) -> str | None:
    for s in range(y.cols):
        column = list(y[:, s])
        if any(v not in (0, 1) for v in column) or sum(column) != 1:
            where = f" (sample {s + 1})" if y.cols > 1 else ""
            return f"must be one-hot for cross_entropy: 0s and exactly one 1{where}"
    return None


def _binary_target(y: ImmutableMatrix) -> str | None:
    if any(not (0 <= v <= 1) for v in y):
        return "must lie in [0, 1] for binary_cross_entropy"
    return None


def _targets_sum_to_one(expr: Expr, prediction: Symbol, targets: Vector) -> tuple[Expr, Eq] | None:
    """Apply sum_k y_k = 1 to an expression linear in ``prediction``."""
    total = Add(*targets)
    collected = collect(expand(expr), prediction)
    applied = collected.xreplace({total: 1})
    return None if applied == collected else (applied, Eq(total, 1))


def _cross_entropy(yhat: Vector, y: Vector, opts: Mapping[str, Any]) -> Expr:
    return -Add(*[t * log(p) for p, t in zip(yhat, y, strict=True)])


def _binary_cross_entropy(yhat: Vector, y: Vector, opts: Mapping[str, Any]) -> Expr:
    terms = [t * log(p) + (1 - t) * log(1 - p) for p, t in zip(yhat, y, strict=True)]
    return -Add(*terms)


def _squared_error(yhat: Vector, y: Vector, opts: Mapping[str, Any]) -> Expr:
    factor = Rational(1, 2) if opts["half"] else 1
    return factor * Add(*[(p - t) ** 2 for p, t in zip(yhat, y, strict=True)])


register(
    Loss(
        "cross_entropy",
        _cross_entropy,
        ("softmax",),
        _one_hot_target,
        _targets_sum_to_one,
        description="J = -sum_k y_k log(yhat_k)",
    ),
    "ce",
    "crossentropy",
    "categorical_cross_entropy",
    "categorical_crossentropy",
    "softmax_cross_entropy",
    "nll",
)
register(
    Loss(
        "binary_cross_entropy",
        _binary_cross_entropy,
        ("sigmoid",),
        _binary_target,
        description="J = -sum_k [y_k log(yhat_k) + (1 - y_k) log(1 - yhat_k)]",
    ),
    "bce",
    "binary_crossentropy",
    "sigmoid_cross_entropy",
    "log_loss",
)


def _temporal_cross_entropy(scores: Vector, y: Vector, opts: Mapping[str, Any]) -> Expr:
    """-sum_t sum_v y_tv log softmax(s_t)_v, with log softmax = s_tv - log sum_k exp(s_tk)."""
    terms = []
    for row, target in zip(scores, y, strict=True):
        normaliser = log(Add(*(exp(s) for s in row)))
        terms += [t * (normaliser - s) for s, t in zip(row, target, strict=True)]
    return Add(*terms)


def _sequence_only(y: ImmutableMatrix) -> str | None:
    return (
        "is per time step for temporal_cross_entropy: give [[layers]] ending in a (T, V) "
        "sequence and [data] labels (one per step)"
    )


register(
    Loss(
        "squared_error",
        _squared_error,
        options={"half": True},
        description="J = c sum_k (yhat_k - y_k)^2, c = 1/2 when half = true",
    ),
    "mse",
    "sse",
    "squared_loss",
)

register(
    Loss(
        "temporal_cross_entropy",
        _temporal_cross_entropy,
        ("identity",),
        _sequence_only,
        description=(
            "J_s = -sum_t mask_t log softmax(s_t)[label_t] over the time steps t of (T, V) "
            "scores (CS231n's temporal_softmax_loss; mean reduction divides by N)"
        ),
        output_rank=2,
    )
)


def multiclass_hinge(scores: Sequence[Expr], y: Sequence[Expr], margin: Expr = Integer(1)) -> Expr:
    """CS231n's multiclass SVM loss of one sample, the class given one-hot in ``y``.

    J = sum_{j != class} max(0, s_j - s_class + margin). Not registered in :data:`LOSSES`: it
    pairs with no output activation or reference backprop; ``check-layer svm_loss`` uses it.
    """
    correct = Add(*[t * s for s, t in zip(scores, y, strict=True)])
    return Add(*[(1 - t) * ReLU(s - correct + margin) for s, t in zip(scores, y, strict=True)])
