"""``temporal_dense``: one dense layer applied at every time step of a (T, D) sequence.

CS231n's ``temporal_affine_forward`` layout: W of shape (D, M) and b of (M,), shared across
time, out_t = x_t W + b. The textbook backward sums each step's contribution over time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sympy import Add

from .base import Config, Fields, LayerKind, Shape, Tensor, tensor


class TemporalDense(LayerKind):
    name = "temporal_dense"
    keys = ("units",)
    parameterised = True
    takes = "sequence"
    formula = "z_t,m = sum_d x_t,d W_d,m + b_m at every step t (W, b shared across time)"
    backward = "dx_t = delta_t W^T, dW = sum_t x_t^T delta_t, db = sum_t delta_t"
    formula_latex = r"z_{t,m} = \sum_d x_{t,d} W_{d,m} + b_m"
    backward_latex = (
        r"\frac{\partial J}{\partial x_{t}} = \delta_{t} W^{\mathsf{T}}, \quad "
        r"\frac{\partial J}{\partial W} = \sum_t x_t^{\mathsf{T}} \delta_t, \quad "
        r"\frac{\partial J}{\partial b} = \sum_t \delta_t"
    )

    def configure(self, fields: Fields, shape: Shape) -> dict[str, Any]:
        return {"units": fields.integer("units", 1)}

    def describe(self, config: Config) -> str:
        return f"temporal_dense {config['units']}"

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        return (shape[0], config["units"])

    def parameter_shapes(self, config: Config, shape: Shape) -> dict[str, Shape]:
        return {"W": (shape[1], config["units"]), "b": (config["units"],)}

    def forward(self, config: Config, x: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        w, (steps, inputs) = params["W"], x.shape

        def entry(index: tuple[int, ...]) -> Any:
            t, m = index
            out = Add(*(x[t, d] * w[d, m] for d in range(inputs)))
            return out + params["b"][m] if "b" in params else out

        return tensor((steps, config["units"]), entry)

    def textbook(
        self, config: Config, x: Tensor, params: Mapping[str, Tensor], upstream: Tensor
    ) -> dict[str, Tensor]:
        """dx = delta W^T, dW = x^T delta (summed over t), db = sum_t delta_t."""
        grads = {"x": upstream.dot(params["W"].T), "W": x.T.dot(upstream)}
        if "b" in params:
            grads["b"] = np.array(
                [Add(*upstream[:, m]) for m in range(upstream.shape[1])], dtype=object
            )
        return grads
