"""``dense``: z = W x + b on a vector, W of shape (units, inputs) and b of (units,)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import Config, Fields, LayerKind, Shape, Tensor


class Dense(LayerKind):
    name = "dense"
    keys = ("units",)
    parameterised = True
    takes = "vector"
    formula = "z_i = sum_j W_ij x_j + b_i"
    backward = "dx = W^T delta, dW = delta x^T, db = delta"
    formula_latex = r"z_i = \sum_j W_{ij} x_j + b_i"
    backward_latex = (
        r"\frac{\partial J}{\partial x} = W^{\mathsf{T}} \delta, \quad "
        r"\frac{\partial J}{\partial W} = \delta x^{\mathsf{T}}, \quad "
        r"\frac{\partial J}{\partial b} = \delta"
    )

    def configure(self, fields: Fields, shape: Shape) -> dict[str, Any]:
        return {"units": fields.integer("units", 1)}

    def describe(self, config: Config) -> str:
        return f"dense {config['units']}"

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        return (config["units"],)

    def parameter_shapes(self, config: Config, shape: Shape) -> dict[str, Shape]:
        return {"W": (config["units"], shape[0]), "b": (config["units"],)}

    def forward(self, config: Config, x: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        w = params["W"]
        out = np.array([sum(w[i, j] * x[j] for j in range(x.shape[0])) for i in range(w.shape[0])])
        return out + params["b"] if "b" in params else out

    def textbook(
        self, config: Config, x: Tensor, params: Mapping[str, Tensor], upstream: Tensor
    ) -> dict[str, Tensor]:
        """dx = W^T delta, dW = delta x^T, db = delta."""
        grads = {"x": params["W"].T.dot(upstream), "W": np.outer(upstream, x)}
        if "b" in params:
            grads["b"] = upstream.copy()
        return grads
