"""``attention``: one head of scaled dot-product self-attention on a (T, D) sequence.

Q = x Wq, K = x Wk and V = x Wv (each projection (D, d)); S = Q K^T / sqrt(d); P = the
softmax of each row of S (with ``causal = true``, over the steps j <= i only, P_ij = 0 for
j > i: the mask comes before the softmax); out = P V. Q, K, V, S and P are named stages. The
textbook backward is the compact softmax Jacobian dS = P * (dP - rowsum(dP * P)).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sympy import Add, Expr, S, exp, sqrt

from .base import Config, Fields, LayerKind, Shape, Stages, Tensor, inline, tensor


def _product(a: Tensor, b: Tensor) -> Tensor:
    """The matrix product of two 2-d object arrays, each entry one Add."""
    return tensor(
        (a.shape[0], b.shape[1]),
        lambda i: Add(*(a[i[0], k] * b[k, i[1]] for k in range(a.shape[1]))),
    )


def _softmax_rows(s: Tensor, causal: bool) -> Tensor:
    """P_ij = exp(S_ij) / sum_k exp(S_ik) over the allowed k (k <= i when causal)."""
    steps = s.shape[0]

    def allowed(i: int) -> range:
        return range(i + 1) if causal else range(steps)

    def entry(index: tuple[int, ...]) -> Expr:
        i, j = index
        if j not in allowed(i):
            return S.Zero
        return exp(s[i, j]) / Add(*(exp(s[i, k]) for k in allowed(i)))

    return tensor(s.shape, entry)


def softmax_backward(p: Tensor, dp: Tensor) -> Tensor:
    """The compact softmax Jacobian of each row: dS = P * (dP - rowsum(dP * P))."""
    rows = [Add(*(dp[i, k] * p[i, k] for k in range(p.shape[1]))) for i in range(p.shape[0])]
    return tensor(p.shape, lambda i: p[i] * (dp[i] - rows[i[0]]))


class Attention(LayerKind):
    name = "attention"
    keys = ("dim", "causal")
    parameterised = True
    #: The identity holds for any scores S: the proof keeps them free (no exp of polynomials).
    proof_free = ("S",)
    activates = False
    takes = "sequence"
    formula = (
        "Q = x Wq, K = x Wk, V = x Wv, S = Q K^T / sqrt(d), P = softmax of each row of S "
        "(causal: over j <= i), out = P V"
    )
    backward = (
        "dV = P^T dout, dP = dout V^T, dS = P * (dP - rowsum(dP * P)), dQ = dS K / sqrt(d), "
        "dK = dS^T Q / sqrt(d), dWq = x^T dQ, dWk = x^T dK, dWv = x^T dV, "
        "dx = dQ Wq^T + dK Wk^T + dV Wv^T"
    )
    formula_latex = (
        r"Q = x W_q, \; K = x W_k, \; V = x W_v, \quad "
        r"S = \frac{Q K^{\mathsf{T}}}{\sqrt{d}}, \quad "
        r"P_{i,j} = \frac{e^{S_{i,j}}}{\sum_{k} e^{S_{i,k}}} \text{ (causal: } j, k \le i"
        r"\text{)}, \quad \mathrm{out} = P V"
    )
    backward_latex = (
        r"\frac{\partial J}{\partial S} = P \odot \Big(\frac{\partial J}{\partial P} - "
        r"\mathrm{rowsum}\Big(\frac{\partial J}{\partial P} \odot P\Big)\Big), \quad "
        r"\frac{\partial J}{\partial P} = \delta V^{\mathsf{T}}, \quad "
        r"\frac{\partial J}{\partial V} = P^{\mathsf{T}} \delta"
    )

    def configure(self, fields: Fields, shape: Shape) -> dict[str, Any]:
        return {"dim": fields.integer("dim", 1), "causal": fields.flag("causal", False)}

    def describe(self, config: Config) -> str:
        return f"attention {config['dim']}" + (" causal" if config["causal"] else "")

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        return (shape[0], config["dim"])

    def parameter_shapes(self, config: Config, shape: Shape) -> dict[str, Shape]:
        d = (shape[1], config["dim"])
        return {"Wq": d, "Wk": d, "Wv": d}

    def forward_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        stages: Stages = inline,
    ) -> list[Tensor]:
        q = stages("Q", [_product(x, params["Wq"]) for x in xs])
        k = stages("K", [_product(x, params["Wk"]) for x in xs])
        v = stages("V", [_product(x, params["Wv"]) for x in xs])
        scale = 1 / sqrt(config["dim"])
        s = stages("S", [_product(qs, ks.T) * scale for qs, ks in zip(q, k, strict=True)])
        p = stages("P", [_softmax_rows(ss, config["causal"]) for ss in s])
        return [_product(ps, vs) for ps, vs in zip(p, v, strict=True)]

    def textbook_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        upstreams: list[Tensor],
        cache: Mapping[str, list[Tensor]],
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        """dS = P * (dP - rowsum(dP * P)) per sample, then the projections' gradients."""
        return backward_batch(xs, params, upstreams, cache, 1 / sqrt(config["dim"]))


#: dS from (P, dP): the compact softmax Jacobian, or a mistake's variant of it.
SoftmaxGradient = Callable[[Tensor, Tensor], Tensor]


def backward_batch(
    xs: list[Tensor],
    params: Mapping[str, Tensor],
    upstreams: list[Tensor],
    cache: Mapping[str, list[Tensor]],
    scale: Expr,
    softmax_gradient: SoftmaxGradient = softmax_backward,
) -> tuple[list[Tensor], dict[str, Tensor]]:
    """dx per sample and dWq, dWk, dWv summed over the batch, from the cached Q, K, V and P.

    dV = P^T g, dP = g V^T, dS = ``softmax_gradient(P, dP)``, dQ = dS K scale,
    dK = dS^T Q scale; dW = x^T dQ (and so on), dx = dQ Wq^T + dK Wk^T + dV Wv^T.
    """
    wq, wk, wv = params["Wq"], params["Wk"], params["Wv"]
    dxs, totals = [], {"Wq": [], "Wk": [], "Wv": []}  # type: tuple[list[Tensor], dict[str, list[Tensor]]]
    for s, (x, g) in enumerate(zip(xs, upstreams, strict=True)):
        q, k, v, p = (cache[stem][s] for stem in ("Q", "K", "V", "P"))
        dv, dp = _product(p.T, g), _product(g, v.T)
        ds = softmax_gradient(p, dp)
        dq, dk = _product(ds, k) * scale, _product(ds.T, q) * scale
        dxs.append(_product(dq, wq.T) + _product(dk, wk.T) + _product(dv, wv.T))
        for key, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            totals[key].append(_product(x.T, d))
    return dxs, {key: np.sum(values, axis=0) for key, values in totals.items()}
