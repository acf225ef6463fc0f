"""``rnn`` and ``lstm``: recurrent layers over a (T, D) sequence, unrolled through time.

CS231n's layout. ``rnn``: a_t = x_t Wx + h_{t-1} Wh + b and h_t = tanh(a_t), with Wx of shape
(D, H), Wh of (H, H) and b of (H,). ``lstm``: a_t = x_t Wx + h_{t-1} Wh + b of width 4H is
split into the gates i, f, o (sigmoid) and g (tanh) in that order, c_t = f_t c_{t-1} + i_t g_t
and h_t = o_t tanh(c_t), with Wx of (D, 4H), Wh of (H, 4H) and b of (4H,). h_0 (and c_0) are
data of the spec, one row per sample, in ``[data]`` or the layer's table. The parameters
are shared across time: every step is its own named stage (``h^(2)_3,1`` is h_3, unit 1), so
the chain rule collects one term per step. The output is h_1..h_T, or h_T alone with
``return_sequence = false``.

The textbook backward pass is backpropagation through time: dh_t takes the output's gradient
at t and the recurrent path from step t + 1; each parameter's gradient sums the per-step
contributions; for the LSTM the cell path carries dc_{t+1} * f_{t+1} back to c_t.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from sympy import Add, S, tanh

from ..activations import Sigmoid
from .base import Config, Fields, LayerKind, Shape, Stages, Tensor, inline, tensor

#: The LSTM's gates in CS231n's stacked order, with whether each is a sigmoid (else tanh).
GATES = (("i", True), ("f", True), ("o", True), ("g", False))


def _state(fields: Fields, key: str, units: int) -> tuple[Any, ...]:
    """An initial state (h0 or c0), one row of ``units`` per sample, as nested tuples."""
    rows = fields.array(key, (fields.samples, units))
    return tuple(tuple(row) for row in rows)


def _common(fields: Fields, states: tuple[str, ...]) -> dict[str, Any]:
    units = fields.integer("units", 1)
    config: dict[str, Any] = {"units": units}
    config.update({key: _state(fields, key, units) for key in states})
    config["return_sequence"] = fields.flag("return_sequence", True)
    return config


def _affine(x_t: Tensor, h_prev: Tensor, params: Mapping[str, Tensor], width: int) -> Tensor:
    """x_t Wx + h_{t-1} Wh + b, each entry one Add."""
    wx, wh = params["Wx"], params["Wh"]

    def entry(index: tuple[int, ...]) -> Any:
        (k,) = index
        terms = [x_t[d] * wx[d, k] for d in range(x_t.shape[0])]
        terms += [h_prev[j] * wh[j, k] for j in range(h_prev.shape[0])]
        return Add(*terms, *([params["b"][k]] if "b" in params else []))

    return tensor((width,), entry)


def _initial(config: Config, key: str, sample: int) -> Tensor:
    return np.array(config[key][sample], dtype=object)


def _output(config: Config, steps: list[Tensor]) -> Tensor:
    """h_1..h_T as a (T, H) tensor, or h_T alone."""
    if not config["return_sequence"]:
        return steps[-1]
    out = np.empty((len(steps), config["units"]), dtype=object)
    for t, h in enumerate(steps):
        out[t] = h
    return out


def _upstream_at(config: Config, upstream: Tensor, t: int, steps: int) -> Tensor:
    """dJ/dh_t from the layer's output: its row t, or only at the last step."""
    if config["return_sequence"]:
        return upstream[t]
    return upstream if t == steps - 1 else np.array([S.Zero] * upstream.shape[0], dtype=object)


def _accumulate(
    grads: dict[str, Tensor], x_t: Tensor, h_prev: Tensor, da: Tensor, biased: bool
) -> None:
    """Add step t's contributions x_t^T da_t, h_{t-1}^T da_t (and da_t) to the sums."""
    for key, row in (("Wx", x_t), ("Wh", h_prev)):
        grads[key] = grads[key] + np.outer(row, da)
    if biased:
        grads["b"] = grads["b"] + da


def _zero_grads(params: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {key: np.full(value.shape, S.Zero, dtype=object) for key, value in params.items()}


class RNN(LayerKind):
    name = "rnn"
    keys: ClassVar[tuple[str, ...]] = ("units", "h0", "return_sequence")
    data_keys: ClassVar[tuple[str, ...]] = ("h0",)
    parameterised = True
    #: h_0 is one row per sample of the spec.
    batch_dependent = True
    activates = False
    takes = "sequence"
    formula = (
        "a_t = x_t Wx + h_{t-1} Wh + b, h_t = tanh(a_t) for t = 1..T (h_0 from the spec; "
        "Wx, Wh, b shared across time); out = h_1..h_T, or h_T"
    )
    backward = (
        "dh_t = dout_t + da_{t+1} Wh^T (the output at t and the path through h_{t+1}), "
        "da_t = dh_t * (1 - h_t^2), dx_t = da_t Wx^T, dWx = sum_t x_t^T da_t, "
        "dWh = sum_t h_{t-1}^T da_t, db = sum_t da_t"
    )
    formula_latex = (
        r"a_{t} = x_{t} W_x + h_{t-1} W_h + b, \quad h_{t} = \tanh(a_{t}), "
        r"\quad t = 1, \dots, T"
    )
    backward_latex = (
        r"\frac{\partial J}{\partial h_{t}} = \delta_{t} + "
        r"\frac{\partial J}{\partial a_{t+1}} W_h^{\mathsf{T}}, \quad "
        r"\frac{\partial J}{\partial a_{t}} = \frac{\partial J}{\partial h_{t}} \odot "
        r"(1 - h_{t}^2), \quad "
        r"\frac{\partial J}{\partial W_h} = \sum_t h_{t-1}^{\mathsf{T}} "
        r"\frac{\partial J}{\partial a_{t}}, \quad "
        r"\frac{\partial J}{\partial W_x} = \sum_t x_{t}^{\mathsf{T}} "
        r"\frac{\partial J}{\partial a_{t}}"
    )

    #: The initial states the spec gives.
    states: tuple[str, ...] = ("h0",)
    #: The width of a_t per hidden unit (4 for the LSTM's stacked gates).
    width = 1

    #: The time steps, input and hidden widths of the proof's representative size: every
    #: path of BPTT (from the output at t, from a_{t+1}, h_0 into the first step) is there.
    proof_steps = 3
    proof_width = 2

    def configure(self, fields: Fields, shape: Shape) -> dict[str, Any]:
        return _common(fields, self.states)

    def proof_size(self, config: Config, shape: Shape) -> tuple[Config, Shape, str] | None:
        steps, width = min(shape[0], self.proof_steps), min(shape[1], self.proof_width)
        units = min(config["units"], self.proof_width)
        if (steps, width, units) == (shape[0], shape[1], config["units"]):
            return None
        smaller = dict(config, units=units)
        for key in self.states:  # the first ``units`` entries of each sample's state
            smaller[key] = tuple(row[:units] for row in config[key])
        return smaller, (steps, width), f"T={steps}, D={width}, H={units}"

    def describe(self, config: Config) -> str:
        return f"{self.name} {config['units']}" + (
            "" if config["return_sequence"] else " last state"
        )

    def output_shape(self, config: Config, shape: Shape) -> Shape:
        h = config["units"]
        return (shape[0], h) if config["return_sequence"] else (h,)

    def parameter_shapes(self, config: Config, shape: Shape) -> dict[str, Shape]:
        h, a = config["units"], self.width * config["units"]
        return {"Wx": (shape[1], a), "Wh": (h, a), "b": (a,)}

    def forward_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        stages: Stages = inline,
    ) -> list[Tensor]:
        h = [_initial(config, "h0", s) for s in range(len(xs))]
        states: list[list[Tensor]] = [[] for _ in xs]
        for t in range(xs[0].shape[0]):
            width = config["units"]
            a = stages(
                "a",
                [_affine(x[t], hs, params, width) for x, hs in zip(xs, h, strict=True)],
                step=t,
            )
            h = stages("h", [tensor(at.shape, lambda i, at=at: tanh(at[i])) for at in a], step=t)
            for s, hs in enumerate(h):
                states[s].append(hs)
        return [_output(config, steps) for steps in states]

    def textbook_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        upstreams: list[Tensor],
        cache: Mapping[str, list[Tensor]],
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        """BPTT: dh_t = dout_t + da_{t+1} Wh^T, da_t = dh_t (1 - h_t^2), sums over t."""
        grads, dxs = _zero_grads(params), []
        for s, (x, g) in enumerate(zip(xs, upstreams, strict=True)):
            hs, steps = cache["h"][s], x.shape[0]
            dx = np.empty(x.shape, dtype=object)
            recurrent = np.array([S.Zero] * config["units"], dtype=object)
            for t in reversed(range(steps)):
                dh = _upstream_at(config, g, t, steps) + recurrent
                da = dh * (1 - hs[t] ** 2)
                h_prev = hs[t - 1] if t > 0 else _initial(config, "h0", s)
                _accumulate(grads, x[t], h_prev, da, "b" in params)
                dx[t] = params["Wx"].dot(da)
                recurrent = params["Wh"].dot(da)
            dxs.append(dx)
        return dxs, grads


def _gates(a: Tensor, units: int) -> dict[str, Tensor]:
    """i, f, o = sigma of a's first three blocks of ``units``, g = tanh of the last."""
    return {
        gate: tensor(
            (units,),
            lambda i, k=k, sig=sig: (Sigmoid if sig else tanh)(a[k * units + i[0]]),
        )
        for k, (gate, sig) in enumerate(GATES)
    }


class LSTM(RNN):
    name = "lstm"
    keys: ClassVar[tuple[str, ...]] = ("units", "h0", "c0", "return_sequence")
    data_keys: ClassVar[tuple[str, ...]] = ("h0", "c0")
    formula = (
        "a_t = x_t Wx + h_{t-1} Wh + b (width 4H), i_t, f_t, o_t = sigma of its blocks 1-3, "
        "g_t = tanh of block 4, c_t = f_t * c_{t-1} + i_t * g_t, h_t = o_t * tanh(c_t) "
        "(h_0, c_0 from the spec); out = h_1..h_T, or h_T"
    )
    backward = (
        "dh_t = dout_t + da_{t+1} Wh^T, dc_t = dh_t * o_t * (1 - tanh(c_t)^2) + "
        "dc_{t+1} * f_{t+1} (the cell path), di = dc_t g_t, df = dc_t c_{t-1}, "
        "do = dh_t tanh(c_t), dg = dc_t i_t, da_t = [di i(1-i), df f(1-f), do o(1-o), "
        "dg (1-g^2)], dWx = sum_t x_t^T da_t, dWh = sum_t h_{t-1}^T da_t, db = sum_t da_t"
    )
    formula_latex = (
        r"a_{t} = x_{t} W_x + h_{t-1} W_h + b = [a^i_{t}, a^f_{t}, a^o_{t}, a^g_{t}], \quad "
        r"i_{t}, f_{t}, o_{t} = \sigma(a^{i,f,o}_{t}), \; g_{t} = \tanh(a^g_{t}), \quad "
        r"c_{t} = f_{t} \odot c_{t-1} + i_{t} \odot g_{t}, \quad "
        r"h_{t} = o_{t} \odot \tanh(c_{t})"
    )
    backward_latex = (
        r"\frac{\partial J}{\partial c_{t}} = \frac{\partial J}{\partial h_{t}} \odot o_{t} "
        r"\odot (1 - \tanh^2 c_{t}) + \frac{\partial J}{\partial c_{t+1}} \odot f_{t+1}, "
        r"\quad \frac{\partial J}{\partial h_{t}} = \delta_{t} + "
        r"\frac{\partial J}{\partial a_{t+1}} W_h^{\mathsf{T}}, \quad "
        r"\frac{\partial J}{\partial W_h} = \sum_t h_{t-1}^{\mathsf{T}} "
        r"\frac{\partial J}{\partial a_{t}}"
    )
    states = ("h0", "c0")
    width = 4
    #: Two steps hold the cell path dc_t += dc_{t+1} f_{t+1}; three take minutes to prove.
    proof_steps = 2

    def forward_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        stages: Stages = inline,
    ) -> list[Tensor]:
        units, samples = config["units"], range(len(xs))
        h = [_initial(config, "h0", s) for s in samples]
        c = [_initial(config, "c0", s) for s in samples]
        states: list[list[Tensor]] = [[] for _ in xs]
        for t in range(xs[0].shape[0]):
            rows = [_affine(x[t], hs, params, 4 * units) for x, hs in zip(xs, h, strict=True)]
            a = stages("a", rows, step=t)
            gates = [_gates(at, units) for at in a]
            named = {gate: stages(gate, [g[gate] for g in gates], step=t) for gate, _ in GATES}
            i, f, g = named["i"], named["f"], named["g"]
            c = stages("c", [f[s] * c[s] + i[s] * g[s] for s in samples], step=t)
            o = named["o"]
            cells = [tensor((units,), lambda k, cs=cs: tanh(cs[k])) for cs in c]
            h = stages("h", [o[s] * cells[s] for s in samples], step=t)
            for s in samples:
                states[s].append(h[s])
        return [_output(config, steps) for steps in states]

    def textbook_batch(
        self,
        config: Config,
        xs: list[Tensor],
        params: Mapping[str, Tensor],
        upstreams: list[Tensor],
        cache: Mapping[str, list[Tensor]],
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        """BPTT with the cell path: dc_t = dh_t o_t (1 - tanh^2 c_t) + dc_{t+1} f_{t+1}."""
        grads, dxs, units = _zero_grads(params), [], config["units"]
        for s, (x, g) in enumerate(zip(xs, upstreams, strict=True)):
            step = {stem: cache[stem][s] for stem in ("i", "f", "o", "g", "c", "h")}
            steps, zero = x.shape[0], np.array([S.Zero] * units, dtype=object)
            dx, recurrent, cell = np.empty(x.shape, dtype=object), zero, zero
            for t in reversed(range(steps)):
                i, f, o, gg = (step[k][t] for k in ("i", "f", "o", "g"))
                c_prev = step["c"][t - 1] if t > 0 else _initial(config, "c0", s)
                h_prev = step["h"][t - 1] if t > 0 else _initial(config, "h0", s)
                squashed = np.array([tanh(v) for v in step["c"][t]], dtype=object)
                dh = _upstream_at(config, g, t, steps) + recurrent
                dc = dh * o * (1 - squashed**2) + cell
                da = np.concatenate(
                    [
                        dc * gg * i * (1 - i),
                        dc * c_prev * f * (1 - f),
                        dh * squashed * o * (1 - o),
                        dc * i * (1 - gg**2),
                    ]
                )
                _accumulate(grads, x[t], h_prev, da, "b" in params)
                dx[t] = params["Wx"].dot(da)
                recurrent, cell = params["Wh"].dot(da), dc * f
            dxs.append(dx)
        return dxs, grads


__all__ = ["GATES", "LSTM", "RNN"]
