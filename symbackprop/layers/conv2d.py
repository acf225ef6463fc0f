"""``conv2d``: cross-correlation of (C, H, W) maps with F kernels (C, kh, kw), zero padded.

z_{f,i,j} = sum_{c,p,q} W_{f,c,p,q} x_{c, i s + p - P, j s + q - P} + b_f, where x is 0 outside
the input. The textbook backward pass: dW = x star delta (a cross-correlation with the
stride-dilated delta) and dx = the full convolution of the dilated delta with the kernel rotated
by 180 degrees, cropped by the padding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sympy import Add

from .base import Config, Fields, LayerKind, Shape, Tensor, zeros


def padded(x: Tensor, pad: tuple[int, int]) -> Tensor:
    """``x`` (C, H, W) with ``pad`` rows and columns of zeros on every side."""
    c, h, w = x.shape
    out = zeros((c, h + 2 * pad[0], w + 2 * pad[1]))
    out[:, pad[0] : pad[0] + h, pad[1] : pad[1] + w] = x
    return out


def correlate(image: Tensor, kernel: Tensor, stride: tuple[int, int] = (1, 1)) -> Tensor:
    """The valid 2-D cross-correlation of ``image`` with ``kernel`` at ``stride``."""
    kh, kw = kernel.shape
    rows = (image.shape[0] - kh) // stride[0] + 1
    cols = (image.shape[1] - kw) // stride[1] + 1
    out = np.empty((rows, cols), dtype=object)
    for i, j in np.ndindex(rows, cols):
        r, t = i * stride[0], j * stride[1]
        out[i, j] = Add(*(image[r + p, t + q] * kernel[p, q] for p, q in np.ndindex(kh, kw)))
    return out


def dilated(delta: Tensor, stride: tuple[int, int]) -> Tensor:
    """``delta`` (rows, cols) with stride - 1 zeros between its entries."""
    rows, cols = delta.shape
    out = zeros(((rows - 1) * stride[0] + 1, (cols - 1) * stride[1] + 1))
    out[:: stride[0], :: stride[1]] = delta
    return out


class Conv2D(LayerKind):
    name = "conv2d"
    keys = ("filters", "kernel", "stride", "padding")
    parameterised = True
    takes = "maps"
    formula = "z_{f,i,j} = sum_{c,p,q} W_{f,c,p,q} x_{c, i*s+p-P, j*s+q-P} + b_f"
    backward = (
        "dW = x_pad star dilate_s(delta) (a cross-correlation), db_f = sum_{i,j} delta_{f,i,j}, "
        "dx = the full convolution of dilate_s(delta) with W rotated by 180 degrees, cropped by P"
    )
    formula_latex = r"z_{f,i,j} = \sum_{c,p,q} W_{f,c,p,q}\, x_{c,\, si+p-P,\, sj+q-P} + b_f"
    backward_latex = (
        r"\frac{\partial J}{\partial W_{f,c}} = x^{\mathrm{pad}}_{c} \star "
        r"\operatorname{dilate}_s(\delta_f), \quad "
        r"\frac{\partial J}{\partial b_f} = \sum_{i,j} \delta_{f,i,j}, \quad "
        r"\frac{\partial J}{\partial x_c} = \Big[\sum_f \operatorname{dilate}_s(\delta_f) "
        r"\ast_{\mathrm{full}} \operatorname{rot}_{180}(W_{f,c})\Big]_{\mathrm{crop}\,P}"
    )

    def configure(self, fields: Fields, shape: Shape) -> dict[str, Any]:
        padding = fields.integer("padding", 0, 0)
        config: dict[str, Any] = {
            "filters": fields.integer("filters", 1),
            "kernel": fields.pair("kernel", 1),
            "stride": fields.pair("stride", 1, (1, 1)),
            "padding": (padding, padding),
        }
        for axis, name in enumerate(("height", "width")):
            size = shape[1 + axis] + 2 * config["padding"][axis]
            k, s = config["kernel"][axis], config["stride"][axis]
            if k > size:
                raise fields.fail(
                    "kernel", f"kernel {name} {k} exceeds the padded input {name} {size}"
                )
            if (size - k) % s:
                raise fields.fail(
                    "stride",
                    f"stride {s} does not tile the padded input {name} {size} with kernel {name} "
                    f"{k}: ({size} - {k}) is not a multiple of {s}",
                )
        return config

    def describe(self, config: Config) -> str:
        kernel = "x".join(map(str, config["kernel"]))
        stride, padding = "x".join(map(str, config["stride"])), config["padding"][0]
        extras = [f"stride {stride}"] if stride != "1x1" else []
        extras += [f"padding {padding}"] if padding else []
        return " ".join([f"conv2d {config['filters']}x{kernel}", *extras])

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        (kh, kw), (sh, sw), (ph, pw) = config["kernel"], config["stride"], config["padding"]
        return (
            config["filters"],
            (shape[1] + 2 * ph - kh) // sh + 1,
            (shape[2] + 2 * pw - kw) // sw + 1,
        )

    def parameter_shapes(self, config: Config, shape: Shape) -> dict[str, Shape]:
        return {"W": (config["filters"], shape[0], *config["kernel"]), "b": (config["filters"],)}

    def forward(self, config: Config, x: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        image, w = padded(x, config["padding"]), params["W"]
        maps = []
        for f in range(w.shape[0]):
            total = sum(
                (correlate(image[c], w[f, c], config["stride"]) for c in range(x.shape[0])),
                start=zeros(self.output_shape(config, x.shape)[1:]),
            )
            maps.append(total + params["b"][f] if "b" in params else total)
        return np.array(maps, dtype=object)

    def textbook(
        self, config: Config, x: Tensor, params: Mapping[str, Tensor], upstream: Tensor
    ) -> dict[str, Tensor]:
        """dW = x_pad star dilated(delta); dx = full conv(dilated(delta), rot180(W)), cropped."""
        stride, (ph, pw) = config["stride"], config["padding"]
        w, image = params["W"], padded(x, config["padding"])
        spread = [dilated(upstream[f], stride) for f in range(w.shape[0])]
        dw = np.array(
            [
                [correlate(image[c], spread[f]) for c in range(x.shape[0])]
                for f in range(w.shape[0])
            ],
            dtype=object,
        )
        kh, kw = w.shape[2:]
        full = [padded(s[None], (kh - 1, kw - 1))[0] for s in spread]
        dx_padded = np.array(
            [
                sum(
                    (correlate(full[f], w[f, c, ::-1, ::-1]) for f in range(w.shape[0])),
                    start=zeros(image.shape[1:]),
                )
                for c in range(x.shape[0])
            ],
            dtype=object,
        )
        grads = {"x": dx_padded[:, ph : ph + x.shape[1], pw : pw + x.shape[2]], "W": dw}
        if "b" in params:
            grads["b"] = np.array(
                [Add(*upstream[f].ravel()) for f in range(w.shape[0])], dtype=object
            )
        return grads


__all__ = ["Conv2D", "correlate", "dilated", "padded"]
