"""``embedding``: integer indices into a (V, D) table ``We{n}``, one row per time step.

The input is a sequence of T word indices, data of the spec (not variables): the output is the
(T, D) sequence out_t = We[x_t]. The gradient of the table scatter-adds: a row used at several
time steps collects the upstream gradient of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sympy import Add, Integer

from .base import Config, Fields, LayerKind, Shape, Tensor, tensor, zeros


def index_problem(x: np.ndarray, vocabulary: int) -> str | None:
    """Why ``x`` (exact numbers, samples first) is not an array of indices in [0, vocabulary),
    or None."""
    for index, value in np.ndenumerate(x):
        if not (getattr(value, "is_integer", False) and 0 <= value < vocabulary):
            where = "".join(f"[{i}]" for i in (index[1:] if x.shape[0] == 1 else index))
            return (
                f"expected word indices: integers in [0, {vocabulary - 1}] for the embedding, "
                f"got {value} at {where}"
            )
    return None


class Embedding(LayerKind):
    name = "embedding"
    keys = ("vocabulary", "dim")
    parameterised = True
    activates = False
    takes = "indices"
    formula = "out_t = We[x_t] (row x_t of the (V, D) table)"
    backward = "dWe[v] = sum over the steps t with x_t = v of dout_t (scatter-add)"
    formula_latex = r"\mathrm{out}_{t,d} = \mathit{We}_{x_t,d}"
    backward_latex = (
        r"\frac{\partial J}{\partial \mathit{We}_{v,d}} = \sum_{t \,:\, x_t = v} \delta_{t,d}"
    )

    def configure(self, fields: Fields, shape: Shape) -> dict[str, Any]:
        return {"vocabulary": fields.integer("vocabulary", 1), "dim": fields.integer("dim", 1)}

    def describe(self, config: Config) -> str:
        return f"embedding {config['vocabulary']}x{config['dim']}"

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        return (shape[0], config["dim"])

    def parameter_shapes(self, config: Config, shape: Shape) -> dict[str, Shape]:
        return {"We": (config["vocabulary"], config["dim"])}

    def check_data(self, config: Config, x: np.ndarray) -> str | None:
        return index_problem(x, config["vocabulary"])

    def proof_inputs(self, config: Config, shape: Shape, samples: int) -> list[Tensor] | None:
        """Indices 0, 0, 1, 1, ... (mod V): every row used twice, so repeats are covered."""
        v = config["vocabulary"]
        return [tensor(shape, lambda i: Integer(i[0] // 2 % v)) for _ in range(samples)]

    def forward(self, config: Config, x: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        table = params["We"]
        return tensor((x.shape[0], config["dim"]), lambda i: table[int(x[i[0]]), i[1]])

    def textbook(
        self, config: Config, x: Tensor, params: Mapping[str, Tensor], upstream: Tensor
    ) -> dict[str, Tensor]:
        """dWe[v, d] = sum_{t: x_t = v} dout[t, d]; the indices get no gradient."""
        steps = [int(v) for v in x]

        def row(index: tuple[int, ...]) -> Any:
            v, d = index
            return Add(*(upstream[t, d] for t, w in enumerate(steps) if w == v))

        return {"x": zeros(x.shape), "We": tensor(params["We"].shape, row)}
