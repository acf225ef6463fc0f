"""``dropout``: inverted dropout with keep probability p and the mask given as data.

z = mask * x / p, with one mask row per sample in the sample's shape, so the result is
deterministic and exact. The textbook backward pass is dx = mask * dout / p.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import Config, Fields, LayerKind, Shape, Stages, Tensor, inline, tensor


def _nested(array: Any) -> Any:
    """An integer array as nested tuples (hashable, for the layer's config)."""
    if not isinstance(array, np.ndarray):
        return int(array)
    return tuple(_nested(sub) for sub in array)


class Dropout(LayerKind):
    name = "dropout"
    keys = ("p", "mask")
    batch_dependent = True
    formula = "z = mask * x / p (inverted dropout; p the keep probability, mask from the spec)"
    backward = "dx = mask * dout / p"
    formula_latex = r"z_{i} = \frac{m_{i}\, x_{i}}{p}, \quad m_{i} \in \{0, 1\}"
    backward_latex = r"\frac{\partial J}{\partial x_{i}} = \frac{m_{i}\, \delta_{i}}{p}"

    def configure(self, fields: Fields, shape: Shape) -> dict[str, Any]:
        p = fields.rational("p")
        if not 0 < p <= 1:
            raise fields.fail("p", f"expected a keep probability with 0 < p <= 1, got {p}")
        mask = fields.array("mask", (fields.samples, *shape))
        for index in np.ndindex(*mask.shape):
            if mask[index] not in (0, 1):
                where = "".join(f"[{i}]" for i in index)
                raise fields.fail(f"mask{where}", f"expected 0 or 1, got {mask[index]}")
        return {"p": p, "mask": _nested(mask)}

    def describe(self, config: Config) -> str:
        return f"dropout p={config['p']}"

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        return shape

    def forward_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        stages: Stages = inline,
    ) -> list[Tensor]:
        mask, p = np.array(config["mask"], dtype=object), config["p"]
        return [
            tensor(x.shape, lambda i, x=x, s=s: mask[s][i] * x[i] / p) for s, x in enumerate(xs)
        ]

    def textbook_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        upstreams: list[Tensor],
        cache: Mapping[str, list[Tensor]],
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        """dx = mask * dout / p, sample by sample."""
        mask, p = np.array(config["mask"], dtype=object), config["p"]
        dxs = [
            tensor(g.shape, lambda i, g=g, s=s: mask[s][i] * g[i] / p)
            for s, g in enumerate(upstreams)
        ]
        return dxs, {}


__all__ = ["Dropout"]
