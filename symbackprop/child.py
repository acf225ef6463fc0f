"""The child process that runs the user's code: ``python -P -m symbackprop.child REQUEST RESPONSE``.

The parent (:mod:`symbackprop.isolation`) pickles a request: a job name, its payload and the
parent's ``sys.path``. The child imports the user's module, calls the user's functions at
every point, converts and validates what they return *here* (plain float64 arrays), and writes
the response: ``RESPONSE`` is an ``.npz`` file of those arrays plus a JSON header, read back
without pickle. Whatever goes wrong in the user's code, even a ``BaseException``, becomes an
error response; a child that dies without a response is reported by the parent.

This module imports NumPy and the validation helpers only (not SymPy), to start quickly.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import UserBackpropError

Results = tuple[list[dict[str, np.ndarray]], str]


def _backprop_job(payload: dict[str, Any]) -> Results:
    """The user's backprop at every point, keyed ``W1``, ``b1``, ... (see ``isolation``)."""
    from .userbackprop import (
        call_backprop,
        call_dict_backprop,
        function_name,
        load_backprop,
        takes_params,
    )

    function = load_backprop(payload["target"])
    dicts = payload["dicts_only"] or takes_params(function)
    results = []
    for point in payload["points"]:
        try:
            if dicts:
                grads = call_dict_backprop(function, *point["dicts"])
                grads = {k: v.reshape(point["shapes"].get(k, v.shape)) for k, v in grads.items()}
            else:
                grads = _as_dict(*call_backprop(function, *point["lists"]))
        except UserBackpropError as exc:
            raise UserBackpropError(
                f"--backprop {payload['target']}: at {point['phrase']}: {exc}"
            ) from None
        results.append(grads)
    return results, function_name(function)


def _as_dict(grads_w: list[np.ndarray], grads_b: list[np.ndarray] | None) -> dict[str, np.ndarray]:
    """``{"W1": ..., "b1": ..., "W2": ...}`` from the notebook's two lists."""
    grads = {}
    for l, g in enumerate(grads_w):
        grads[f"W{l + 1}"] = g
        if grads_b is not None:
            grads[f"b{l + 1}"] = grads_b[l].reshape(-1, 1)
    return grads


def _layer_job(payload: dict[str, Any]) -> Results:
    """The user's layer forward (and backward) at every point: ``out``, ``dx``, ..."""
    from .layercheck import user

    module = user.load_module(payload["module"])
    forward = user.find(module, payload["module"], payload["forward"])
    backward = payload["backward"] and user.find(module, payload["module"], payload["backward"])
    results = []
    for point in payload["points"]:
        if backward:
            functions = (forward, backward)
            args = (point["args"], point["douts"], point["names"], point["outputs"])
            results.append(user.layer_arrays(functions, point["labels"], *args))
        else:
            results.append(user.loss_arrays(forward, point["labels"][0], point["args"]))
    return results, payload["forward"]


JOBS: dict[str, Callable[[dict[str, Any]], Results]] = {
    "backprop": _backprop_job,
    "layer": _layer_job,
}


def _run(request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The response header and arrays of ``request``; every failure is an error header."""
    try:
        results, name = JOBS[request["job"]](request["payload"])
        arrays = {
            f"{i}/{k}": np.asarray(v, np.float64)
            for i, r in enumerate(results)
            for k, v in r.items()
        }
        keys = [list(r) for r in results]
        return {"status": "ok", "keys": keys, "name": name}, arrays
    except UserBackpropError as exc:
        traceback = getattr(exc, "traceback", "")
        return {"status": "error", "message": str(exc), "traceback": traceback}, {}
    except BaseException as exc:  # anything the user's objects raise
        from .userbackprop import raised, user_traceback

        message = f"{request['who']}: raised {raised(exc)}"
        return {"status": "error", "message": message, "traceback": user_traceback(exc)}, {}


def _write(path: str, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write the response atomically, so that a partial file is never read."""
    partial = f"{path}.partial"
    with open(partial, "wb") as file:
        arrays = {"__header__": np.array(json.dumps(header)), **arrays}
        np.savez(file, **arrays)  # type: ignore[arg-type]
    os.replace(partial, path)


def main() -> None:
    """Run the request of ``sys.argv[1]``, write the response to ``sys.argv[2]``, exit 0."""
    with open(sys.argv[1], "rb") as file:
        request = pickle.load(file)  # written by our own parent process
    sys.path[:] = request["sys_path"]
    from .userbackprop import IN_CHILD

    IN_CHILD[0] = True
    try:
        header, arrays = _run(request)
        _write(sys.argv[2], header, arrays)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):  # the user may have closed them
                stream.flush()
    os._exit(0)  # skip the user's atexit handlers and finalizers: the answer is written


if __name__ == "__main__":
    main()
