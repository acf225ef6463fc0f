"""The check's report: :class:`CheckReport`, written for a terminal or as JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath

from ..mistakes.diagnose import MistakeMatch
from .compare import DOCUMENTED_POINT, ORDER, Comparison, EntryFailure, point_phrase
from .documented import Documented
from .likely import Likely
from .precision import PRECISION, Real, rational_text, real, sci


@dataclass(frozen=True)
class CheckReport:
    """Every comparison at every point, and the diagnosis of documented values.

    ``ok`` is true when no comparison has a failing entry.
    """

    ok: bool
    comparisons: tuple[Comparison, ...]
    title: str = ""
    documented: Documented | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    diagnosis: tuple[str, ...] = ()
    #: After one gradient-descent step (``[training]``), (entry, exact form, decimal) per entry.
    updated: tuple[tuple[str, str, str], ...] = ()
    #: The catalogued mistakes that reproduce the failures, and the documented point's blind spots.
    likely: Likely = field(default_factory=Likely)
    #: The label and spec of every point, for ``--save-failing`` (a stack's spec is a
    #: ``StackPointSpec``).
    points: tuple[tuple[str, Any], ...] = field(default=(), compare=False, repr=False)

    def failing_points(self) -> list[str]:
        """The random points where some comparison fails, in order."""
        failing = {c.point: None for c in self.comparisons if not c.ok}
        return [
            label for label, _ in self.points if label in failing and label != DOCUMENTED_POINT
        ]

    def failures(self) -> list[EntryFailure]:
        """Every failing entry of every comparison, in report order."""
        return [f for c in self.comparisons for f in c.failures]

    def to_text(self) -> str:
        """The report for a terminal."""
        return _report_text(self)

    def to_json(self) -> str:
        """The same content as a JSON document with a top-level boolean ``"ok"``."""
        return json.dumps(_json(self), indent=2, ensure_ascii=False) + "\n"

    def likely_text(self, source: str | None = None) -> str:
        """The "Likely mistake" section (of the user's ``"backprop"`` or the ``"documented"``
        values only, if ``source`` is given); empty when nothing failed."""
        likely = self.likely
        if source is not None:
            likely = Likely(
                tuple(m for m in likely.mistakes if m.source == source),
                tuple(u for u in likely.unexplained if u[0] == source),
            )
        return "\n".join(_likely_text(likely)).rstrip()

    def failure_table(self, names: Sequence[str] | None = None) -> str:
        """The failing entries (of the comparisons ``names``, default all) as a table."""
        return _failure_table([c for c in self.comparisons if names is None or c.name in names])


def _largest(errors: list[float]) -> float:
    """The largest error, NaN if any is NaN (``max`` would drop it)."""
    return math.nan if any(math.isnan(e) for e in errors) else max(errors, default=0.0)


def _aggregate(comparisons: list[Comparison]) -> tuple[int, float, float, int, int, int]:
    entries = sum(c.entries for c in comparisons)
    max_abs = _largest([c.max_abs_error for c in comparisons])
    max_rel = _largest([c.max_rel_error for c in comparisons])
    failing_points = sum(1 for c in comparisons if not c.ok)
    failing_entries = sum(len(c.failures) for c in comparisons)
    flagged = sum(len(c.flagged) for c in comparisons)
    return entries, max_abs, max_rel, failing_points, failing_entries, flagged


def _verdict(comparisons: list[Comparison], several: bool) -> str:
    if all(c.skipped for c in comparisons):
        return "skipped"
    entries, _, _, points, failing, flagged = _aggregate(comparisons)
    if failing:
        where = f" at {points} of {len(comparisons)} points" if several else ""
        text = f"FAIL: {failing} of {entries} entries{where}"
    else:
        text = "ok"
    reasons = [f"{flagged} not judged: kink"] if flagged else []
    unresolved = sum(len(c.unresolved) for c in comparisons)
    if unresolved:
        reasons.append(f"{unresolved} not judged: float64 cannot resolve them")
    return text + (f" ({'; '.join(reasons)})" if reasons else "")


def _table(groups: list[list[Comparison]], several: bool) -> list[str]:
    lines = [
        f"  {'comparison':<30} {'entries':>7}  {'max abs err':>11}  {'max rel err':>11}  verdict"
    ]
    for comparisons in groups:
        entries, max_abs, max_rel, *_ = _aggregate(comparisons)
        lines.append(
            f"  {comparisons[0].name:<30} {entries:>7}  {max_abs:>11.1e}  {max_rel:>11.1e}  "
            f"{_verdict(comparisons, several)}"
        )
    return lines


def _failure_table(comparisons: list[Comparison]) -> str:
    failing = [c for c in comparisons if c.failures]
    total = sum(len(c.failures) for c in failing)
    if not total:
        return "no failing entries"
    lines = [f"{total} failing entries"]
    header = f"  {'entry':<10} {'value':>18} {'exact':>18} {'difference':>11} {'tolerance':>10}"
    for c in failing:
        lines += [f"{c.name} at {point_phrase(c.point)}:", header]
        for f in c.failures:
            lines.append(
                f"  {f.entry:<10} {f.value:>18} {f.exact:>18} {sci(f.difference):>11} "
                f"{sci(f.tolerance, ''):>10}"
            )
    return "\n".join(lines)


def _report_text(report: CheckReport) -> str:
    lines = _header(report)
    lines += [f"note: {n}" for n in report.notes] + ([""] if report.notes else [])
    lines += _tables(report)
    if report.documented is not None:
        lines += ["", *_documented_table(report.documented)]
    lines += ["", *_failing_entries(report)]
    lines += _likely_text(report.likely)
    if report.updated:
        training = report.settings.get("training", "")
        lines.append(f"After one gradient-descent step{training}")
        lines += [f"  {entry:<12} = {exact}  ≈ {value}" for entry, exact, value in report.updated]
        lines.append("")
    if report.diagnosis:
        lines.append("Diagnosis")
        lines += [f"  - {line}" for line in report.diagnosis]
        lines.append("")
    lines.append(_result(report))
    return "\n".join(lines) + "\n"


def _header(report: CheckReport) -> list[str]:
    """The title, the user's backprop and the tolerances."""
    s = report.settings
    lines = [f"symbackprop check of {report.title}"]
    if s.get("backprop"):
        lines.append(f"your backprop: {s['backprop']}")
    return [
        *lines,
        f"ReLU'(0) = {s['relu_prime_at_zero']}; pass when |value - exact| <= atol + rtol*|exact|, "
        f"exact values at {PRECISION} digits",
        f"  float64 gradients: rtol = {s['rtol']:g}, atol = {s['atol']:g}; finite differences "
        f"(step {s['finite_difference_step']}): rtol = {s['finite_difference_rtol']:g}, "
        f"atol = {s['finite_difference_atol']:g}",
        "",
    ]


def _tables(report: CheckReport) -> list[str]:
    """One table at the documented point, one over the random points (if any)."""
    at_point = [
        [c for c in report.comparisons if c.name == name and c.point == DOCUMENTED_POINT]
        for name in ORDER
    ]
    lines = ["At the documented point", *_table([g for g in at_point if g], several=False)]
    count = report.settings.get("random_points", 0)
    if count:
        random_groups = [
            [c for c in report.comparisons if c.name == name and c.point != DOCUMENTED_POINT]
            for name in ORDER
        ]
        lines += ["", f"At {count} random points (seed {report.settings['seed']})"]
        lines += _table([g for g in random_groups if g], several=True)
    return lines


def _failing_entries(report: CheckReport) -> list[str]:
    """Each failing entry in a sentence, by comparison (nothing when all pass)."""
    failures = report.failures()
    if not failures:
        return []
    lines = [f"Failing entries ({len(failures)})"]
    for c in report.comparisons:
        if c.failures:
            lines.append(f"  {c.name} at {point_phrase(c.point)}:")
            lines += [f"    {f.to_text()}" for f in c.failures]
    return [*lines, ""]


def _result(report: CheckReport) -> str:
    if report.ok:
        return "Result: ok (exit status 0)"
    failing = sorted({c.name for c in report.comparisons if not c.ok}, key=ORDER.index)
    return (
        f"Result: FAIL, {len(report.failures())} failing entries in: {', '.join(failing)} "
        "(exit status 1)"
    )


def _documented_rule(documented: Documented) -> str:
    if documented.printed:
        extra = ""
        if documented.atol or documented.rtol:
            extra = (
                f" + atol + rtol*|documented| (atol = {rational_text(documented.atol)}, "
                f"rtol = {rational_text(documented.rtol)})"
            )
        return (
            "Documented values, each at the precision it is printed with: pass when "
            f"|exact - documented| <= half a unit in its last printed digit{extra}"
        )
    return (
        f"Documented values (atol = {rational_text(documented.atol)}, rtol = "
        f"{rational_text(documented.rtol)}: pass when |exact - documented| <= "
        "atol + rtol*|documented|)"
    )


def _documented_table(documented: Documented) -> list[str]:
    width = max([10, *(len(e.entry) for e in documented.entries)])
    lines = [
        _documented_rule(documented),
        f"  {'entry':<{width}} {'documented':>11} {'exact':>16} {'difference':>11} {'tolerance':>10}"
        f"  {'digits':>7}  {'should read':>11}  verdict",
    ]
    for e in documented.entries:
        lines.append(
            f"  {e.entry:<{width}} {e.documented:>11} {e.exact:>16} {sci(e.difference):>11} "
            f"{sci(e.tolerance, ''):>10}  {f'{e.digits_matched} of {e.digits_written}':>7}  "
            f"{e.should_read:>11}  {'ok' if e.ok else 'FAIL'}"
        )
    return lines


def _json(report: CheckReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "title": report.title,
        "settings": report.settings,
        "notes": list(report.notes),
        "updated": {
            entry: {"exact": exact, "value": value} for entry, exact, value in report.updated
        }
        or None,
        "comparisons": [_comparison_json(c) for c in report.comparisons],
        "failures": [_failure_json(f) for f in report.failures()],
        "documented": None if report.documented is None else _documented_json(report.documented),
        "diagnosis": list(report.diagnosis),
        "mistakes": [_mistake_json(m) for m in report.likely.mistakes],
        "unexplained": [
            {"source": source, "parameters": list(params)}
            for source, params in report.likely.unexplained
        ],
        "indistinguishable_at_documented_point": [
            {"mistake": m.mistake, "detail": dict(m.detail)} for m in report.likely.weak
        ],
        "mistakes_note": report.likely.note,
    }


def _mistake_json(m: MistakeMatch) -> dict[str, Any]:
    return {
        "parameters": list(m.parameters),
        "mistake": m.mistake,
        "detail": dict(m.detail),
        "points": m.points,
        "source": m.source,
    }


_SOURCES = {"backprop": "Your backprop", "documented": "The documented values"}


def _likely_text(likely: Likely) -> list[str]:
    """The "Likely mistake" and "Weak test point" sections (nothing when there is nothing)."""
    lines: list[str] = []
    if likely.mistakes or likely.unexplained:
        lines.append("Likely mistake")
        for source, label in _SOURCES.items():
            found = [m for m in likely.mistakes if m.source == source]
            left = [p for s, params in likely.unexplained if s == source for p in params]
            if found or left:
                lines.append(f"  {label}:")
                lines += [line for m in found for line in _match_lines(m)]
            if left:
                lines.append(
                    f"    {_names(left)}: nothing in the catalogue reproduces these numbers."
                )
        lines.append("")
    if likely.weak:
        lines.append("Weak test point")
        lines.append(
            "  At the documented point, these catalogued mistakes give the same gradients as a "
            "correct backprop; only the random points tell them apart:"
        )
        lines += [f"    {m.mistake} ({_detail(m)})" for m in likely.weak]
        lines.append("")
    if likely.note:
        lines += [f"note: {likely.note}", ""]
    return lines


def _names(parameters: Sequence[str]) -> str:
    return ", ".join(f"d{p}" for p in parameters)


def _detail(m: MistakeMatch) -> str:
    return "; ".join(f"{k}: {v}" for k, v in m.detail)


def _match_lines(m: MistakeMatch) -> list[str]:
    seen, total = m.points.split("/")
    if total == "1":
        where = "at the documented point"
    else:
        where = f"at the documented point and {int(seen) - 1}/{int(total) - 1} random points"
    how = "as written" if m.source == "documented" else "exactly"
    return [
        f"    {_names(m.parameters)}: reproduced {how} by '{m.mistake}' ({_detail(m)}) {where}.",
        f"      {m.mistake}: {m.summary}.",
    ]


def _number(value: Real) -> float | str | None:
    """A float, the text of a finite value beyond float64, or None for inf and NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return sci(value, "") if mpmath.isfinite(value) else None


def _failure_json(f: EntryFailure) -> dict[str, Any]:
    return {
        "comparison": f.comparison,
        "point": f.point,
        "entry": f.entry,
        "value": f.value,
        "exact": f.exact,
        "difference": _number(f.difference),
        "tolerance": _number(f.tolerance),
    }


def _comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "name": c.name,
        "point": c.point,
        "ok": c.ok,
        "entries": c.entries,
        "max_abs_error": _number(c.max_abs_error),
        "max_rel_error": _number(c.max_rel_error),
        "rtol": _number(c.rtol),
        "atol": _number(c.atol),
        "failures": [_failure_json(f) for f in c.failures],
        "not_judged": list(c.flagged),
        "not_resolved_in_float64": list(c.unresolved),
        "skipped": c.skipped,
    }


def _documented_json(documented: Documented) -> dict[str, Any]:
    rounded = documented.rounded_prediction
    return {
        "atol": str(documented.atol),
        "rtol": str(documented.rtol),
        "loosest_atol": _number(real(documented.loosest_atol)),
        "tolerance": "printed" if documented.printed else "atol + rtol*|documented|",
        "update_order": list(documented.update_order),
        "learning_rate": None
        if documented.learning_rate is None
        else str(documented.learning_rate),
        "entries": [
            {
                "entry": e.entry,
                "documented": e.documented,
                "exact": e.exact,
                "difference": _number(e.difference),
                "tolerance": _number(e.tolerance),
                "ok": e.ok,
                "digits_written": e.digits_written,
                "digits_matched": e.digits_matched,
                "should_read": e.should_read,
            }
            for e in documented.entries
        ],
        "rounded_prediction": None
        if rounded is None
        else {
            "places": rounded.places,
            "yhat_rounded": list(rounded.rounded),
            "yhat_exact": list(rounded.exact),
            "entries_reproduced": rounded.reproduced,
        },
    }
