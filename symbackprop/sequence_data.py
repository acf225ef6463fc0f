"""The targets of a sequence loss: ``[data] labels`` per time step and an optional ``mask``.

``labels`` holds one class index per step, ``[T]`` for one sample or ``[[T], ...]`` for a
batch; ``mask`` (0 or 1 per step, the same shape, default all 1) says which steps count, as in
CS231n's ``temporal_softmax_loss``. They become y of shape (m, T, V): step t of sample s is
one-hot at its label where the mask is 1 and all zeros where it is 0, so the per-step loss
-sum_v y_tv log p_tv is mask_t * (-log p_t[label]).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from sympy import Integer


class _Validator(Protocol):
    def fail(self, key: str, message: str) -> Exception: ...
    def describe(self, value: Any) -> str: ...


def _integers(
    v: _Validator, key: str, value: Any, samples: int, steps: int, batched: bool, top: int
) -> list[list[int]]:
    """``value`` as ``samples`` lists of ``steps`` integers in [0, top]."""
    rows = value if batched else [value]
    shape = f"[{samples} x {steps}]" if batched else f"[{steps}]"
    if not isinstance(rows, list) or len(rows) != samples:
        raise v.fail(key, f"expected {shape} integers, got {v.describe(value)}")
    for s, row in enumerate(rows):
        where = f"{key}[{s}]" if batched else key
        if not isinstance(row, list) or len(row) != steps:
            raise v.fail(where, f"expected {steps} integers (one per step), got {v.describe(row)}")
        for t, item in enumerate(row):
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= top:
                raise v.fail(
                    f"{where}[{t}]", f"expected an integer in 0..{top}, got {v.describe(item)}"
                )
    return rows


def sequence_targets(
    v: _Validator, data: dict[str, Any], out: tuple[int, ...], batched: bool, samples: int
) -> np.ndarray:
    """y of shape (samples, T, V) from ``[data] labels`` and ``mask`` for outputs (T, V)."""
    steps, classes = out
    if "y" in data or "label" in data:
        raise v.fail("[data] labels", "a sequence loss takes labels (one per step) and a mask")
    if "labels" not in data:
        raise v.fail("[data] labels", "missing key (one class index per time step)")
    labels = _integers(v, "[data] labels", data["labels"], samples, steps, batched, classes - 1)
    ones = [[1] * steps for _ in range(samples)]
    mask = data.get("mask", ones if batched else ones[0])
    masks = _integers(v, "[data] mask", mask, samples, steps, batched, 1)
    y = np.full((samples, steps, classes), Integer(0), dtype=object)
    for s in range(samples):
        for t in range(steps):
            if masks[s][t]:
                y[s, t, labels[s][t]] = Integer(1)
    return y


__all__ = ["sequence_targets"]
