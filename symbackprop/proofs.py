"""Each layer's textbook backward pass, proven equal to the chain rule's element-wise result.

For abstract symbols (input, parameters, upstream gradient ``g``), the layer's forward pass with
its named intermediates goes through the chain rule (:func:`symbackprop.chain.reverse`) of
L = sum g * output; the textbook form must equal each gradient after ``expand``. Two
changes of variables keep the proof of a normalisation layer small, and both are sound for an
identity:

* intermediates the layer declares free (:attr:`~.layers.base.LayerKind.proof_free`) stay
  symbols. One linear in an input (a mean) is solved for that input, so the proof's variables
  become the mean and the other inputs; one linear in none (a variance) stays unconstrained;
* each square root sqrt(B) becomes a positive symbol r, B^(k/2) then being r^k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from sympy import QQ, Add, Dummy, Expr, Pow, S, Symbol, expand, tanh
from sympy.polys.rings import ring

from .activations import Sigmoid
from .chain import reverse
from .layers import LAYERS
from .layers.base import tensor
from .stack_spec import StackLayer


class _ProofStages:
    """Names a layer's intermediates for the proof, keeping their definitions in order."""

    def __init__(self, definitions: dict[Symbol, Expr]) -> None:
        self.definitions = definitions
        self.cache: dict[str, list[np.ndarray]] = {}

    def __call__(
        self,
        stem: str,
        values: Sequence[np.ndarray],
        *,
        shared: bool = False,
        symbol: type[Symbol] = Symbol,
        step: int | None = None,
    ) -> list[np.ndarray]:
        named = []
        tag = "" if step is None else f"{step}_"
        for s, value in enumerate(values):
            names = tensor(value.shape, lambda i, s=s: symbol(f"t_{stem}_{s}_{tag}{_flat(i)}"))
            self.definitions.update({names[i]: value[i] for i in np.ndindex(*value.shape)})
            named.append(names)
        if step is None:
            self.cache[stem] = named
        else:  # one more time step of the stem's (T, ...) tensors
            earlier = self.cache.get(stem, [])
            self.cache[stem] = [
                _appended(earlier[s] if earlier else None, names) for s, names in enumerate(named)
            ]
        return named


def _appended(steps: np.ndarray | None, step: np.ndarray) -> np.ndarray:
    """The (t + 1, ...) tensor of ``steps`` (t steps, or None) followed by ``step``."""
    count = 1 if steps is None else steps.shape[0] + 1
    out = np.empty((count, *step.shape), dtype=object)
    if steps is not None:
        out[:-1] = steps
    out[-1] = step
    return out


def _flat(index: tuple[int, ...]) -> str:
    return "_".join(map(str, index))


def _closed(definitions: Mapping[Symbol, Expr]) -> dict[Symbol, Expr]:
    """Each symbol of ``definitions`` (in order) in terms of the symbols they start from."""
    closed: dict[Symbol, Expr] = {}
    for symbol, expr in definitions.items():
        closed[symbol] = expr.xreplace(closed)
    return closed


def _solved(
    free: list[Symbol], definitions: Mapping[Symbol, Expr], inputs: list[Symbol]
) -> dict[Symbol, Expr]:
    """For each free symbol f linear in an input x, x in terms of f and the other inputs."""
    solved: dict[Symbol, Expr] = {}
    for f in free:
        expr = definitions[f]
        for x in reversed(inputs):
            slope = expr.diff(x) if x not in solved else S.Zero
            if slope != 0 and slope.is_number:
                solved[x] = expand(x + (f - expr) / slope)
                break
    return solved


class _NotPolynomial(Exception):
    """An expression the ring cannot hold (a max, a positive power of a root)."""


#: Smooth functions whose derivative is written in their own value (tanh' = 1 - tanh^2,
#: sigma' = sigma (1 - sigma)): applied to one named intermediate, each application is one
#: more generator of the ring. That is sound: an identity of polynomials in independent
#: generators holds for any values of them.
_OPAQUE = (tanh, Sigmoid)


class _Ring:
    """Polynomials over QQ in the proof's symbols, with 1/sqrt(B) as one more generator, and
    each tanh(s) or sigma(s) of a symbol s as another.

    Expanding products of sums is dict arithmetic here (SymPy's ``expand`` is far slower).
    """

    def __init__(self, symbols: list[Symbol], exprs: list[Expr]) -> None:
        bases = {
            e.base for expr in exprs for e in expr.atoms(Pow) if e.exp.is_Rational and e.exp.q == 2
        }
        self.roots = {b: Dummy(f"s{k}") for k, b in enumerate(sorted(bases, key=str))}
        applied = {e for expr in exprs for e in expr.atoms(*_OPAQUE) if e.args[0].is_Symbol}
        opaque = sorted(applied, key=str)
        self.ring, *gens = ring([*symbols, *self.roots.values(), *opaque], QQ)
        self.known: dict[Expr, Any] = dict(
            zip([*symbols, *self.roots.values(), *opaque], gens, strict=True)
        )

    def __call__(self, expr: Expr) -> Any:
        """``expr`` in the ring, symbols in :attr:`known` taking their known values."""
        known = self.known.get(expr)
        if known is not None:
            return known
        if expr.is_Rational:
            return self.ring(QQ(int(expr.p), int(expr.q)))
        if expr.is_Add:
            return sum((self(a) for a in expr.args), self.ring.zero)
        if expr.is_Mul:
            product = self.ring.one
            for a in expr.args:
                product *= self(a)
            return product
        if expr.is_Pow and expr.exp.is_Integer and expr.exp >= 0:
            return self(expr.base) ** int(expr.exp)
        if expr.is_Pow and expr.base in self.roots and expr.exp.is_Rational and expr.exp < 0:
            return self.known[self.roots[expr.base]] ** int(-2 * expr.exp)
        raise _NotPolynomial


@lru_cache(maxsize=64)
def _proof(
    kind: str, config: tuple[tuple[str, Any], ...], shape: tuple[int, ...], samples: int
) -> bool:
    layer, options = LAYERS[kind], dict(config)
    data = layer.proof_inputs(options, shape, samples)
    xs = data or [
        tensor(shape, lambda i, s=s: Symbol(f"x_{s}_{_flat(i)}")) for s in range(samples)
    ]
    shapes = layer.parameter_shapes(options, shape)
    params = {k: tensor(s, lambda i, k=k: Symbol(f"{k}_{_flat(i)}")) for k, s in shapes.items()}
    definitions: dict[Symbol, Expr] = {}
    stages = _ProofStages(definitions)
    outs = layer.forward_batch(options, xs, params, stages)
    intermediates = dict(definitions)
    free = [e for stem in layer.proof_free for t in stages.cache[stem] for e in t.ravel()]
    upstreams = [
        tensor(out.shape, lambda i, s=s: Symbol(f"g_{s}_{_flat(i)}")) for s, out in enumerate(outs)
    ]
    outputs = [Symbol(f"o_{n}") for n in range(sum(out.size for out in outs))]
    flat_up = [g for up in upstreams for g in up.ravel()]
    definitions.update(zip(outputs, [e for out in outs for e in out.ravel()], strict=True))
    loss = Symbol("L")
    definitions[loss] = Add(*(o * g for o, g in zip(outputs, flat_up, strict=True)))
    wrt = [] if data else [(("x", s), x) for s, x in enumerate(xs)]
    wrt += [((k, 0), v) for k, v in params.items()]
    inputs = [e for _, a in wrt for e in a.ravel()]
    adjoints = reverse(definitions, loss, inputs)
    dxs, grads = layer.textbook_batch(options, xs, params, upstreams, stages.cache)
    pairs = [
        ((dxs[s] if key == "x" else grads[key])[index], adjoints.parameters[array[index]])
        for (key, s), array in wrt
        for index in np.ndindex(*array.shape)
    ]
    exprs = [
        *intermediates.values(),
        *adjoints.definitions.values(),
        *(e for p in pairs for e in p),
    ]
    r = _Ring([*inputs, *free, *flat_up], exprs)
    try:
        entries = [] if data else [e for x in xs for e in x.ravel()]
        for entry, value in _solved(free, intermediates, entries).items():
            r.known[entry] = r(value)
        for symbol, expr in intermediates.items():
            if symbol not in free:
                r.known[symbol] = r(expr)
        for symbol, expr in adjoints.definitions.items():
            r.known[symbol] = r(expr)
        return all(r(textbook) == r(chain) for textbook, chain in pairs)
    except _NotPolynomial:
        return _proof_by_expand(intermediates, free, adjoints, pairs, xs)


def _proof_by_expand(
    intermediates: dict[Symbol, Expr],
    free: list[Symbol],
    adjoints: Any,
    pairs: list[tuple[Expr, Expr]],
    xs: list[np.ndarray],
) -> bool:
    """The same proof with SymPy's ``expand``, for forms that are not polynomials (a max)."""
    solved = _solved(free, intermediates, [e for x in xs for e in x.ravel()])
    forward = _closed({s: e for s, e in intermediates.items() if s not in free})
    backward = _closed(adjoints.definitions)

    def canonical(expr: Expr) -> Expr:
        return expr.xreplace(backward).xreplace(forward).xreplace(solved)

    return all(expand(canonical(t) - canonical(c)) == 0 for t, c in pairs)


def prove_textbook(layer: StackLayer, samples: int = 1) -> bool:
    """Whether the layer's textbook backward pass equals the chain rule, entry by entry.

    Proven for abstract input, parameters and upstream gradient (symbols), so for every point;
    over a batch of ``samples`` for a layer whose output depends on the batch, else one sample;
    at the layer's representative size (:func:`proof_size`) when it has one.
    """
    kind = LAYERS[layer.kind]
    batch = samples if kind.batch_dependent else 1
    config, shape = layer.config, layer.input_shape
    smaller = kind.proof_size(layer.options, shape)
    if smaller is not None:
        options, shape, _ = smaller
        config = tuple(sorted(options.items()))
    return _proof(layer.kind, config, shape, batch)


def proof_size(layer: StackLayer) -> str:
    """The size :func:`prove_textbook` proves ``layer`` at (``"T=3, D=2, H=2"``), or "" for its
    own size."""
    smaller = LAYERS[layer.kind].proof_size(layer.options, layer.input_shape)
    return "" if smaller is None else smaller[2]


__all__ = ["proof_size", "prove_textbook"]
