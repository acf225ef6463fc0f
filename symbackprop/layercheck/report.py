"""The ``check-layer`` report: a table per array, the failing entries, the likely mistake."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..checking.compare import EntryFailure
from ..checking.precision import Real, rational_text, sci
from .compare import ArrayResult
from .diagnose import LayerMatch, WeakPoint
from .exact import Exact
from .kinds import Kind
from .points import Point
from .sizes import shape_text

#: Failing entries printed per array and point; the JSON holds them all.
SHOWN = 12


@dataclass(frozen=True, eq=False)
class LayerReport:
    """Everything ``check-layer`` found; ``text()`` and ``json()`` render it."""

    kind: Kind
    forward: str
    backward: str | None
    where: str
    sizes: dict[str, tuple[int, ...]]
    exact: Exact
    points: Sequence[Point]
    rtol: float
    atol: float
    results: Sequence[ArrayResult]
    mistakes: Sequence[LayerMatch]
    unexplained: Sequence[str]
    catalogue: Sequence[str]
    #: Points where a catalogued mistake gives the exact numbers (flagged even when all pass).
    weak: Sequence[WeakPoint] = ()

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def title(self) -> str:
        names = self.forward + (f" / {self.backward}" if self.backward else "")
        return f"{self.kind.name}: {names}" + (f" from {self.where}" if self.where else "")

    def names(self) -> list[str]:
        return list(dict.fromkeys(r.name for r in self.results))

    def text(self) -> str:
        return "\n".join(_text(self)) + "\n"

    def failure_table(self) -> str:
        return "\n".join(_failures(self))

    def likely_text(self) -> str:
        return "\n".join(_likely(self))

    def json(self) -> str:
        return json.dumps(_json(self), indent=2) + "\n"


def _inputs(report: LayerReport) -> str:
    shapes = {k: v.shape for k, v in report.points[0].arrays.items()}
    if not report.kind.loss:
        shapes.update((f"d{n}", o.shape) for n, o in report.exact.outputs.items())
    return ", ".join(f"{k} {tuple(int(d) for d in v)}" for k, v in shapes.items())


def _compared(kind: Kind) -> str:
    """``out, then the gradients of J = sum(dout * out)``, with every output."""
    total = " + ".join(f"sum(d{n} * {n})" for n in kind.outputs)
    return f"{', '.join(kind.outputs)}, then the gradients of J = {total}"


def _header(report: LayerReport) -> list[str]:
    edges = [f"  {p.label}: {p.edge}" for p in report.points if p.edge]
    random = sum(1 for p in report.points if not p.edge)
    what = "loss and dx" if report.kind.loss else _compared(report.kind)
    return [
        f"check-layer {report.title}",
        f"sizes: {shape_text(report.sizes)}; arrays: {_inputs(report)}",
        f"compared: {what}, against exact values (SymPy), entry by entry",
        f"points: {len(report.points)} ({random} random; values k/16 in [-2, 2])",
        *edges,
        f"pass: |value - exact| <= {rational_text(report.atol)} + "
        f"{rational_text(report.rtol)} * |exact|",
        "",
    ]


def _verdict(results: list[ArrayResult]) -> str:
    failing = [r for r in results if not r.ok]
    if not failing:
        return "ok"
    shapes = [r for r in failing if r.shape]
    entries = sum(len(r.failures) for r in failing)
    parts = [f"{entries} of {sum(r.entries for r in results)} entries"] if entries else []
    parts += [str(shapes[0].shape)] if shapes else []
    return f"FAIL: {', '.join(parts)} at {len(failing)} of {len(results)} points"


def _table(report: LayerReport) -> list[str]:
    lines = [f"  {'array':<8} {'entries':>7}  {'max abs err':>11}  {'max rel err':>11}  verdict"]
    for name in report.names():
        results = [r for r in report.results if r.name == name]
        entries = sum(r.entries for r in results)
        max_abs = max(r.max_abs_error for r in results)
        max_rel = max(r.max_rel_error for r in results)
        lines.append(
            f"  {name:<8} {entries:>7}  {max_abs:>11.1e}  {max_rel:>11.1e}  {_verdict(results)}"
        )
    return lines


def _failures(report: LayerReport) -> list[str]:
    failing = [r for r in report.results if not r.ok]
    if not failing:
        return ["no failing entries"]
    lines = [f"{sum(len(r.failures) for r in failing)} failing entries"]
    header = f"  {'entry':<14} {'value':>18} {'exact':>18} {'difference':>11} {'tolerance':>10}"
    for r in failing:
        where = r.point if r.point.startswith("random") else f"the {r.point}"
        lines.append(f"{r.name} at {where}:")
        if r.shape:
            lines.append(f"  {r.shape}")
            continue
        lines.append(header)
        for f in r.failures[:SHOWN]:
            lines.append(
                f"  {f.entry:<14} {f.value:>18} {f.exact:>18} {sci(f.difference):>11} "
                f"{sci(f.tolerance, ''):>10}"
            )
        if len(r.failures) > SHOWN:
            lines.append(f"  ... and {len(r.failures) - SHOWN} more (--format json lists all)")
    return lines


def _detail(m: LayerMatch) -> str:
    return "; ".join(f"{k}: {v}" for k, v in m.detail)


def _likely(report: LayerReport) -> list[str]:
    if not report.mistakes and not report.unexplained:
        return []
    lines = ["Likely mistake"]
    for m in report.mistakes:
        lines.append(
            f"  {', '.join(m.arrays)}: reproduced exactly by '{m.mistake}' ({_detail(m)}) "
            f"at {m.points} points."
        )
        lines.append(f"    {m.mistake}: {m.summary}.")
    if report.unexplained:
        lines.append(
            f"  {', '.join(report.unexplained)}: nothing in the catalogue reproduces these "
            f"numbers (tried: {', '.join(report.catalogue)})."
        )
    return lines


def _weak(report: LayerReport) -> list[str]:
    if not report.weak:
        return []
    lines = [
        "Weak test points (a correct backward and these mistakes give the same numbers there)"
    ]
    lines += [f"  {w.point}: {', '.join(w.mistakes)}" for w in report.weak]
    told = {m for w in report.weak for m in w.mistakes}
    never = [m for m in sorted(told) if all(m in w.mistakes for w in report.weak)]
    if never and len(report.weak) == len(report.points):
        lines.append(f"  At no point can these be told apart: {', '.join(never)}.")
    return lines


def _text(report: LayerReport) -> list[str]:
    lines = _header(report) + _table(report) + [""]
    if not report.ok:
        lines += [*_failures(report), ""]
        likely = _likely(report)
        lines += likely + ([""] if likely else [])
    weak = _weak(report)
    lines += weak + ([""] if weak else [])
    failing = sum(1 for r in report.results if not r.ok)
    if report.ok:
        arrays = ", ".join(report.names())
        lines.append(f"Result: ok: {arrays} match the exact values at {len(report.points)} points")
    else:
        lines.append(f"Result: FAIL: {failing} array comparisons out of tolerance")
    return lines


def _number(value: Real) -> float | str | None:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return sci(value, "")


def _failure_json(f: EntryFailure) -> dict[str, Any]:
    return {
        "entry": f.entry,
        "value": f.value,
        "exact": f.exact,
        "difference": _number(f.difference),
        "tolerance": _number(f.tolerance),
    }


def _result_json(r: ArrayResult) -> dict[str, Any]:
    return {
        "array": r.name,
        "point": r.point,
        "ok": r.ok,
        "entries": r.entries,
        "max_abs_error": _number(r.max_abs_error),
        "max_rel_error": _number(r.max_rel_error),
        "shape": r.shape,
        "failures": [_failure_json(f) for f in r.failures],
    }


def _json(report: LayerReport) -> dict[str, Any]:
    return {
        "kind": report.kind.name,
        "module": report.where,
        "forward": report.forward,
        "backward": report.backward,
        "sizes": {k: list(v) for k, v in report.sizes.items()},
        "points": [{"label": p.label, "edge": p.edge or None} for p in report.points],
        "rtol": report.rtol,
        "atol": report.atol,
        "ok": report.ok,
        "results": [_result_json(r) for r in report.results],
        "mistakes": [
            {
                "parameters": list(m.arrays),
                "mistake": m.mistake,
                "detail": dict(m.detail),
                "points": m.points,
            }
            for m in report.mistakes
        ],
        "unexplained": list(report.unexplained),
        "weak_points": [{"point": w.point, "mistakes": list(w.mistakes)} for w in report.weak],
    }


__all__ = ["LayerReport"]
