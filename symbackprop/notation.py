"""Every mathematical name in one place.

Layer indices are 1-based in notation and 0-based in Python; the conversion happens here only.
SymPy's naming convention does the typesetting: ``Symbol("W^(1)_12")`` prints as
``W^{(1)}_{12}`` in LaTeX.

>>> weight(0, 0, 1)
W^(1)_12
"""

from __future__ import annotations

from functools import cache

from sympy import Symbol


def _sub(*indices: int, wide: bool = False) -> str:
    """Subscript text for 0-based ``indices``: ``12`` or, when ``wide``, ``1,12``."""
    return ("," if wide else "").join(str(i + 1) for i in indices)


def _layer(layer: int) -> str:
    return f"^({layer + 1})"


@cache
def weight(layer: int, i: int, j: int, wide: bool = False) -> Symbol:
    """W^(l)_ij, the weight from unit j of layer l-1 to unit i of layer l."""
    return Symbol(f"W{_layer(layer)}_{_sub(i, j, wide=wide)}")


@cache
def bias(layer: int, i: int, wide: bool = False) -> Symbol:
    """b^(l)_i."""
    return Symbol(f"b{_layer(layer)}_{_sub(i, wide=wide)}")


def _per_sample(stem: str, i: int, sample: int | None, wide: bool) -> Symbol:
    if sample is None:
        return Symbol(f"{stem}_{_sub(i, wide=wide)}")
    return Symbol(f"{stem}_{_sub(i, sample, wide=True)}")


@cache
def pre_activation(layer: int, i: int, sample: int | None = None, wide: bool = False) -> Symbol:
    """z^(l)_i, or z^(l)_{i,s} for sample s of a batch."""
    return _per_sample(f"z{_layer(layer)}", i, sample, wide)


@cache
def activation(layer: int, i: int, sample: int | None = None, wide: bool = False) -> Symbol:
    """a^(l)_i of a hidden layer."""
    return _per_sample(f"a{_layer(layer)}", i, sample, wide)


@cache
def delta(layer: int, i: int, sample: int | None = None, wide: bool = False) -> Symbol:
    """delta^(l)_i = dJ/dz^(l)_i."""
    return _per_sample(f"delta{_layer(layer)}", i, sample, wide)


@cache
def network_input(j: int, sample: int | None = None, wide: bool = False) -> Symbol:
    """x_j."""
    return _per_sample("x", j, sample, wide)


@cache
def target(k: int, sample: int | None = None, wide: bool = False) -> Symbol:
    """y_k."""
    return _per_sample("y", k, sample, wide)


@cache
def prediction(k: int, sample: int | None = None, wide: bool = False) -> Symbol:
    """The network output yhat_k (printed with a hat)."""
    return _per_sample("yhat", k, sample, wide)


@cache
def shared_sum(layer: int, sample: int | None = None, n: int = 0) -> Symbol:
    """S^(l), the sum that several activations of layer l share (the softmax denominator
    sum_k exp(z^(l)_k)); S^(l)_s for sample s of a batch; a second such sum is T^(l), etc."""
    stem = "STUV"[n] if n < 4 else f"S{n + 1}"
    return Symbol(f"{stem}{_layer(layer)}" + ("" if sample is None else f"_{sample + 1}"))


@cache
def sample_loss(sample: int) -> Symbol:
    """J_s, the loss of sample s of a batch."""
    return Symbol(f"J_{sample + 1}")


LOSS = Symbol("J")


class Variance(Symbol):
    """sigma^2 of a normalisation layer, named ``sigma2^(l)_i``: printed as the square of
    sigma^(l)_i (:attr:`deviation`), never as sigma with a subscript 2.

    >>> Variance("sigma2^(1)_2").deviation
    sigma^(1)_2
    """

    STEM = "sigma2"

    @property
    def deviation(self) -> Symbol:
        """The standard deviation sigma whose square this is."""
        return Symbol("sigma" + self.name.removeprefix(self.STEM))


def parameter_key(kind: str, layer: int) -> str:
    """The notebook-style name of a parameter matrix: ``parameter_key("W", 0) == "W1"``."""
    return f"{kind}{layer + 1}"


def entry_name(key: str, index: tuple[int, ...]) -> str:
    """A 0-based matrix entry in the notebook's naming: ``entry_name("dW2", (0, 1)) == "dW2[0,1]"``."""
    return f"{key}[{','.join(map(str, index))}]"


def split_entry(key: str) -> tuple[str, tuple[int, ...] | None]:
    """The inverse of :func:`entry_name`: ``("dW2", (0, 1))``; ``(key, None)`` for a whole key."""
    base, bracket, rest = key.partition("[")
    if not bracket or not rest.endswith("]"):
        return key, None
    parts = rest[:-1].split(",")
    if not all(p.isdigit() for p in parts) or len(parts) > 2:
        return key, None
    return base, tuple(int(p) for p in parts)
