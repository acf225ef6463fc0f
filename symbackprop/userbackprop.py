"""The user's own backprop: load it from ``--backprop TARGET``, call it, validate what it returns.

A target is ``path/to/file.py:function`` or ``package.module:function``. Loading imports the
user's code, which runs it. The function has the notebook's calling convention::

    backprop(weights, biases, x, y) -> (grads_W, grads_b)

with lists of float64 arrays in the notebook's shapes: ``weights[l]`` is (n_l, n_{l-1}),
``biases[l]`` is (n_l, 1), ``x`` is (n_0, m) and ``y`` is (n_L, m), one sample per column
(column vectors for a single sample). Anything wrong (a missing file or function, an exception
inside the user's code, wrong list lengths or shapes, NaN or inf) is a
:class:`~symbackprop.errors.UserBackpropError`; an exception raised by the user's code carries
the user's own traceback, without symbackprop's frames. Whatever the user's code prints goes
to standard error, so that standard output holds only the report (``--format json`` stays JSON).

>>> grads_w, grads_b = call_backprop(lambda w, b, x, y: (w, b), [np.ones((1, 2))],
...                                  [np.zeros((1, 1))], np.ones((2, 1)), np.ones((1, 1)))
>>> grads_w[0].shape
(1, 2)
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .deadline import TimeLimitReached
from .errors import UserBackpropError

Array = NDArray[np.float64]
Backprop = Callable[..., Any]

_PACKAGE_DIR = Path(__file__).resolve().parent


def _is_ours(filename: str) -> bool:
    """Frames of symbackprop itself or of the import machinery, hidden from user tracebacks."""
    if filename.startswith("<frozen importlib"):
        return True
    try:
        return Path(filename).resolve().is_relative_to(_PACKAGE_DIR)
    except (OSError, ValueError):
        return False


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` from the first frame of the user's code on."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and _is_ours(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


def described(exc: BaseException) -> str:
    """``ValueError: message``, or the bare type name of an exception without a message."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def raised(exc: BaseException) -> str:
    """``ValueError: boom (at f.py, line 2, in backprop)``: the exception and the innermost frame
    of the user's code, for a one-line error."""
    text = described(exc)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_ours(f.filename)]
    if frames:
        frame = frames[-1]
        text += f" (at {_relative(frame.filename)}, line {frame.lineno}, in {frame.name})"
    return text


def _relative(filename: str) -> str:
    """``filename`` relative to the working folder when it is inside it, else as it is."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


def _raised(what: str, exc: BaseException) -> UserBackpropError:
    return UserBackpropError(f"{what} raised {raised(exc)}", user_traceback(exc))


def _forget(folder: str) -> None:
    """Take ``folder`` off ``sys.path`` again, if the user's code has not done it already."""
    with contextlib.suppress(ValueError):
        sys.path.remove(folder)


#: Whether this process is the child of :mod:`symbackprop.child`, which no Ctrl-C reaches.
IN_CHILD = [False]


def caught(exc: BaseException) -> bool:
    """Whether an exception of the user's code is the user's error: anything, in the child
    process; in ours, anything but KeyboardInterrupt (a real Ctrl-C, likely) and our own
    time limit."""
    return IN_CHILD[0] or not isinstance(exc, KeyboardInterrupt | TimeLimitReached)


def _from_file(path: Path, target: str) -> ModuleType:
    if not path.is_file():
        raise UserBackpropError(f"--backprop {target}: no such file: {path}")
    name = f"_symbackprop_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserBackpropError(f"--backprop {target}: cannot import {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would (dataclasses and pickle look it up)
    sys.path.insert(0, str(path.resolve().parent))  # so the file can import its neighbours
    try:
        with contextlib.redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if not caught(exc):
            raise
        raise _raised(f"--backprop {target}: importing {path}", exc) from None
    finally:
        _forget(str(path.resolve().parent))
    return module


def _from_module(name: str, target: str) -> ModuleType:
    sys.path.insert(0, str(Path.cwd()))  # like `python -m`: modules in the working directory
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise UserBackpropError(
                f"--backprop {target}: no module named '{exc.name}' "
                "(expected path/to/file.py:function or package.module:function)"
            ) from None
        raise _raised(f"--backprop {target}: importing {name}", exc) from None
    except BaseException as exc:
        if not caught(exc):
            raise
        raise _raised(f"--backprop {target}: importing {name}", exc) from None
    finally:
        _forget(str(Path.cwd()))


def parse_target(target: str) -> tuple[str, str, bool]:
    """``(module or file, function, is_file)`` of ``target``, checked without importing it.

    Raises:
        UserBackpropError: a malformed target, or a file target whose file does not exist.
    """
    where, sep, function = target.rpartition(":")
    is_file = where.endswith(".py") or "/" in where or "\\" in where
    dotted = all(part.isidentifier() for part in where.split("."))  # no relative imports
    if not sep or not where or not function.isidentifier() or not (is_file or dotted):
        raise UserBackpropError(
            f"--backprop {target}: expected path/to/file.py:function or package.module:function"
        )
    if is_file and not Path(where).is_file():
        raise UserBackpropError(f"--backprop {target}: no such file: {Path(where)}")
    return where, function, is_file


def target_name(target: str) -> str:
    """How a report names the function of ``target``: ``backprop`` or ``package.module.f``."""
    where, function, is_file = parse_target(target)
    return function if is_file else f"{where}.{function}"


def function_name(function: Backprop) -> str:
    """``module.qualname`` of ``function``; the qualname alone for a file's function."""
    module = getattr(function, "__module__", None) or ""
    name = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}.{name}" if module and not module.startswith("_symbackprop_user") else name


def takes_params(backprop: Backprop) -> bool:
    """Whether ``backprop`` is ``backprop(params, x, y)`` (dicts) rather than the notebook's
    ``backprop(weights, biases, x, y)`` (lists): three positional parameters."""
    try:
        parameters = inspect.signature(backprop).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = [p.kind for p in parameters]
    positional = [k for k in kinds if k in (_POSITIONAL, _POSITIONAL_OR_KEYWORD)]
    return len(positional) == 3 and inspect.Parameter.VAR_POSITIONAL not in kinds


_POSITIONAL = inspect.Parameter.POSITIONAL_ONLY
_POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD


def load_backprop(target: str) -> Backprop:
    """Import the user's backprop function named by ``target``.

    This imports (and so runs) the user's code.

    Args:
        target: ``path/to/file.py:function`` or ``package.module:function``.

    Returns:
        The function.

    Raises:
        UserBackpropError: a malformed target, a missing file, module or function, or an
            exception while importing (with the user's traceback).

    Example:
        >>> load_backprop("symbackprop.reference:notebook_backprop").__name__
        'notebook_backprop'
    """
    where, function, is_file = parse_target(target)
    module = _from_file(Path(where), target) if is_file else _from_module(where, target)
    found = getattr(module, function, None)
    if found is None:
        raise UserBackpropError(f"--backprop {target}: '{where}' has no function '{function}'")
    if not callable(found):
        raise UserBackpropError(
            f"--backprop {target}: '{function}' is not a function (it is {type(found).__name__!r})"
        )
    return found


def _plain(value: list[Any] | tuple[Any, ...], name: str) -> tuple[Any, ...]:
    """A returned list or tuple as a plain tuple (a subclass's __len__ or __iter__ may raise)."""
    try:
        return tuple(value)
    except Exception as exc:
        raise UserBackpropError(
            f"your backprop returned {name} that cannot be read: {type(exc).__name__}: {exc}"
        ) from None


def _sequence(value: Any, name: str, length: int) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise UserBackpropError(
            f"your backprop returned {name} as {type(value).__name__}; "
            f"expected a list of {length} arrays"
        )
    try:
        value = list(value)
    except Exception as exc:  # a list subclass whose __len__ or __iter__ raises
        raise UserBackpropError(
            f"your backprop returned {name} that cannot be read: {type(exc).__name__}: {exc}"
        ) from None
    if len(value) != length:
        raise UserBackpropError(
            f"your backprop returned {len(value)} arrays in {name}; expected {length} "
            f"(one per layer)"
        )
    return value


def transposed_shape(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape of a transpose of an array of ``shape`` (axes reversed), where it differs."""
    flipped = tuple(reversed(shape))
    return flipped if len(shape) >= 2 and flipped != shape else None


def _array(value: Any, label: str, shape: tuple[int, ...], transposable: bool = True) -> Array:
    """``value`` as float64 in ``shape``, or in its transposed shape (a failed check that the
    catalogue names ``transposed``, not bad input) where ``transposable``."""
    try:
        complex_ = np.iscomplexobj(value)
        array = None if complex_ else np.asarray(value, dtype=np.float64)
    except Exception as exc:  # whatever the user's __array__, __float__ or __len__ raise
        raise UserBackpropError(
            f"your backprop returned {label} that is not a numeric array: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if array is None:
        raise UserBackpropError(
            f"your backprop returned complex numbers in {label}; expected real gradients"
        )
    if array.shape != shape and not (transposable and array.shape == transposed_shape(shape)):
        raise UserBackpropError(
            f"your backprop returned {label} of shape {array.shape}; expected {shape}"
        )
    if not np.all(np.isfinite(array)):
        bad = "NaN" if np.any(np.isnan(array)) else "inf"
        raise UserBackpropError(f"your backprop returned {bad} in {label}")
    return array


def call_backprop(
    backprop: Backprop,
    weights: Sequence[Array],
    biases: Sequence[Array] | None,
    x: Array,
    y: Array,
) -> tuple[list[Array], list[Array] | None]:
    """Call the user's ``backprop(weights, biases, x, y)`` on copies and validate the result.

    Args:
        backprop: the user's function.
        weights: ``W1..WL`` as (n_l, n_{l-1}) arrays.
        biases: ``b1..bL`` as (n_l, 1) columns, or None for a network without biases.
        x: inputs (n_0, m).
        y: targets (n_L, m).

    Returns:
        ``(grads_W, grads_b)`` as float64 arrays in the parameters' shapes (``grads_b`` is
        None for a network without biases).

    Raises:
        UserBackpropError: the function raised (with the user's traceback), returned something
            other than two lists of one array per layer, a wrong shape, NaN or inf.
    """
    args = (
        [np.array(w, dtype=np.float64) for w in weights],
        None if biases is None else [np.array(b, dtype=np.float64) for b in biases],
        np.array(x, dtype=np.float64),
        np.array(y, dtype=np.float64),
    )
    try:
        with contextlib.redirect_stdout(sys.stderr):  # keep standard output for the report
            result = backprop(*args)
    except BaseException as exc:
        if not caught(exc):
            raise
        raise _raised("your backprop", exc) from None
    if isinstance(result, list | tuple):
        result = _plain(result, "its result")
    if not isinstance(result, list | tuple) or len(result) != 2:
        got = (
            f"{len(result)} values" if isinstance(result, list | tuple) else type(result).__name__
        )
        raise UserBackpropError(
            f"your backprop returned {got}; expected (grads_W, grads_b), two lists of arrays"
        )
    layers = len(weights)
    grads_w = [
        _array(g, f"grads_W[{l}] (dW{l + 1})", np.shape(w))
        for l, (g, w) in enumerate(
            zip(_sequence(result[0], "grads_W", layers), weights, strict=True)
        )
    ]
    if biases is None:
        rest = _plain(result[1], "grads_b") if isinstance(result[1], list | tuple) else result[1]
        if rest is not None and not (isinstance(rest, tuple) and not rest):
            raise UserBackpropError(
                "your backprop returned bias gradients for a network without biases; "
                "expected None or []"
            )
        return grads_w, None
    grads_b = [
        _array(g, f"grads_b[{l}] (db{l + 1})", np.shape(b), transposable=False)
        for l, (g, b) in enumerate(
            zip(_sequence(result[1], "grads_b", layers), biases, strict=True)
        )
    ]
    return grads_w, grads_b


def call_dict_backprop(
    backprop: Backprop, params: Mapping[str, Array], x: Array, y: Array
) -> dict[str, Array]:
    """Call the user's ``backprop(params, x, y) -> grads`` (dicts keyed ``W1``, ``b1``, ...).

    Args:
        backprop: the user's function.
        params: the parameters in their spec shapes (a kernel is (F, C, kh, kw)).
        x: one sample in the input's shape, or a batch with a leading sample axis.
        y: the target (n_out,), or (m, n_out) for a batch.

    Returns:
        The gradients as float64 arrays keyed and shaped like ``params``.

    Raises:
        UserBackpropError: the function raised, or returned something other than a dict with
            exactly the keys of ``params``, a wrong shape, complex numbers, NaN or inf.
    """
    copies = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    try:
        with contextlib.redirect_stdout(sys.stderr):  # keep standard output for the report
            result = backprop(copies, np.array(x, dtype=np.float64), np.array(y, dtype=np.float64))
    except BaseException as exc:
        if not caught(exc):
            raise
        raise _raised("your backprop", exc) from None
    expected = ", ".join(params)
    if not isinstance(result, Mapping):
        raise UserBackpropError(
            f"your backprop returned {type(result).__name__}; expected a dict of gradients "
            f"keyed {expected}"
        )
    try:
        result = dict(result)  # a Mapping's keys() or __getitem__ may raise
    except Exception as exc:
        raise UserBackpropError(
            f"your backprop returned a dict that cannot be read: {type(exc).__name__}: {exc}"
        ) from None
    if set(result) != set(params):
        raise UserBackpropError(
            f"your backprop returned gradients keyed {', '.join(map(str, result)) or 'nothing'}; "
            f"expected {expected}"
        )
    return {k: _array(result[k], f"grads['{k}']", np.shape(v)) for k, v in params.items()}
