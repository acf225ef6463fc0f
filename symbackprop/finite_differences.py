"""Central finite differences: the third, model-free gradient oracle.

Knows nothing about networks: it perturbs one parameter entry at a time and calls a function.
It imports nothing from the rest of the package, so it is independent of both the symbolic
gradients and the hand-written backprop.

Step choice. For a smooth f, the central difference (f(θ+h) - f(θ-h)) / 2h has truncation
error about h² |f'''| / 6 and rounding error about ε |f| / h (ε = 2.2e-16, the float64
machine epsilon). The sum is smallest for h ~ ε^(1/3) ≈ 6.06e-6, where both are ~ε^(2/3)
≈ 4e-11 relative. The step is made relative, h = ε^(1/3) · max(1, |θ|), so large parameters
get a proportionally larger step, and exactly representable: the points evaluated are
θ⁺ = fl(θ + h) and θ⁻ = fl(θ - h) and the quotient divides by θ⁺ - θ⁻ (exact by Sterbenz), the
distance actually travelled, rather than by the nominal 2h.

Batched. :func:`differences_and_kinks` (and its two halves :func:`batched_central_differences`
and :func:`batched_kink_mask`) evaluates many perturbed points per call: one parameter array
carries a leading axis of P copies, each with one entry at θ⁺ or θ⁻, and the other arrays are
unchanged, so a NumPy function broadcasts over the copies. P is chosen so that P times the
size of the array (and of the kink arguments) stays under :data:`CHUNK_FLOATS`; the function is
called once per chunk, not once per entry. The points and the quotient are those of the scalar
functions, entry by entry.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]
Parameters = tuple[list[Array], list[Array] | None]
Flags = tuple[list[NDArray[np.bool_]], list[NDArray[np.bool_]] | None]
LossFunction = Callable[[list[Array], list[Array] | None], float]
KinkInputs = Callable[[list[Array], list[Array] | None], Sequence[ArrayLike]]
#: ``losses(weights, biases)`` -> one loss per copy, where one array carries P stacked copies.
BatchedLosses = Callable[[list[Array], list[Array] | None], ArrayLike]
#: ``evaluate(weights, biases)`` -> ``(losses or None, kink arguments)`` of P stacked copies.
BatchedEvaluation = Callable[
    [list[Array], list[Array] | None], tuple[ArrayLike | None, Sequence[ArrayLike]]
]

DEFAULT_RELATIVE_STEP: float = float(np.finfo(np.float64).eps ** (1.0 / 3.0))
#: The float64 numbers per chunk of stacked copies (16 MiB): P x (array size + kink sizes).
CHUNK_FLOATS: int = 1 << 21

__all__ = [
    "CHUNK_FLOATS",
    "DEFAULT_RELATIVE_STEP",
    "batched_central_differences",
    "batched_kink_mask",
    "central_difference",
    "central_differences",
    "differences_and_kinks",
    "kink_mask",
    "perturbation",
]


def perturbation(theta: float, step: float | None = None) -> tuple[float, float]:
    """The two points θ⁻ < θ⁺ at which one parameter entry is evaluated.

    Args:
        theta: The parameter value.
        step: Relative step h₀ (default ``DEFAULT_RELATIVE_STEP`` = ε^(1/3) ≈ 6.06e-6);
            the actual step is h = h₀ · max(1, |θ|).

    Returns:
        ``(theta_minus, theta_plus)``, both float64 numbers; ``theta_plus - theta_minus`` is
        computed exactly.

    Example:
        >>> lo, hi = perturbation(1.0, step=0.25)
        >>> lo, hi
        (0.75, 1.25)
    """
    base = DEFAULT_RELATIVE_STEP if step is None else step
    h = (theta + base * max(1.0, abs(theta))) - theta
    return theta - h, theta + h


def _copy(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike] | None) -> Parameters:
    ws = [np.array(w, dtype=np.float64) for w in weights]
    return ws, None if biases is None else [np.array(b, dtype=np.float64) for b in biases]


def _over_entries(
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    step: float | None,
    per_entry: Callable[[Parameters, float, float, Array, tuple[int, ...]], float],
    dtype: type,
) -> tuple[list[NDArray[Any]], list[NDArray[Any]] | None]:
    """Call ``per_entry(params, lo, hi, array, index)`` for every entry of every parameter.

    ``per_entry`` may set ``array[index]`` but must leave it changed only temporarily; the
    original value is restored here. Results are collected into arrays shaped like the
    parameters.
    """
    params = _copy(weights, biases)
    groups = [params[0]] if params[1] is None else [params[0], params[1]]
    results: list[list[NDArray[Any]]] = []
    for group in groups:
        out_group: list[NDArray[Any]] = []
        for array in group:
            out: NDArray[Any] = np.zeros(array.shape, dtype=dtype)
            for index in np.ndindex(array.shape):
                theta = float(array[index])
                lo, hi = perturbation(theta, step)
                out[index] = per_entry(params, lo, hi, array, index)
                array[index] = theta
            out_group.append(out)
        results.append(out_group)
    return results[0], results[1] if len(results) > 1 else None


def central_differences(
    loss_fn: LossFunction,
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    step: float | None = None,
) -> Parameters:
    """Estimate every partial derivative of ``loss_fn`` by central differences.

    Args:
        loss_fn: ``loss_fn(weights, biases) -> float``, a float64 scalar. It receives working
            copies (never the caller's arrays) and must not keep or modify them.
        weights: The weight matrices at the point.
        biases: The bias vectors, or ``None``.
        step: Relative step h₀; see :func:`perturbation`.

    Returns:
        ``(grads_W, grads_b)`` shaped like the parameters; ``grads_b`` is ``None`` when
        ``biases`` is.

    Example:
        >>> gw, gb = central_differences(lambda w, b: float(w[0][0, 0] ** 2), [[[3.0]]], None)
        >>> round(float(gw[0][0, 0]), 8), gb
        (6.0, None)
    """

    def quotient(params: Parameters, lo: float, hi: float, array: Array, index: tuple) -> float:
        array[index] = hi
        upper = loss_fn(*params)
        array[index] = lo
        lower = loss_fn(*params)
        return (upper - lower) / (hi - lo)

    return _over_entries(weights, biases, step, quotient, np.float64)


def central_difference(
    loss_fn: LossFunction,
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    entry: tuple[int, int, tuple[int, ...]],
    step: float | None = None,
) -> float:
    """The central difference of one entry, ``(group, layer, index)``: group 0 the weights, 1
    the biases. A caller compares two steps to see whether float64 resolves the quotient.

    Example:
        >>> loss = lambda w, b: float(w[0][0, 0] ** 3)
        >>> central_difference(loss, [[[1.0]]], None, (0, 0, (0, 0)), step=0.5)
        3.25
    """
    params = _copy(weights, biases)
    group, layer, index = entry
    array = (params[0] if group == 0 else params[1] or [])[layer]
    lo, hi = perturbation(float(array[index]), step)
    array[index] = hi
    upper = loss_fn(*params)
    array[index] = lo
    lower = loss_fn(*params)
    return (upper - lower) / (hi - lo)


def _crosses(base: Sequence[Array], plus: Sequence[Array], minus: Sequence[Array]) -> bool:
    """True if some kink argument is not strictly on one side of 0 at all three points.

    An argument the perturbation does not move at all is ignored, even if it is 0: then the
    function is constant along it and the kink does not matter.
    """
    stacked = [np.stack([zp, zm]) for zp, zm in zip(plus, minus, strict=True)]
    return bool(_batched_crosses(base, stacked, 1)[0])


def kink_mask(
    kink_inputs: KinkInputs,
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    step: float | None = None,
) -> tuple[list[NDArray[np.bool_]], list[NDArray[np.bool_]] | None]:
    """Flag the parameter entries whose finite difference straddles a ReLU-like kink.

    For each entry, the kink arguments (for example the pre-activations of the ReLU and
    leaky-ReLU layers) are evaluated at θ⁻, θ and θ⁺ with the same step as
    :func:`central_differences`. The entry is flagged if some argument that moves is not
    strictly positive at all three points or strictly negative at all three. This is exact
    rather than a bound: the central difference of such an entry mixes the two sides of a kink
    and says nothing about the one-sided derivative backprop reports, so a caller should treat
    it as meaningless rather than as a failure.

    Args:
        kink_inputs: ``kink_inputs(weights, biases)`` returning the kink arguments, e.g.
            ``lambda w, b: reference.kink_pre_activations(w, b, x, activations)``.
        weights: The weight matrices at the point.
        biases: The bias vectors, or ``None``.
        step: Relative step h₀; see :func:`perturbation`.

    Returns:
        ``(flags_W, flags_b)``: boolean arrays shaped like the parameters; ``flags_b`` is
        ``None`` when ``biases`` is.

    Example:
        >>> relu_input = lambda w, b: [w[0] @ np.array([[1.0], [-1.0]])]
        >>> flags, _ = kink_mask(relu_input, [np.array([[0.5, 0.5]])], None)
        >>> flags[0].tolist()
        [[True, True]]
    """
    params = _copy(weights, biases)
    base = [np.asarray(z, dtype=np.float64) for z in kink_inputs(*params)]
    if not base:  # no kinks (a smooth network): nothing to straddle, no entry to re-evaluate
        return _over_entries(weights, biases, step, lambda *_: False, np.bool_)

    def straddles(params: Parameters, lo: float, hi: float, array: Array, index: tuple) -> bool:
        array[index] = hi
        plus = [np.asarray(z, dtype=np.float64) for z in kink_inputs(*params)]
        array[index] = lo
        minus = [np.asarray(z, dtype=np.float64) for z in kink_inputs(*params)]
        return _crosses(base, plus, minus)

    return _over_entries(weights, biases, step, straddles, np.bool_)


# --- Batched: one call per chunk of perturbed copies -------------------------------------------


def _perturbations(theta: Array, step: float | None) -> tuple[Array, Array]:
    """:func:`perturbation` of every entry of ``theta`` at once, with the same float64 steps."""
    base = DEFAULT_RELATIVE_STEP if step is None else step
    h = (theta + base * np.maximum(1.0, np.abs(theta))) - theta
    return theta - h, theta + h


def _chunk(entries: int, per_copy: int, budget: int) -> int:
    """How many entries per call: each takes two copies (θ⁺ and θ⁻) of ``per_copy`` floats."""
    return max(1, min(entries, budget // max(1, 2 * per_copy)))


def _perturb(
    copies: Array, flat: NDArray[np.intp], lo: Array, hi: Array
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Put entry ``flat[i]`` of copy ``i`` at θ⁺ and of copy ``k + i`` at θ⁻ (``k =
    len(flat)``), in ``copies`` of shape ``(P, size)``; return the (row, column) pairs set."""
    rows, columns = np.arange(2 * len(flat)), np.concatenate([flat, flat])
    copies[rows, columns] = np.concatenate([hi[flat], lo[flat]])
    return rows, columns


def _batched_crosses(
    base: Sequence[Array], kinks: Sequence[ArrayLike], k: int
) -> NDArray[np.bool_]:
    """:func:`_crosses` for each of ``k`` entries, from the kink arguments of the ``2k`` copies
    (θ⁺ first, then θ⁻); an argument without the copy axis did not move."""
    flags = np.zeros(k, dtype=np.bool_)
    for z0, stacked in zip(base, kinks, strict=True):
        z = np.broadcast_to(np.asarray(stacked, dtype=np.float64), (2 * k, *z0.shape))
        zp, zm = z[:k], z[k:]
        moved = (zp != z0) | (zm != z0)
        positive = (z0 > 0) & (zp > 0) & (zm > 0)
        negative = (z0 < 0) & (zp < 0) & (zm < 0)
        flags |= np.any((moved & ~positive & ~negative).reshape(k, -1), axis=1)
    return flags


def differences_and_kinks(
    evaluate: BatchedEvaluation,
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    step: float | None = None,
    budget: int = CHUNK_FLOATS,
) -> tuple[Parameters, Flags]:
    """:func:`central_differences` and :func:`kink_mask` at once, a chunk of entries per call.

    Args:
        evaluate: ``evaluate(weights, biases) -> (losses, kinks)``. One array of the
            parameters carries a leading axis of P copies (the others are the point's); it
            returns the P losses (or ``None`` if only the kinks are wanted) and the kink
            arguments with the same leading axis, or without it for an argument that does not
            depend on that array. It is also called once on the plain point, for the kink
            arguments there. It must not keep or modify the arrays it receives.
        weights: The weight matrices at the point.
        biases: The bias vectors, or ``None``.
        step: Relative step h₀; see :func:`perturbation`.
        budget: The float64 numbers per call: P x (array size + kink sizes) stays under it.

    Returns:
        ``((grads_W, grads_b), (flags_W, flags_b))`` as :func:`central_differences` and
        :func:`kink_mask` return them: entry by entry the same points, quotients and flags.

    Example:
        >>> cube = lambda w, b: (np.sum(w[0] ** 3, axis=(-2, -1)), [])
        >>> (gw, _), (flags, _) = differences_and_kinks(cube, [np.array([[1.0, 2.0]])], None)
        >>> np.round(gw[0], 6).tolist(), flags[0].tolist()
        ([[3.0, 12.0]], [[False, False]])
    """
    params = _copy(weights, biases)
    base = [np.asarray(z, dtype=np.float64) for z in evaluate(*params)[1]]
    grads: list[list[Array]] = []
    flags: list[list[NDArray[np.bool_]]] = []
    for group in [params[0]] if params[1] is None else [params[0], params[1]]:
        results = [
            _over_array(evaluate, params, group, i, base, step, budget) for i in range(len(group))
        ]
        grads.append([quotients for quotients, _ in results])
        flags.append([crossed for _, crossed in results])
    if len(grads) == 1:
        return (grads[0], None), (flags[0], None)
    return (grads[0], grads[1]), (flags[0], flags[1])


def _over_array(
    evaluate: BatchedEvaluation,
    params: Parameters,
    group: list[Array],
    position: int,
    base: list[Array],
    step: float | None,
    budget: int,
) -> tuple[Array, NDArray[np.bool_]]:
    """The quotients and kink flags of every entry of ``group[position]``, one ``evaluate``
    per chunk; the array is put back afterwards."""
    array = group[position]
    theta = array.ravel()
    lo, hi = _perturbations(theta, step)
    quotients = np.zeros(theta.size, dtype=np.float64)
    crossed = np.zeros(theta.size, dtype=np.bool_)
    k = _chunk(theta.size, array.size + sum(z.size for z in base), budget)
    copies = np.repeat(theta.reshape(1, -1), 2 * k, axis=0)  # reused: put back after each call
    try:
        for start in range(0, theta.size, k):
            flat = np.arange(start, min(start + k, theta.size))
            rows, columns = _perturb(copies, flat, lo, hi)
            group[position] = copies[: len(rows)].reshape(len(rows), *array.shape)
            losses, kinks = evaluate(*params)
            copies[rows, columns] = theta[columns]
            if losses is not None:
                values = np.asarray(losses, dtype=np.float64).reshape(2 * len(flat))
                upper, lower = values[: len(flat)], values[len(flat) :]
                quotients[flat] = (upper - lower) / (hi[flat] - lo[flat])
            if base:
                crossed[flat] = _batched_crosses(base, kinks, len(flat))
    finally:
        group[position] = array
    return quotients.reshape(array.shape), crossed.reshape(array.shape)


def batched_central_differences(
    losses: BatchedLosses,
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    step: float | None = None,
    budget: int = CHUNK_FLOATS,
) -> Parameters:
    """:func:`central_differences` with ``losses(weights, biases)`` returning one loss per
    stacked copy (see :func:`differences_and_kinks`), called once per chunk of entries.

    Example:
        >>> square = lambda w, b: np.sum(w[0] ** 2, axis=(-2, -1))
        >>> gw, _ = batched_central_differences(square, [np.array([[3.0]])], None)
        >>> round(float(gw[0][0, 0]), 8)
        6.0
    """
    return differences_and_kinks(lambda w, b: (losses(w, b), ()), weights, biases, step, budget)[0]


def batched_kink_mask(
    kink_inputs: KinkInputs,
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike] | None,
    step: float | None = None,
    budget: int = CHUNK_FLOATS,
) -> Flags:
    """:func:`kink_mask` with ``kink_inputs`` evaluated on stacked copies (see
    :func:`differences_and_kinks`), called once per chunk of entries.

    Example:
        >>> relu_input = lambda w, b: [w[0] @ np.array([[1.0], [-1.0]])]
        >>> flags, _ = batched_kink_mask(relu_input, [np.array([[0.5, 0.5]])], None)
        >>> flags[0].tolist()
        [[True, True]]
    """

    def evaluate(w: list[Array], b: list[Array] | None) -> tuple[None, Sequence[ArrayLike]]:
        return None, kink_inputs(w, b)

    return differences_and_kinks(evaluate, weights, biases, step, budget)[1]
