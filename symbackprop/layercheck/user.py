"""The user's layer functions: import ``--module``, find the functions, call and validate them.

Importing runs the user's module (that is what ``--module`` is for); nothing the user wrote is
ever evaluated otherwise. Anything wrong (a missing module or function, an exception in the
user's code, a wrong arity, shape or type, NaN or inf) is a :class:`LayerFunctionError` whose
message is one line naming the module and function; an exception carries the user's own
traceback separately, without symbackprop's frames.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import UserBackpropError
from ..userbackprop import caught, described, raised, user_traceback

Function = Callable[..., Any]


class LayerFunctionError(UserBackpropError):
    """A user's layer function failed; ``traceback`` is the user's part of it, if any."""


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise LayerFunctionError(f"--module {path}: no such file")
    name = f"_symbackprop_layers_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LayerFunctionError(f"--module {path}: cannot import it as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # so the file can import its neighbours
    try:
        with contextlib.redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if not caught(exc):
            raise
        raise LayerFunctionError(
            f"--module {path}: importing it raised {raised(exc)}",
            user_traceback(exc),
        ) from None
    finally:
        with contextlib.suppress(ValueError):  # unless the user's code removed it
            sys.path.remove(folder)
    return module


def _import_module(name: str) -> ModuleType:
    sys.path.insert(0, str(Path.cwd()))  # like `python -m`
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise LayerFunctionError(
                f"--module {name}: no module named '{exc.name}' "
                "(expected path/to/layers.py or package.module)"
            ) from None
        raise LayerFunctionError(
            f"--module {name}: importing it raised ModuleNotFoundError: {exc}", user_traceback(exc)
        ) from None
    except BaseException as exc:
        if not caught(exc):
            raise
        raise LayerFunctionError(
            f"--module {name}: importing it raised {raised(exc)}",
            user_traceback(exc),
        ) from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(Path.cwd()))


def load_module(target: str) -> ModuleType:
    """Import ``path/to/layers.py`` or ``package.module`` (which runs it)."""
    if target.endswith(".py") or "/" in target or "\\" in target:
        return _import_file(Path(target))
    if not target or not all(part.isidentifier() for part in target.split(".")):
        raise LayerFunctionError(
            f"--module {target}: expected path/to/layers.py or package.module"
        )
    return _import_module(target)


def find(module: ModuleType, where: str, name: str) -> Function:
    """The function ``name`` of ``module`` (``where`` names the module in errors)."""
    found = getattr(module, name, None)
    if found is None:
        raise LayerFunctionError(f"{where} has no function '{name}'")
    if not callable(found):
        raise LayerFunctionError(f"{where}: '{name}' is not a function ({type(found).__name__})")
    return found


def call(function: Function, label: str, args: tuple[Any, ...]) -> Any:
    """``function(*args)`` with its printing sent to stderr; an exception names ``label``."""
    try:
        with contextlib.redirect_stdout(sys.stderr):  # standard output is the report's
            return function(*args)
    except BaseException as exc:
        if not caught(exc):
            raise
        raise LayerFunctionError(f"{label} raised {raised(exc)}", user_traceback(exc)) from None


def _plain(result: Any, label: str) -> Any:
    """A returned list or tuple as a plain tuple (a subclass's __len__ or __iter__ may raise)."""
    if not isinstance(result, tuple | list):
        return result
    try:
        return tuple(result)
    except Exception as exc:
        raise LayerFunctionError(
            f"{label} returned a {type(result).__name__} that cannot be read: {described(exc)}"
        ) from None


def pair(result: Any, label: str, names: str) -> tuple[Any, Any]:
    """A returned ``(a, b)``; anything else is an error naming ``names``."""
    first, second = values(result, label, 2, names)
    return first, second


def values(result: Any, label: str, count: int, names: str) -> tuple[Any, ...]:
    """A returned tuple of ``count`` values; anything else is an error naming ``names``."""
    result = _plain(result, label)
    if not isinstance(result, tuple | list) or len(result) != count:
        got = (
            f"{len(result)} values" if isinstance(result, tuple | list) else type(result).__name__
        )
        raise LayerFunctionError(f"{label} returned {got}; expected {names}")
    return tuple(result)


def gradients(result: Any, label: str, names: tuple[str, ...]) -> list[Any]:
    """The backward's returned gradients: a tuple of ``len(names)``, or one bare array."""
    result = _plain(result, label)
    if len(names) == 1 and not isinstance(result, tuple | list):
        return [result]
    if not isinstance(result, tuple | list) or len(result) != len(names):
        got = (
            f"{len(result)} values" if isinstance(result, tuple | list) else type(result).__name__
        )
        raise LayerFunctionError(f"{label} returned {got}; expected ({', '.join(names)})")
    return list(result)


def array(value: Any, label: str, what: str) -> np.ndarray:
    """``value`` as a finite real float64 array; an error names ``what``."""
    try:
        complex_ = np.iscomplexobj(value)
        result = None if complex_ else np.asarray(value, dtype=np.float64)
    except Exception as exc:  # whatever the user's __array__, __float__ or __len__ raise
        raise LayerFunctionError(
            f"{label} returned {what} that is not a numeric array: {type(exc).__name__}: {exc}"
        ) from None
    if result is None:
        raise LayerFunctionError(f"{label} returned complex numbers in {what}")
    if not np.all(np.isfinite(result)):
        bad = "NaN" if np.any(np.isnan(result)) else "inf"
        raise LayerFunctionError(f"{label} returned {bad} in {what}")
    return result


def loss_arrays(forward: Callable[..., Any], label: str, args: Any) -> dict[str, np.ndarray]:
    """A loss function's ``loss`` and ``dx`` at one point."""
    loss, dx = pair(call(forward, label, args), label, "(loss, dx)")
    return {"loss": array(loss, label, "loss"), "dx": array(dx, label, "dx")}


def layer_arrays(
    functions: tuple[Callable[..., Any], Callable[..., Any]],
    labels: tuple[str, str],
    args: Any,
    douts: tuple[np.ndarray, ...],
    names: tuple[str, ...],
    outputs: dict[str, tuple[int, ...]],
) -> dict[str, np.ndarray]:
    """A forward/backward pair's outputs (``out``, or ``next_h``, ``next_c``: their names and
    shapes, in order) and gradients (``names``) at one point; the backward gets ``douts``, one
    upstream gradient per output, then the cache."""
    (forward, backward), (label, back) = functions, labels
    expected = f"({', '.join(outputs)}, cache)"
    *returned, cache = values(call(forward, label, args), label, len(outputs) + 1, expected)
    arrays = {}
    for (name, shape), value in zip(outputs.items(), returned, strict=True):
        arrays[name] = array(value, label, name)
        if arrays[name].shape != tuple(shape):
            raise LayerFunctionError(
                f"{label} returned {name} of shape {arrays[name].shape}; expected {tuple(shape)}"
            )
    grads = gradients(call(backward, back, (*douts, cache)), back, names)
    arrays.update((n, array(g, back, n)) for n, g in zip(names, grads, strict=True))
    return arrays
