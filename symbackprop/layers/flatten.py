"""``flatten``: a sample's maps as one vector, row-major over (channel, row, column)."""

from __future__ import annotations

from collections.abc import Mapping
from math import prod

from .base import Config, LayerKind, Shape, Tensor


class Flatten(LayerKind):
    name = "flatten"
    formula = "z_{(c H + i) W + j} = x_{c,i,j}"
    backward = "dx = delta reshaped to (C, H, W)"
    formula_latex = r"z_{(cH + i)W + j} = x_{c,i,j}"
    backward_latex = r"\frac{\partial J}{\partial x_{c,i,j}} = \delta_{(cH + i)W + j}"

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        return (prod(shape),)

    def forward(self, config: Config, x: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        return x.reshape(-1)

    def textbook(
        self, config: Config, x: Tensor, params: Mapping[str, Tensor], upstream: Tensor
    ) -> dict[str, Tensor]:
        """delta reshaped back to the input's shape."""
        return {"x": upstream.reshape(x.shape)}
