"""The closing sentences of a report: which oracles agree, and what explains the rest."""

from __future__ import annotations

from .compare import DOCUMENTED, FINITE_DIFFERENCES, LAMBDIFIED, ORDER, REFERENCE, USER, Comparison
from .documented import Documented, RoundedPrediction
from .precision import rational_text, round_up
from .report import CheckReport


def _by_name(report: CheckReport) -> dict[str, list[Comparison]]:
    groups: dict[str, list[Comparison]] = {}
    for c in report.comparisons:
        groups.setdefault(c.name, []).append(c)
    return groups


def _oracle_label(name: str) -> str:
    return {
        LAMBDIFIED: "the lambdified closed forms",
        REFERENCE: "the reference NumPy backprop",
        USER: "your backprop",
        FINITE_DIFFERENCES: "central finite differences",
    }[name]


def diagnosis(report: CheckReport) -> list[str]:
    """What the report shows, in sentences: the documented table first, then the oracles."""
    groups = _by_name(report)
    judged = [n for n in ORDER if n in groups and n != DOCUMENTED]
    agree = [n for n in judged if all(c.ok and not c.skipped for c in groups[n])]
    disagree = [n for n in judged if not all(c.ok for c in groups[n])]
    documented = report.documented
    lines = [] if documented is None else _documented_lines(documented)
    if agree:
        count = report.settings.get("random_points", 0)
        where = "at the documented point" + (f" and at {count} random points" if count else "")
        lines.append(_agreeing(agree, where))
    unresolved = sum(len(c.unresolved) for c in groups.get(FINITE_DIFFERENCES, []))
    if unresolved:
        lines.append(
            f"{unresolved} finite-difference entries were not judged: float64 cannot resolve "
            "them there (see the note)."
        )
    lines += [_disagreeing(name, groups[name]) for name in disagree]
    if documented is not None and documented.failures and REFERENCE in agree:
        lines.append(
            "So the NumPy backprop (the notebook's delta recursion) was right; it is the "
            "hand-computed values that are off."
        )
    if USER in disagree and REFERENCE in agree and LAMBDIFIED in agree:
        lines.append(
            "The reference backprop and the closed forms agree with each other and with the exact "
            "values, so the difference is in your backprop."
        )
    return lines


def _agreeing(names: list[str], where: str) -> str:
    labels = [_oracle_label(n) for n in names]
    listed = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    verb = "agrees" if len(labels) == 1 else "all agree"
    return f"{listed[0].upper()}{listed[1:]} {verb} with the exact values {where}."


def _disagreeing(name: str, comparisons: list[Comparison]) -> str:
    failing = [c for c in comparisons if not c.ok]
    points = ", ".join(c.point for c in failing[:3]) + (" ..." if len(failing) > 3 else "")
    entries = sum(len(c.failures) for c in failing)
    label = _oracle_label(name)
    return (
        f"{label[0].upper()}{label[1:]} disagrees with the exact values in {entries} entries "
        f"({points})."
    )


def _documented_lines(documented: Documented) -> list[str]:
    """How far the documented table is off, and why."""
    lines = []
    failures = documented.failures
    total = len(documented.entries)
    if failures:
        names = ", ".join(e.entry for e in failures)
        lines.append(
            f"{len(failures)} of {total} documented entries are out of tolerance: {names}."
        )
    else:
        lines.append(f"All {total} documented entries are within tolerance.")
    if documented.update_order:
        lines.append(_update_order_line(documented))
    if documented.learning_rate is not None:
        rate = documented.learning_rate
        lines.append(
            "The parameters after the step, as written, are a step with learning rate "
            f"{float(rate):g} instead of the spec's: theta - {float(rate):g} * dJ/dtheta reproduces "
            "every one of them."
        )
    if documented.printed:
        lines.append(_printed_line(documented))
        return lines
    lines.append(
        f"The table as a whole would need atol >= {round_up(documented.loosest_atol)} "
        f"(with rtol = {rational_text(documented.rtol)}); it has atol = "
        f"{rational_text(documented.atol)}."
    )
    misread = sorted((e for e in documented.entries if e.misread), key=lambda e: e.ok)
    if misread:
        shown = ", ".join(f"{e.entry} {e.should_read} (not {e.documented})" for e in misread[:4])
        more = f", and {len(misread) - 4} more (column 'should read')" if len(misread) > 4 else ""
        lines.append(
            f"At the precision it was written in, {len(misread)} of {total} entries should read "
            f"differently: {shown}{more}."
        )
    coarse = [e for e in failures if not e.misread]
    if coarse:
        shown = ", ".join(f"{e.entry} = {e.documented}" for e in coarse)
        lines.append(
            f"Correctly rounded but written too coarsely for atol = "
            f"{rational_text(documented.atol)}: {shown}."
        )
    if documented.rounded_prediction is not None:
        lines.append(_rounded_line(documented.rounded_prediction))
    return lines


def _update_order_line(documented: Documented) -> str:
    names = ", ".join(documented.update_order)
    return (
        f"After the step, {names} as written is reproduced when the deltas of the earlier "
        "layers are computed with the already-updated weights of the later layers (an "
        "update-order slip: all gradients must be computed before any weight is updated)."
    )


def _printed_line(documented: Documented) -> str:
    """What the failures of a table judged at its printed precision say."""
    wrong = [e for e in documented.failures if e.misread]
    if not wrong:
        return "Every entry is the exact value correctly rounded to the digits it is printed with."
    shown = ", ".join(f"{e.entry} {e.should_read} (not {e.documented})" for e in wrong[:4])
    more = f", and {len(wrong) - 4} more (column 'should read')" if len(wrong) > 4 else ""
    return (
        f"{len(wrong)} entries are not the exact value rounded to the digits they are printed "
        f"with; correctly rounded they read: {shown}{more}."
    )


def _rounded_line(rounded: RoundedPrediction) -> str:
    values = rounded.rounded[0] if len(rounded.rounded) == 1 else f"({', '.join(rounded.rounded)})"
    exact = rounded.exact[0] if len(rounded.exact) == 1 else f"({', '.join(rounded.exact)})"
    example = f" (e.g. {rounded.example[0]} = {rounded.example[1]})" if rounded.example else ""
    return (
        f"The hand values are consistent with ŷ rounded to {rounded.rounded[0]}: recomputing "
        f"the gradients exactly from ŷ = {values} instead of {exact} reproduces all "
        f"{rounded.reproduced} documented gradient entries as written{example}."
    )
