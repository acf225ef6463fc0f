"""The catalogue's entries for the recurrent kinds ``rnn_step``, ``rnn``, ``lstm_step`` and
``lstm``. Registered into :data:`~.mistakes.LAYER_MISTAKES` on import (by the package); each
predicts, exactly (mpmath), what a backward with the mistake returns, by a loop written here
(not the symbolic side).
"""

from __future__ import annotations

from collections.abc import Iterator

import mpmath
import numpy as np

from .kinds import Kind, Sizes
from .mistakes import Case, Variant, mistake, mp_array

_TANH = np.vectorize(mpmath.tanh, otypes=[object])


def _inputs(case: Case) -> tuple[np.ndarray, ...]:
    """x as (N, T, D), h0, Wx, Wh, b and dout (a step's dnext_h) as (N, T, H), for every kind."""
    v = case.values
    x, dout = mp_array(v["x"]), mp_array(v["dout"] if "dout" in v else v["dnext_h"])
    if x.ndim == 2:
        x, dout = x[:, None, :], dout[:, None, :]
    h0 = mp_array(v["prev_h"] if "prev_h" in v else v["h0"])
    return x, h0, mp_array(v["Wx"]), mp_array(v["Wh"]), mp_array(v["b"]), dout


def _backward(
    case: Case, recurrent: bool = True, current: bool = False, twice: bool = False
) -> dict[str, np.ndarray]:
    """The RNN's backward, with a mistake switched on: no path from h_{t+1} (``recurrent``
    off), dWh from h_t (``current``), or 1 - tanh(h)^2 for 1 - h^2 (``twice``)."""
    x, h0, wx, wh, b, dout = _inputs(case)
    steps = x.shape[1]
    hs = [h0]
    for t in range(steps):
        hs.append(_TANH(x[:, t].dot(wx) + hs[-1].dot(wh) + b))
    dx = np.zeros(x.shape, dtype=object) * mpmath.mpf(0)
    dwx, dwh = wx * 0, wh * 0
    db, carry = b * 0, h0 * 0
    for t in reversed(range(steps)):
        h = hs[t + 1]
        local = 1 - (_TANH(h) ** 2 if twice else h**2)
        dpre = (dout[:, t] + (carry if recurrent else 0)) * local
        dx[:, t] = dpre.dot(wx.T)
        dwx = dwx + x[:, t].T.dot(dpre)
        dwh = dwh + (h if current else hs[t]).T.dot(dpre)
        db = db + dpre.sum(axis=0)
        carry = dpre.dot(wh.T)
    first = "dprev_h" if "prev_h" in case.values else "dh0"
    return {
        "dx": dx.reshape(case.exact["dx"].shape),
        first: carry,
        "dWx": dwx,
        "dWh": dwh,
        "db": db,
    }


def _variant(case_arrays: tuple[str, ...], **switches: bool) -> Variant:
    def predict(case: Case) -> dict[str, np.ndarray]:
        arrays = _backward(case, **switches)
        return {k: arrays[k] for k in case_arrays if k in arrays}

    return Variant(tuple((k, str(v)) for k, v in switches.items()), predict)


@mistake(
    "rnn-missing-recurrent-path",
    "dh[:, t] taken as the upstream dh alone: the path back from h_{t+1} (dprev_h of the later "
    "step) never added",
    ("rnn",),
)
def _missing_recurrent(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(("dx", "dh0", "dWx", "dWh", "db"), recurrent=False)


@mistake(
    "rnn-dwh-uses-current-state",
    "dWh = h_t.T @ dpre: built from the step's own output, where the recurrent weight "
    "multiplies the previous state h_{t-1}",
    ("rnn_step", "rnn"),
)
def _dwh_current(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(("dWh",), current=True)


@mistake(
    "tanh-derivative-of-output",
    "1 - tanh(next_h)^2: tanh's derivative applied to the output, where next_h already is "
    "tanh of the pre-activation (1 - next_h^2)",
    ("rnn_step", "rnn"),
)
def _tanh_twice(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield _variant(("dx", "dprev_h", "dh0", "dWx", "dWh", "db"), twice=True)


def _sig(values: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: 1 / (1 + mpmath.exp(-v)), otypes=[object])(values)


def _lstm_backward(case: Case, cell: bool = True, swap: bool = False) -> dict[str, np.ndarray]:
    """The LSTM's backward with a mistake: no dc_{t+1} * f_{t+1} from the later step (``cell``
    off; for one step, dnext_c dropped), or the o and g blocks of the gate gradient stacked as
    i, f, g, o (``swap``). A step starts from prev_c and gets dnext_c; a sequence from c_0 = 0."""
    x, h0, wx, wh, b, dout = _inputs(case)
    steps = x.shape[1]
    hidden = h0.shape[1]
    step = "prev_c" in case.values
    c0 = mp_array(case.values["prev_c"]) if step else h0 * 0
    h, c, saved = h0, c0, []
    for t in range(steps):
        a = x[:, t].dot(wx) + h.dot(wh) + b
        i, f, o = (_sig(a[:, k * hidden : (k + 1) * hidden]) for k in range(3))
        g = _TANH(a[:, 3 * hidden :])
        saved.append((h, c, i, f, o, g))
        c = f * c + i * g
        h = o * _TANH(c)
    dx = np.zeros(x.shape, dtype=object) * mpmath.mpf(0)
    dwx, dwh, db, carry = wx * 0, wh * 0, b * 0, h0 * 0
    cell_carry = mp_array(case.values["dnext_c"]) if step else h0 * 0
    for t in reversed(range(steps)):
        prev_h, prev_c, i, f, o, g = saved[t]
        tc = _TANH(f * prev_c + i * g)
        dh = dout[:, t] + carry
        dc = dh * o * (1 - tc**2) + (cell_carry if cell else 0)
        parts = [dc * g * i * (1 - i), dc * prev_c * f * (1 - f)]
        later = [dh * tc * o * (1 - o), dc * i * (1 - g**2)]
        parts += later[::-1] if swap else later
        da = np.hstack(parts)
        dx[:, t] = da.dot(wx.T)
        dwx, dwh, db = dwx + x[:, t].T.dot(da), dwh + prev_h.T.dot(da), db + da.sum(axis=0)
        carry, cell_carry = da.dot(wh.T), dc * f
    if step:
        first = {"dprev_h": carry, "dprev_c": cell_carry}
    else:
        first = {"dh0": carry}
    return {"dx": dx.reshape(case.exact["dx"].shape), **first, "dWx": dwx, "dWh": dwh, "db": db}


@mistake(
    "lstm-missing-cell-path",
    "dc_t = dh_t * o_t * (1 - tanh(c_t)^2) alone: the path dc_{t+1} * f_{t+1} back through the "
    "cell state never added (in one step: dnext_c dropped)",
    ("lstm_step", "lstm"),
)
def _missing_cell(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield Variant((("cell", "False"),), lambda case: _lstm_backward(case, cell=False))


@mistake(
    "lstm-gate-order",
    "the gate gradients stacked i, f, g, o where the forward's Wx, Wh and b slice i, f, o, g: "
    "the o and g columns of dWx, dWh and db (and so dx, dh0) swapped",
    ("lstm_step", "lstm"),
)
def _gate_order(kind: Kind, sizes: Sizes) -> Iterator[Variant]:
    yield Variant((("order", "ifgo"),), lambda case: _lstm_backward(case, swap=True))
