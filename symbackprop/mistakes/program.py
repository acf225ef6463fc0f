"""The dense backward pass as a program of named, replaceable steps, at 40 significant digits.

A mistake hypothesis is a change to this program, never to the user's code: it replaces one
step (the output error, an activation derivative, the bias gradient, ...) and the program then
computes, in mpmath, the gradients that mistake gives. Unchanged, the program is the textbook
matrix form of backprop (delta^(L) = J_f^T dJ/dyhat; delta^(l) = (W^(l+1))^T delta^(l+1) * f'(z^(l));
dW^(l) = delta^(l) a^(l-1)^T + 2 lambda W^(l); db^(l) = sum over samples of delta^(l)), and the
tests prove it equal to the exact gradients of the derivation.

The per-entry functions (activations, their derivatives, dJ/dyhat) are ``sympy.diff`` of the
registries' own definitions, lambdified to mpmath once per architecture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
from sympy import Add, Expr, Rational, S, Symbol, cancel, diff, lambdify

from ..activations import ACTIVATIONS
from ..losses import LOSSES
from ..patterns import per_pattern
from ..scalars import scalar_functions, scalar_ready
from ..spec import NetworkSpec

#: Working precision of mistaken gradients: far below any float64 tolerance.
DIGITS = 40

Obj = np.ndarray  # an object array of mpmath numbers
Gradients = dict[str, Obj]


@dataclass(frozen=True)
class Net:
    """One point of a dense network, at working precision, in the notebook's shapes."""

    spec: NetworkSpec
    weights: tuple[Obj, ...]
    biases: tuple[Obj, ...] | None
    x: Obj
    y: Obj
    convention: Rational

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def samples(self) -> int:
        return int(self.x.shape[1])


@dataclass
class Forward:
    """The forward pass: ``z[l]`` and ``a[l]`` per layer (``a[-1]`` is yhat), ``inputs[l]`` the
    activation each layer reads (``inputs[0]`` is x)."""

    z: list[Obj] = field(default_factory=list)
    a: list[Obj] = field(default_factory=list)
    inputs: list[Obj] = field(default_factory=list)


Observe = Callable[[str, int, Obj], Obj]


@dataclass(frozen=True)
class Program:
    """The steps of the backward pass; a mistake replaces one or more of them."""

    pre_activation: Callable[[Net, int, Obj], Obj]
    activate: Callable[[Net, int, Obj], Obj]
    output_error: Callable[[Net, Forward], Obj]
    derivative: Callable[[Net, int, Forward], Obj]
    propagate: Callable[[Net, int, Obj], Obj]
    weight_gradient: Callable[[Net, int, Obj, Forward], Obj]
    bias_gradient: Callable[[Net, int, Obj, Obj], Obj]
    #: Every intermediate passes through here (``"z"``, ``"a"``, ``"delta"``, layer index).
    observe: Observe = lambda kind, l, value: value
    #: The parameters the gradients are computed at.
    parameters: Callable[[Net], Net] = lambda net: net
    #: The gradients as returned.
    finish: Callable[[Net, Gradients], Gradients] = lambda net, grads: grads


def mp_array(matrix: Any) -> Obj:
    """An exact SymPy matrix (or nested lists) as an object array of mpf."""
    rows = matrix.tolist() if hasattr(matrix, "tolist") else matrix
    return np.array([[_mpf(v) for v in row] for row in rows], dtype=object)


def _mpf(value: Any) -> mpmath.mpf:
    if isinstance(value, Rational):
        return mpmath.mpf(int(value.p)) / int(value.q)
    return mpmath.mpf(value)


def load_net(spec: NetworkSpec, convention: Rational) -> Net:
    """The point of ``spec`` at working precision."""
    with mpmath.workdps(DIGITS):
        weights = tuple(mp_array(w) for w in spec.weights)
        biases = None if spec.biases is None else tuple(mp_array(b) for b in spec.biases)
        return Net(spec, weights, biases, mp_array(spec.x), mp_array(spec.y), convention)


# ----------------------------------------------------------------------------- functions


def _modules(convention: Rational) -> list[Any]:
    return [scalar_functions(convention), "mpmath"]


def _elementary(expr: Expr, convention: Rational) -> Expr:
    return scalar_ready(expr, convention, numpy=False)


@lru_cache(maxsize=64)
def vector_function(name: str, options: tuple, n: int, convention: Rational) -> Callable:
    """f(z_1..z_n) -> [a_1..a_n] of a registered activation."""
    zs = [Symbol(f"z{i}") for i in range(n)]
    outputs = ACTIVATIONS[name].apply(zs, dict(options))
    expr = [_elementary(e, convention) for e in outputs]
    return lambdify(zs, expr, modules=_modules(convention))


@lru_cache(maxsize=64)
def output_error_function(
    activation: tuple[str, tuple], loss: tuple[str, tuple], n: int, part: str, convention: Rational
) -> Callable:
    """(z, yhat, y) -> dJ_s/dz of one sample: J_f^T dJ/dyhat, cancelled, in the outputs where
    the textbook writes it (yhat - y for softmax with cross-entropy, one-hot targets applied).

    ``part`` keeps the ``"full"`` Jacobian, its ``"diagonal"``, ``"none"`` (the identity), or
    ``"at-outputs"``: the Jacobian of z evaluated at yhat instead of z.
    """
    zs, outs, ys = _symbols("z", n), _symbols("a", n), _symbols("t", n)
    entry = LOSSES[loss[0]]
    gradient = _loss_gradient(loss, n)

    def weight(k: int, i: int) -> Expr:
        if part == "none" or (part == "diagonal" and k != i):
            return S.One if k == i else S.Zero
        jacobian = _jacobian(activation, n, part == "at-outputs")
        return jacobian[k][i]

    errors = []
    for i in range(n):
        error = Add(*[_cancelled(weight(k, i) * gradient[k]) for k in range(n)])
        if entry.assumption is not None:
            applied_assumption = entry.assumption(error, outs[i], ys)
            error = error if applied_assumption is None else applied_assumption[0]
        errors.append(_elementary(error, convention))
    return lambdify([zs, outs, ys], errors, modules=_modules(convention))


#: ``cancel``, computed once per pattern: the terms J_ki dJ/dyhat_k of a wide layer differ only
#: in the names of their few symbols.
_cancelled = per_pattern(cancel)


@lru_cache(maxsize=64)
def _loss_gradient(loss: tuple[str, tuple], n: int) -> tuple[Expr, ...]:
    """dJ_s/dyhat_k of one sample, in the outputs ``a`` and targets ``t``."""
    outs, ys = _symbols("a", n), _symbols("t", n)
    per_sample = LOSSES[loss[0]].per_sample(outs, ys, dict(loss[1]))
    return tuple(diff(per_sample, o) for o in outs)


@lru_cache(maxsize=64)
def _jacobian(
    activation: tuple[str, tuple], n: int, at_outputs: bool
) -> tuple[tuple[Expr, ...], ...]:
    """d a_k / d z_i of a vector activation, in the outputs where the textbook writes it, or
    (``at_outputs``) with z replaced by the outputs; computed once per activation and width
    for every loss and mistake that uses it."""
    zs, outs = _symbols("z", n), _symbols("a", n)
    name, options = activation
    act = ACTIVATIONS[name]
    applied = act.apply(zs, dict(options))
    at = dict(zip(zs, outs, strict=True))

    def entry(k: int, i: int) -> Expr:
        derivative = diff(applied[k], zs[i])
        if at_outputs:
            return derivative.xreplace(at)
        return act.in_outputs(derivative, zs, outs, dict(options))

    return tuple(tuple(entry(k, i) for i in range(n)) for k in range(n))


def _symbols(stem: str, n: int) -> list[Symbol]:
    return [Symbol(f"{stem}{i}") for i in range(n)]


@lru_cache(maxsize=64)
def scalar_derivative(
    name: str, options: tuple, convention: Rational, in_outputs: bool = True
) -> Callable:
    """(z, a) -> f'(z) of an element-wise activation, in a = f(z) where the textbook does
    (``in_outputs``), else in z alone."""
    z, a = Symbol("z"), Symbol("a")
    activation = ACTIVATIONS[name]
    (applied,) = activation.apply([z], dict(options))
    expr = diff(applied, z)
    if in_outputs:
        expr = activation.in_outputs(expr, [z], [a], dict(options))
    return lambdify([z, a], _elementary(expr, convention), modules=_modules(convention))


def loss_options(name: str) -> tuple:
    """The registry's default options of a loss, as a spec stores them."""
    return tuple(sorted(LOSSES[name].options.items()))


# ----------------------------------------------------------------------------- the steps


def _columns(function: Callable, *arrays: Obj) -> Obj:
    """Apply ``function`` to each sample (column) of ``arrays``; stack the results as columns."""
    columns = [function(*(a[:, s] for a in arrays)) for s in range(arrays[0].shape[1])]
    return np.array(columns, dtype=object).T


def _pre_activation(net: Net, l: int, a: Obj) -> Obj:
    z = net.weights[l].dot(a)
    return z if net.biases is None else z + net.biases[l]


def _activation_of(net: Net, l: int) -> tuple[str, tuple]:
    act = net.spec.activations[l]
    return act.name, act.options


def _activate(net: Net, l: int, z: Obj) -> Obj:
    name, options = _activation_of(net, l)
    f = vector_function(name, options, z.shape[0], net.convention)
    return _columns(lambda column: f(*column), z)


def reduction(net: Net) -> mpmath.mpf:
    """1/m for a mean over a batch, else 1."""
    mean = net.spec.loss.reduction == "mean" and (net.spec.batched or net.samples > 1)
    return mpmath.mpf(1) / net.samples if mean else mpmath.mpf(1)


def output_error_with(
    net: Net, forward: Forward, loss: str, options: tuple, part: str = "full"
) -> Obj:
    """delta^(L) for the given loss (see :func:`output_error_function`), with the batch
    reduction."""
    l = net.depth - 1
    z = forward.z[l]
    function = output_error_function(
        _activation_of(net, l), (loss, options), z.shape[0], part, net.convention
    )
    columns = _columns(
        lambda zc, ac, yc: function(list(zc), list(ac), list(yc)), z, forward.a[l], net.y
    )
    return columns * reduction(net)


def _output_error(net: Net, forward: Forward) -> Obj:
    return output_error_with(net, forward, net.spec.loss.name, net.spec.loss.options)


def _derivative(net: Net, l: int, forward: Forward) -> Obj:
    name, options = _activation_of(net, l)
    prime = scalar_derivative(name, options, net.convention)
    return np.vectorize(prime, otypes=[object])(forward.z[l], forward.a[l])


def _propagate(net: Net, l: int, delta: Obj) -> Obj:
    """(W^(l+1))^T delta^(l+1), the error reaching layer l (0-based) before f'."""
    return net.weights[l + 1].T.dot(delta)


def l2_term(net: Net, l: int, factor: Any = 2) -> Obj:
    return net.weights[l] * (_mpf(net.spec.l2) * factor)


def with_l2(net: Net, l: int, gradient: Obj) -> Obj:
    """``gradient`` + 2 lambda W^(l); ``gradient`` itself (no array of zeros added) without an
    L2 term."""
    return gradient + l2_term(net, l) if net.spec.l2 else gradient


def _weight_gradient(net: Net, l: int, delta: Obj, forward: Forward) -> Obj:
    return with_l2(net, l, delta.dot(forward.inputs[l].T))


def _bias_gradient(net: Net, l: int, delta: Obj, weight_gradient: Obj) -> Obj:
    return delta.sum(axis=1).reshape(-1, 1)


TEXTBOOK = Program(
    _pre_activation,
    _activate,
    _output_error,
    _derivative,
    _propagate,
    _weight_gradient,
    _bias_gradient,
)


def forward_pass(program: Program, net: Net) -> Forward:
    forward = Forward()
    a = net.x
    for l in range(net.depth):
        forward.inputs.append(a)
        z = program.observe("z", l, program.pre_activation(net, l, a))
        a = program.observe("a", l, program.activate(net, l, z))
        forward.z.append(z)
        forward.a.append(a)
    return forward


class Memo:
    """The forward passes and output errors already computed at one net, by the steps that
    computed them: variants that change only later steps share them."""

    def __init__(self) -> None:
        self._values: dict[tuple[Callable, ...], Any] = {}

    def get(self, steps: tuple[Callable, ...], compute: Callable[[], Any]) -> Any:
        if steps not in self._values:
            self._values[steps] = compute()
        return self._values[steps]


def run(program: Program, net: Net, memo: Memo | None = None) -> Gradients:
    """The gradients ``program`` computes at ``net``, keyed ``"W1"``, ``"b1"``, ...;
    ``memo`` (one per net) keeps the forward pass and output error for other programs."""
    memo = memo or Memo()
    with mpmath.workdps(DIGITS):
        steps = (program.parameters, program.pre_activation, program.activate, program.observe)
        net = program.parameters(net)
        forward = memo.get(steps, lambda: forward_pass(program, net))
        error = memo.get(
            (*steps, program.output_error), lambda: program.output_error(net, forward)
        )
        grads: Gradients = {}
        delta = program.observe("delta", net.depth - 1, error)
        for l in range(net.depth - 1, -1, -1):
            if l < net.depth - 1:
                error = program.propagate(net, l, delta)
                delta = program.observe("delta", l, error * program.derivative(net, l, forward))
            dw = program.weight_gradient(net, l, delta, forward)
            grads[f"W{l + 1}"] = dw
            if net.biases is not None:
                grads[f"b{l + 1}"] = program.bias_gradient(net, l, delta, dw)
        ordered = {k: grads[k] for k in sorted(grads, key=lambda k: (int(k[1:]), k[0] != "W"))}
        return program.finish(net, ordered)


def with_steps(program: Program, **steps: Any) -> Program:
    """``program`` with the named steps replaced."""
    return replace(program, **steps)
