"""``max_pool2d`` and ``avg_pool2d`` over (C, H, W) maps, with windows that tile the input.

Max-pooling's derivative routes the upstream gradient to the first maximum of each window in
row-major order (as PyTorch and CS231n's naive loop do): :class:`FirstMax` is that indicator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sympy import And, Expr, Integer, Max, Piecewise, Rational, S

from ..activations import NamedFunction
from .base import Config, Fields, LayerKind, Shape, Tensor, zeros


class FirstMax(NamedFunction):
    """1 if ``args[k + 1]`` is the first maximum of ``args[1:]`` (row-major), else 0."""

    @classmethod
    def eval(cls, k: Expr, *values: Expr) -> Expr | None:
        if not all(v.is_number and v.is_comparable for v in values):
            return None
        best = max(range(len(values)), key=lambda i: (values[i], -i))
        return S.One if best == int(k) else S.Zero

    def fdiff(self, argindex: int = 1) -> Expr:
        return S.Zero

    def elementary(self, convention: Expr) -> Expr:
        k, values = int(self.args[0]), self.args[1:]
        wins = [values[k] > v for v in values[:k]] + [values[k] >= v for v in values[k + 1 :]]
        return Piecewise((S.One, And(*wins)), (S.Zero, True))


class PoolMax(NamedFunction):
    """The maximum of a pooling window; d/d(entry k) is :class:`FirstMax`."""

    @classmethod
    def eval(cls, *values: Expr) -> Expr | None:
        if all(v.is_number and v.is_comparable for v in values):
            return Max(*values)
        return None

    def fdiff(self, argindex: int = 1) -> Expr:
        return FirstMax(Integer(argindex - 1), *self.args)

    def elementary(self, convention: Expr) -> Expr:
        return Max(*self.args)


def windows(config: Config, shape: Shape) -> list[tuple[tuple[int, int], list[tuple[int, int]]]]:
    """Each output position (i, j) with the input positions of its window, row-major."""
    (h, w), (sh, sw) = config["size"], config["stride"]
    rows, cols = (shape[1] - h) // sh + 1, (shape[2] - w) // sw + 1
    return [
        ((i, j), [(i * sh + p, j * sw + q) for p, q in np.ndindex(h, w)])
        for i, j in np.ndindex(rows, cols)
    ]


class _Pool(LayerKind):
    keys = ("size", "stride")
    takes = "maps"

    def configure(self, fields: Fields, shape: Shape) -> dict[str, Any]:
        size = fields.pair("size", 1)
        config = {"size": size, "stride": fields.pair("stride", 1, size)}
        for axis, name in enumerate(("height", "width")):
            n, k, s = shape[1 + axis], size[axis], config["stride"][axis]
            if k > n or (n - k) % s:
                raise fields.fail(
                    "size",
                    f"a window {name} of {k} with stride {s} does not tile the input {name} {n}"
                    + (f": ({n} - {k}) is not a multiple of {s}" if k <= n else ""),
                )
        return config

    def describe(self, config: Config) -> str:
        size = "x".join(map(str, config["size"]))
        stride = (
            ""
            if config["stride"] == config["size"]
            else f" stride {'x'.join(map(str, config['stride']))}"
        )
        return f"{self.name} {size}{stride}"

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        (h, w), (sh, sw) = config["size"], config["stride"]
        return (shape[0], (shape[1] - h) // sh + 1, (shape[2] - w) // sw + 1)

    def pool(self, window: list[Expr]) -> Expr:
        raise NotImplementedError

    def forward(self, config: Config, x: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        out = np.empty(self.output_shape(config, x.shape), dtype=object)
        for c in range(x.shape[0]):
            for (i, j), cells in windows(config, x.shape):
                out[c, i, j] = self.pool([x[c, r, t] for r, t in cells])
        return out


class MaxPool2D(_Pool):
    name = "max_pool2d"
    formula = "z_{c,i,j} = max over the window (i, j) of x_c"
    backward = "delta goes to the first maximum of each window (row-major); 0 elsewhere"
    formula_latex = r"z_{c,i,j} = \max_{(r,t) \in w(i,j)} x_{c,r,t}"
    backward_latex = (
        r"\frac{\partial J}{\partial x_{c,r,t}} = \sum_{(i,j):\, (r,t) \in w(i,j)} "
        r"\delta_{c,i,j}\, [\,(r,t) = \operatorname{argmax}_{w(i,j)} x_c\,]"
    )

    def pool(self, window: list[Expr]) -> Expr:
        return PoolMax(*window)

    def textbook(
        self, config: Config, x: Tensor, params: Mapping[str, Tensor], upstream: Tensor
    ) -> dict[str, Tensor]:
        """delta is routed to the (first) argmax of each window."""
        dx = zeros(x.shape)
        for c in range(x.shape[0]):
            for (i, j), cells in windows(config, x.shape):
                window = [x[c, r, t] for r, t in cells]
                for k, (r, t) in enumerate(cells):
                    dx[c, r, t] += upstream[c, i, j] * FirstMax(Integer(k), *window)
        return {"x": dx}


class AvgPool2D(_Pool):
    name = "avg_pool2d"
    formula = "z_{c,i,j} = the mean over the window (i, j) of x_c"
    backward = "delta is spread evenly: 1/(h w) of it to each entry of its window"
    formula_latex = r"z_{c,i,j} = \frac{1}{hw} \sum_{(r,t) \in w(i,j)} x_{c,r,t}"
    backward_latex = (
        r"\frac{\partial J}{\partial x_{c,r,t}} = \frac{1}{hw} "
        r"\sum_{(i,j):\, (r,t) \in w(i,j)} \delta_{c,i,j}"
    )

    def pool(self, window: list[Expr]) -> Expr:
        return Rational(1, len(window)) * sum(window, start=S.Zero)

    def textbook(
        self, config: Config, x: Tensor, params: Mapping[str, Tensor], upstream: Tensor
    ) -> dict[str, Tensor]:
        """delta is spread evenly, 1/(h w) to each entry of its window."""
        dx, share = zeros(x.shape), Rational(1, config["size"][0] * config["size"][1])
        for c in range(x.shape[0]):
            for (i, j), cells in windows(config, x.shape):
                for r, t in cells:
                    dx[c, r, t] += share * upstream[c, i, j]
        return {"x": dx}
