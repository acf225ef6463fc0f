"""``batchnorm`` (training mode) and ``layernorm``, each through its named intermediates.

Both define, one stage at a time, the mean mu, the variance sigma^2, the normalised input
xhat = (x - mu) / sqrt(sigma^2 + eps) and the output z = gamma xhat + beta. Batch norm takes
its statistics per feature over the batch (per channel over (batch, height, width) on maps, as
CS231n's spatial batch norm); layer norm per sample over all of the sample's entries. The
textbook backward passes are the compact forms, e.g. for batch norm
dx = gamma / (m sqrt(sigma^2 + eps)) (m dout - sum dout - xhat sum(dout xhat)).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sympy import Add, Expr, Rational, sqrt

from ..notation import Variance
from .base import Config, Fields, LayerKind, Shape, Stages, Tensor, inline, tensor

#: The default eps, exactly.
EPS = Rational(1, 100000)


def _eps(fields: Fields) -> Rational:
    eps = fields.rational("eps", EPS)
    if eps <= 0:
        raise fields.fail("eps", f"expected a number > 0, got {eps}")
    return eps


def _suffix(config: Config) -> str:
    extras = [" unbiased"] if config.get("unbiased") else []
    extras += [f" eps {config['eps']}"] if config["eps"] != EPS else []
    return "".join(extras)


def _groups(xs: list[Tensor]) -> list[list[tuple[int, tuple[int, ...]]]]:
    """Per feature (the first axis): the (sample, index) of every entry it is averaged over."""
    return [
        [(s, index) for s, x in enumerate(xs) for index in np.ndindex(*x.shape) if index[0] == c]
        for c in range(xs[0].shape[0])
    ]


def _mean(values: list[Expr]) -> Expr:
    return Add(*values) / len(values)


def _scalar(value: Expr) -> Tensor:
    """A 0-d tensor: a per-sample statistic of layer norm."""
    return tensor((), lambda i: value)


def _compact(g: Tensor, h: Tensor, denominator: Expr) -> Tensor:
    """(n g - sum g - xhat sum(g xhat)) / denominator over the n entries of ``g``."""
    n, sum_g = g.size, Add(*g.ravel())
    sum_gh = Add(*(a * b for a, b in zip(g.ravel(), h.ravel(), strict=True)))
    return tensor(g.shape, lambda i: (n * g[i] - sum_g - h[i] * sum_gh) / denominator)


class BatchNorm(LayerKind):
    name = "batchnorm"
    keys = ("eps", "unbiased")
    parameterised = True
    batch_dependent = True
    proof_free = ("mu", "sigma2")
    formula = (
        "mu_c = mean over the batch (and positions) of x_c, sigma2_c = their variance (1/m, or "
        "1/(m-1) if unbiased), xhat = (x - mu_c) / sqrt(sigma2_c + eps), z = gamma_c xhat + beta_c"
    )
    backward = (
        "dx = gamma / (m sqrt(sigma2 + eps)) (m dout - sum dout - (m/d) xhat sum(dout xhat)) "
        "with d = m (or m - 1), dgamma = sum dout xhat, dbeta = sum dout"
    )
    formula_latex = (
        r"\mu_c = \frac{1}{m} \sum_{k} x_{k,c}, \quad "
        r"\sigma^2_c = \frac{1}{d} \sum_{k} (x_{k,c} - \mu_c)^2, \quad "
        r"\hat{x}_{k,c} = \frac{x_{k,c} - \mu_c}{\sqrt{\sigma^2_c + \epsilon}}, \quad "
        r"z_{k,c} = \gamma_c \hat{x}_{k,c} + \beta_c"
    )
    backward_latex = (
        r"\frac{\partial J}{\partial x_{k,c}} = \frac{\gamma_c}{m \sqrt{\sigma^2_c + \epsilon}}"
        r"\Big(m \delta_{k,c} - \sum_{k'} \delta_{k',c} - \frac{m}{d} \hat{x}_{k,c} "
        r"\sum_{k'} \delta_{k',c} \hat{x}_{k',c}\Big), \quad "
        r"\frac{\partial J}{\partial \gamma_c} = \sum_{k} \delta_{k,c} \hat{x}_{k,c}, \quad "
        r"\frac{\partial J}{\partial \beta_c} = \sum_{k} \delta_{k,c}"
    )

    def configure(self, fields: Fields, shape: Shape) -> dict[str, Any]:
        per_sample = int(np.prod(shape[1:]))
        if fields.samples * per_sample < 2:
            raise fields.fail(
                "",
                "batch statistics need a batch: give [data] x as a list of at least 2 samples, "
                f"got {fields.samples}",
            )
        return {"eps": _eps(fields), "unbiased": fields.flag("unbiased", False)}

    def describe(self, config: Config) -> str:
        return self.name + _suffix(config)

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        return shape

    def parameter_shapes(self, config: Config, shape: Shape) -> dict[str, Shape]:
        return {"gamma": (shape[0],), "beta": (shape[0],)}

    def forward_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        stages: Stages = inline,
    ) -> list[Tensor]:
        groups = _groups(xs)
        m = len(groups[0])
        d = m - 1 if config["unbiased"] else m
        mean = np.array([_mean([xs[s][i] for s, i in g]) for g in groups], dtype=object)
        [mu] = stages("mu", [mean], shared=True)
        spread = [Add(*((xs[s][i] - mu[c]) ** 2 for s, i in g)) / d for c, g in enumerate(groups)]
        [var] = stages("sigma2", [np.array(spread, dtype=object)], shared=True, symbol=Variance)
        eps = config["eps"]
        xhat = stages(
            "xhat",
            [
                tensor(x.shape, lambda i, x=x: (x[i] - mu[i[0]]) / sqrt(var[i[0]] + eps))
                for x in xs
            ],
        )
        gamma, beta = params["gamma"], params["beta"]
        return [tensor(h.shape, lambda i, h=h: gamma[i[0]] * h[i] + beta[i[0]]) for h in xhat]

    def textbook_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        upstreams: list[Tensor],
        cache: Mapping[str, list[Tensor]],
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        """The compact form per feature c over its m entries k, from the cached xhat, sigma2."""
        [var], xhat = cache["sigma2"], cache["xhat"]
        dxs = [np.empty(x.shape, dtype=object) for x in xs]
        features = xs[0].shape[0]
        dgamma, dbeta = np.empty(features, dtype=object), np.empty(features, dtype=object)
        for c, group in enumerate(_groups(xs)):
            m = len(group)
            d = m - 1 if config["unbiased"] else m
            g = [upstreams[s][i] for s, i in group]
            h = [xhat[s][i] for s, i in group]
            sum_g, sum_gh = Add(*g), Add(*(a * b for a, b in zip(g, h, strict=True)))
            scale = params["gamma"][c] / (m * sqrt(var[c] + config["eps"]))
            for (s, i), gk, hk in zip(group, g, h, strict=True):
                dxs[s][i] = scale * (m * gk - sum_g - Rational(m, d) * hk * sum_gh)
            dgamma[c], dbeta[c] = sum_gh, sum_g
        return dxs, {"gamma": dgamma, "beta": dbeta}


class LayerNorm(LayerKind):
    name = "layernorm"
    keys = ("eps",)
    parameterised = True
    proof_free = ("mu", "sigma2")
    formula = (
        "mu = the mean of the sample's n entries, sigma2 = their variance (1/n), "
        "xhat = (x - mu) / sqrt(sigma2 + eps), z = gamma xhat + beta (gamma, beta per entry)"
    )
    backward = (
        "dx = 1 / (n sqrt(sigma2 + eps)) (n g - sum g - xhat sum(g xhat)) with g = gamma dout, "
        "dgamma = sum over the batch of dout xhat, dbeta = sum over the batch of dout"
    )
    formula_latex = (
        r"\mu = \frac{1}{n} \sum_{i} x_{i}, \quad "
        r"\sigma^2 = \frac{1}{n} \sum_{i} (x_{i} - \mu)^2, \quad "
        r"\hat{x}_{i} = \frac{x_{i} - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad "
        r"z_{i} = \gamma_i \hat{x}_{i} + \beta_i"
    )
    backward_latex = (
        r"\frac{\partial J}{\partial x_{i}} = \frac{1}{n \sqrt{\sigma^2 + \epsilon}}"
        r"\Big(n g_{i} - \sum_{j} g_{j} - \hat{x}_{i} \sum_{j} g_{j} \hat{x}_{j}\Big), "
        r"\; g = \gamma \odot \delta, \quad "
        r"\frac{\partial J}{\partial \gamma} = \sum_{\text{batch}} \delta \odot \hat{x}, \quad "
        r"\frac{\partial J}{\partial \beta} = \sum_{\text{batch}} \delta"
    )

    def configure(self, fields: Fields, shape: Shape) -> dict[str, Any]:
        return {"eps": _eps(fields)}

    def describe(self, config: Config) -> str:
        return self.name + _suffix(config)

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        return shape

    def parameter_shapes(self, config: Config, shape: Shape) -> dict[str, Shape]:
        return {"gamma": shape, "beta": shape}

    def forward_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        stages: Stages = inline,
    ) -> list[Tensor]:
        means = stages("mu", [_scalar(_mean(list(x.ravel()))) for x in xs])
        spreads = [
            _scalar(_mean([(v - mu[()]) ** 2 for v in x.ravel()]))
            for x, mu in zip(xs, means, strict=True)
        ]
        variances = stages("sigma2", spreads, symbol=Variance)
        eps = config["eps"]
        xhat = stages(
            "xhat",
            [
                tensor(
                    x.shape, lambda i, x=x, mu=mu, var=var: (x[i] - mu[()]) / sqrt(var[()] + eps)
                )
                for x, mu, var in zip(xs, means, variances, strict=True)
            ],
        )
        gamma, beta = params["gamma"], params["beta"]
        return [tensor(h.shape, lambda i, h=h: gamma[i] * h[i] + beta[i]) for h in xhat]

    def textbook_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        upstreams: list[Tensor],
        cache: Mapping[str, list[Tensor]],
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        """The compact form over each sample's n entries, with g = gamma * dout."""
        gamma, dxs = params["gamma"], []
        for x, up, h, var in zip(xs, upstreams, cache["xhat"], cache["sigma2"], strict=True):
            g = tensor(x.shape, lambda i, up=up: gamma[i] * up[i])
            dxs.append(_compact(g, h, x.size * sqrt(var[()] + config["eps"])))
        dgamma = sum((up * h for up, h in zip(upstreams, cache["xhat"], strict=True)))
        dbeta = sum(upstreams)
        return dxs, {"gamma": dgamma, "beta": dbeta}


__all__ = ["EPS", "BatchNorm", "LayerNorm"]
