"""Specs of the valid networks issue 16 found slow (deep, wide, large batch, huge biases)."""

from __future__ import annotations


def _matrix(rows: int, cols: int, scale: float) -> str:
    """A deterministic (rows, cols) weight matrix as a TOML array."""
    return (
        "["
        + ", ".join(
            "["
            + ", ".join(f"{scale * (1 + (i * cols + j) % 7) / 7:.3f}" for j in range(cols))
            + "]"
            for i in range(rows)
        )
        + "]"
    )


def spec(
    sizes: list[int],
    activations: list[str],
    loss: str,
    batch: int = 1,
    bias: float = 0.1,
) -> str:
    """The TOML spec of a dense network with ``sizes``, ``activations`` and ``loss``."""
    lines = [
        "[network]",
        f"layers = {sizes}",
        f"activations = {activations}".replace("'", '"'),
        f'loss = "{loss}"',
        "",
        "[parameters]",
    ]
    for k in range(1, len(sizes)):
        lines.append(f"W{k} = {_matrix(sizes[k], sizes[k - 1], 0.9)}")
        lines.append(f"b{k} = [{', '.join([repr(bias)] * sizes[k])}]")
    x = [[round(0.5 + 0.1 * ((s + i) % 5), 2) for i in range(sizes[0])] for s in range(batch)]
    y = []
    for s in range(batch):
        row = [0] * sizes[-1]
        row[s % sizes[-1]] = 1
        y.append(row)
    lines += ["", "[data]"]
    if batch == 1:
        lines += [f"x = {x[0]}", f"y = {y[0]}"]
    else:
        lines += [f"x = {x}", f"y = {y}"]
    return "\n".join(lines) + "\n"


#: name -> spec text: the slow valid networks of issue 16.
CASES = {
    "tanh-1x12": spec([1] * 13, ["tanh"] * 12, "squared_error"),
    "tanh-3x6-softmax": spec([3] * 7, ["tanh"] * 5 + ["softmax"], "cross_entropy"),
    "relu-2x20": spec([2] * 21, ["relu"] * 20, "squared_error"),
    "relu-1-1000-1": spec([1, 1000, 1], ["relu", "relu"], "squared_error"),
    "relu-20x4": spec([20] * 4, ["relu"] * 3, "squared_error"),
    "batch-192": spec([2, 3, 2], ["relu", "softmax"], "cross_entropy", batch=192),
    "sigmoid-huge-bias": spec([2, 3, 1], ["sigmoid", "sigmoid"], "squared_error", bias=1e250),
}
