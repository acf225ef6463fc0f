"""The layer registry: one entry per layer kind, looked up by the spec's ``type``.

Adding a layer kind is one module here (a :class:`~.base.LayerKind` subclass, registered
below) and one in the reference side, ``symbackprop/reference_layers.py``, plus their tests.
"""

from __future__ import annotations

from .attention import Attention
from .base import Config, Fields, LayerKind, Shape, Tensor
from .conv2d import Conv2D
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .normalization import BatchNorm, LayerNorm
from .pooling import AvgPool2D, FirstMax, MaxPool2D, PoolMax
from .recurrent import LSTM, RNN
from .temporal import TemporalDense

LAYERS: dict[str, LayerKind] = {}


def register(kind: LayerKind) -> LayerKind:
    """Add ``kind`` to the registry under ``kind.name``."""
    LAYERS[kind.name] = kind
    return kind


for _kind in (
    Dense(),
    Conv2D(),
    MaxPool2D(),
    AvgPool2D(),
    Flatten(),
    BatchNorm(),
    LayerNorm(),
    Dropout(),
    Embedding(),
    TemporalDense(),
    Attention(),
    RNN(),
    LSTM(),
):
    register(_kind)

__all__ = [
    "LAYERS",
    "Config",
    "Fields",
    "FirstMax",
    "LayerKind",
    "PoolMax",
    "Shape",
    "Tensor",
    "register",
]
