"""Check gradients from independent oracles against the exact values, entry by entry.

At the documented point and at random points of the same architecture, the exact gradients
are compared with

- the lambdified closed forms (:mod:`symbackprop.numeric`), evaluated in float64;
- the hand-written NumPy backprop (:mod:`symbackprop.reference`), which shares no formula code
  with the symbolic side;
- the user's own backprop, if one is given (:mod:`symbackprop.userbackprop`);
- central finite differences of the reference loss (:mod:`symbackprop.finite_differences`),
  where entries whose difference quotient straddles a ReLU kink are flagged, not judged;

and an ``[expected]`` table of documented values is compared with the exact values with
numpy.isclose semantics, decided exactly (at 60 significant digits, never against a float), and
diagnosed: the digits each entry matches, the loosest ``atol`` the table needs, what each entry
should read at its written precision, and whether the hand values follow from a rounded ŷ.

Exact values are compared as numbers to 60 significant digits (:func:`exact_numbers`): the same
one-level definitions that give the closed forms of ``derive``, evaluated with rationals kept
exact and transcendental numbers carried at 80 digits or, where rounding cancels digits (as in
log(1 - sigma(200))), as many more as it takes, so a float64 result is judged against a value
whose error is some 40 orders of magnitude below any tolerance.

>>> report = check("seed", random_points=2)
>>> report.ok
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from sympy import Rational

from . import notation
from .checking.compare import (
    DOCUMENTED,
    DOCUMENTED_POINT,
    FD_ATOL,
    FD_RTOL,
    FINITE_DIFFERENCES,
    LAMBDIFIED,
    ORDER,
    REFERENCE,
    USER,
    Comparison,
    EntryFailure,
    isolated_gradients,
    prepare,
    user_comparisons,
    user_gradients,
)
from .checking.diagnosis import diagnosis
from .checking.documented import (
    Documented,
    DocumentedEntry,
    RoundedPrediction,
    diagnose_documented,
    documented_comparison,
)
from .checking.exact_tables import Table, exact_numbers, indices
from .checking.likely import Likely, likely_mistakes
from .checking.precision import DIGITS, GUARD, MAX_PRECISION, PRECISION, Real
from .checking.report import CheckReport
from .checking.stack import check_stack
from .defaults import ATOL, REPORT_FORMATS, RTOL
from .derivation import Derivation, Options, derive
from .errors import SymbackpropError
from .finite_differences import DEFAULT_RELATIVE_STEP
from .isolation import MAX_TIMEOUT, TIMEOUT, Isolated
from .spec import NetworkSpec, load_spec
from .spec_dict import spec_from_dict
from .stack_spec import StackSpec
from .userbackprop import Backprop, function_name, parse_target, target_name

__all__ = [
    "ATOL",
    "DIGITS",
    "DOCUMENTED",
    "DOCUMENTED_POINT",
    "FD_ATOL",
    "FD_RTOL",
    "FINITE_DIFFERENCES",
    "GUARD",
    "LAMBDIFIED",
    "MAX_PRECISION",
    "PRECISION",
    "REFERENCE",
    "REPORT_FORMATS",
    "RTOL",
    "USER",
    "CheckReport",
    "Comparison",
    "Documented",
    "DocumentedEntry",
    "EntryFailure",
    "Likely",
    "Real",
    "RoundedPrediction",
    "check",
    "exact_numbers",
]


def check(
    spec: NetworkSpec | StackSpec | Derivation | Mapping[str, Any] | str | Path = "seed",
    *,
    backprop: Backprop | str | None = None,
    random_points: int = 8,
    seed: int = 0,
    relu_prime_at_zero: Rational | str | float = Rational(0),
    rtol: float = RTOL,
    atol: float = ATOL,
    timeout: float = TIMEOUT,
) -> CheckReport:
    """Compare the exact gradients of ``spec`` with every oracle, at the documented point and at
    ``random_points`` random points.

    Args:
        spec: a spec, a derivation, a TOML path, a built-in example name, or a dict of the
            TOML tables (see :func:`~symbackprop.spec_dict.spec_from_dict`).
        backprop: the user's ``backprop(weights, biases, x, y) -> (grads_W, grads_b)``, or a
            ``path.py:function`` / ``package.module:function`` target, imported and called at
            every point in one child process (:mod:`symbackprop.isolation`).
        random_points: how many random points besides the documented one (reproducible).
        seed: the random seed of those points.
        relu_prime_at_zero: the value of ReLU'(0): 0, 1/2 or 1.
        rtol: relative tolerance of float64 gradients against the exact values.
        atol: absolute tolerance of float64 gradients against the exact values.
        timeout: the time limit, in seconds, of a ``backprop`` target's child process.

    Returns:
        The report; ``report.ok`` is true when every comparison holds.

    Raises:
        SpecError: the spec is invalid.
        UserBackpropError: the user's backprop cannot be loaded, raises, or returns the wrong
            shapes, list lengths, NaN or inf; its process exits, crashes or runs past
            ``timeout``.

    Example:
        >>> report = check("seed-notebook", random_points=0)
        >>> report.ok, [f.entry for f in report.failures()][:2]
        (False, ['dW2[0,1]', 'dW2[0,2]'])
    """
    convention = _convention(random_points, rtol, atol, relu_prime_at_zero)
    function = _user_function(backprop, timeout)
    if isinstance(spec, Mapping):
        spec = spec_from_dict(spec)
    elif isinstance(spec, str | Path):
        spec = load_spec(spec)
    if isinstance(spec, StackSpec):
        return _check_stack(spec, function, random_points, seed, convention, rtol, atol)
    derivation = _derivation(spec, convention)
    prepared = prepare(derivation, random_points, seed, rtol, atol)
    comparisons = list(prepared.comparisons)
    name = _function_name(function)
    if isinstance(function, Isolated):
        found = isolated_gradients(prepared, function)
        user: list[dict[str, Any]] | None = found.results
        name = found.name
    else:
        user = None if function is None else user_gradients(prepared, function)
    if user is not None:
        comparisons += user_comparisons(prepared, user, rtol, atol)
    documented = diagnose_documented(derivation, prepared.points[0].exact)
    if documented is not None:
        comparisons.append(documented_comparison(documented))
    comparisons.sort(key=lambda c: ORDER.index(c.name))
    settings = _settings(
        derivation,
        function,
        random_points=random_points,
        seed=seed,
        relu_prime_at_zero=str(convention),
        rtol=rtol,
        atol=atol,
    )
    settings["backprop"] = name
    report = CheckReport(
        ok=all(c.ok for c in comparisons),
        comparisons=tuple(comparisons),
        title=_title(derivation),
        documented=documented,
        settings=settings,
        notes=(
            *prepared.notes,
            *_kink_notes(_kinks(derivation, prepared.points[0].exact), convention),
        ),
        updated=_updated(derivation),
        likely=likely_mistakes(prepared, user, comparisons, documented, rtol, atol),
        points=tuple((p.label, p.spec) for p in prepared.points),
    )
    return replace(report, diagnosis=tuple(diagnosis(report)))


def _user_function(backprop: Backprop | str | None, timeout: float) -> Backprop | Isolated | None:
    """A target string as an :class:`Isolated` child job (its syntax checked now)."""
    if not isinstance(backprop, str):
        return backprop
    if not 0 < timeout <= MAX_TIMEOUT:
        raise SymbackpropError(f"timeout must be > 0 and <= {MAX_TIMEOUT:g} s; got {timeout}")
    parse_target(backprop)
    return Isolated(backprop, timeout)


def _check_stack(
    spec: StackSpec,
    function: Backprop | Isolated | None,
    random_points: int,
    seed: int,
    convention: Rational,
    rtol: float,
    atol: float,
) -> CheckReport:
    settings = _base_settings(
        function,
        random_points=random_points,
        seed=seed,
        relu_prime_at_zero=str(convention),
        rtol=rtol,
        atol=atol,
    )
    return check_stack(
        spec,
        random_points=random_points,
        seed=seed,
        convention=convention,
        rtol=rtol,
        atol=atol,
        settings=settings,
        backprop=function,
    )


def _convention(
    random_points: int, rtol: float, atol: float, relu_prime_at_zero: Rational | str | float
) -> Rational:
    """ReLU'(0) as a Rational, once the arguments of :func:`check` are valid."""
    if random_points < 0:
        raise SymbackpropError(f"random_points must be >= 0; got {random_points}")
    if not (rtol >= 0 and atol >= 0):
        raise SymbackpropError(f"rtol and atol must be >= 0; got rtol={rtol}, atol={atol}")
    convention = Rational(relu_prime_at_zero)
    Options(relu_prime_at_zero=convention)  # validates the convention
    return convention


@lru_cache(maxsize=8)
def _derive(spec: NetworkSpec, text: str, convention: Rational) -> Derivation:
    """A cached derivation (``text`` is part of the key: specs compare without it)."""
    return derive(spec, Options(relu_prime_at_zero=convention))


def _derivation(spec: NetworkSpec | Derivation, convention: Rational) -> Derivation:
    if isinstance(spec, Derivation):
        if spec.options.relu_prime_at_zero == convention:
            return spec
        return replace(spec, options=replace(spec.options, relu_prime_at_zero=convention))
    try:
        return _derive(spec, spec.text, convention)
    except TypeError:  # pragma: no cover - an unhashable spec
        return derive(spec, Options(relu_prime_at_zero=convention))


def _base_settings(function: Backprop | Isolated | None, **given: Any) -> dict[str, Any]:
    """The ``given`` arguments of :func:`check`, then finite differences and backprop."""
    return {
        **given,
        "finite_difference_rtol": FD_RTOL,
        "finite_difference_atol": FD_ATOL,
        "finite_difference_step": f"{DEFAULT_RELATIVE_STEP:.3g} * max(1, |theta|)",
        "backprop": _function_name(function),
    }


def _settings(
    derivation: Derivation, function: Backprop | Isolated | None, **given: Any
) -> dict[str, Any]:
    """:func:`_base_settings`, then the spec's training step."""
    settings = _base_settings(function, **given)
    training = derivation.spec.training
    if training is not None:
        kept = "" if training.update_biases else ", biases not updated"
        settings["training"] = f" (learning rate {training.learning_rate}{kept})"
    return settings


def _kinks(derivation: Derivation, exact: Table) -> list[str]:
    """The hidden pre-activations of kinked layers that are exactly 0 at the documented point
    (``exact``, its table), named as ``derive``'s kink note names them."""
    network = derivation.network
    return [
        notation.entry_name(f"z{layer.index + 1}", index)
        for layer in network.layers
        if layer.function.has_kink and layer is not network.output
        for (i, j), index in indices((layer.z_definition.rows, layer.z_definition.cols))
        if exact[f"z{layer.index + 1}"][i][j] == 0
    ]


def _kink_notes(kinks: list[str], convention: Rational) -> list[str]:
    if not kinks:
        return []
    return [
        f"pre-activation {', '.join(kinks)} is exactly 0 at the documented "
        f"point: gradient entries that depend on the convention ReLU'(0) = {convention} are "
        "not judged there against float64 results"
    ]


def _updated(derivation: Derivation) -> tuple[tuple[str, str, str], ...]:
    """The parameters after the spec's gradient-descent step, exactly and as decimals."""
    rows = []
    for key, matrix in (derivation.updated or {}).items():
        for i in range(matrix.rows):
            for j in range(matrix.cols):
                value = matrix[i, j]
                index = (i,) if matrix.cols == 1 else (i, j)
                rows.append(
                    (
                        notation.entry_name(key, index),
                        str(derivation.exact_form(value)),
                        derivation.decimal(value),
                    )
                )
    return tuple(rows)


def _function_name(function: Backprop | Isolated | None) -> str | None:
    """The user's function as reports name it (a target's until its child names it)."""
    if function is None:
        return None
    if isinstance(function, Isolated):
        return target_name(function.target)
    return function_name(function)


def _title(derivation: Derivation) -> str:
    from .render.common import title

    return title(derivation)
