"""The ``backprop-derivation`` and ``backprop-check`` directives.

Both take a spec: a TOML file relative to the document (or, with a leading ``/``, to the source
directory), or a built-in example name. The spec file, or the example's file, is declared as a
dependency of the document, so editing it rebuilds the pages that use it.

Every problem is a Sphinx warning at the directive, never a traceback: a bad spec names the spec
file and line; a failing ``:check:`` names the failing entries. ``sphinx-build -W`` therefore
fails on either. Warnings have ``type="symbackprop"`` and a subtype (``spec``, ``check``,
``mathml``), so ``suppress_warnings = ["symbackprop.check"]`` silences one kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from ..check import EntryFailure, check
from ..derivation import KINK_CONVENTIONS, Derivation, Options, derive
from ..errors import SpecError, SymbackpropError
from ..render.blocks import SECTIONS, Equation, Heading, Paragraph, blocks, resolve
from ..spec import NetworkSpec, example_names, example_text, parse_spec
from .html_math import LABEL_ATTRIBUTE

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- options


def sections_option(text: str | None) -> tuple[str, ...]:
    """Parse ``:sections: forward, gradients`` into section names, in document order.

    Raises:
        ValueError: A name is not a section (docutils reports it at the directive).
    """
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    if not names:
        raise ValueError(f"expected a comma-separated list of: {', '.join(resolve(None))}")
    try:
        return resolve(names)
    except SymbackpropError as error:
        raise ValueError(str(error)) from None


def kink_option(text: str | None) -> str:
    """Parse ``:relu-prime-at-zero:`` (one of the keys of ``KINK_CONVENTIONS``)."""
    return directives.choice((text or "").strip(), list(KINK_CONVENTIONS))


def expect_option(text: str | None) -> str:
    """Parse ``:expect: pass`` or ``:expect: fail``."""
    return directives.choice((text or "").strip(), ["pass", "fail"])


# ----------------------------------------------------------------------------- spec loading


class SpecProblem(Exception):
    """A spec that cannot be used; the message is the whole warning text."""


@lru_cache(maxsize=32)
def _derive(spec: NetworkSpec, options: Options) -> Derivation:
    """Derive once per build process for each (spec, options); specs are frozen and hashable."""
    return derive(spec, options)


def spec_line(text: str, key: str) -> int | None:
    """The 1-based line of the TOML text that a :class:`SpecError` key points at.

    ``key`` is the error's key, like ``[network] activations[1]`` or ``[data]``. The line is the
    key's assignment inside its table, else the table's header, else ``None``. A TOML syntax
    error carries its own line (``at line 3``) in the message instead.

    Example:
        >>> spec_line("[network]\\nlayers = [2]\\n", "[network] layers")
        2
    """
    match = re.match(r"\[([^\]]+)\]\s*([A-Za-z_][\w-]*)?", key)
    if not match:
        return None
    table, name = match.groups()
    current, header = "", None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        table_match = re.match(r"\[\s*([^\]\s]+)\s*\]", stripped)
        if table_match and not stripped.startswith("[["):
            current = table_match.group(1)
            if current == table:
                header = number
            continue
        if current == table and name and re.match(rf"{re.escape(name)}\s*=", stripped):
            return number
        if not current and table == name and re.match(rf"{re.escape(name)}\s*=", stripped):
            return number  # an unknown top-level key, reported as "[key]"
    return header


def _describe(error: SpecError, label: str, text: str) -> str:
    """``/docs/specs/bad.toml:4: [network] activations[1]: unknown activation ...``."""
    syntax = re.search(r"\bat line (\d+)", error.detail)
    line = int(syntax.group(1)) if syntax else spec_line(text, error.key)
    where = f"{label}:{line}" if line else label
    return f"{where}: {error.key}: {error.detail}" if error.key else f"{where}: {error.detail}"


class _SpecDirective(SphinxDirective):
    """Shared by both directives: resolve, declare and load the spec argument."""

    required_arguments = 1
    final_argument_whitespace = False

    def load(self) -> NetworkSpec:
        """The spec named by the argument, declared as a dependency of the document.

        A file next to the document wins over a built-in example of the same name.

        Raises:
            SpecProblem: The spec is missing or invalid; the message names file and line.
        """
        argument = self.arguments[0]
        _, absolute = self.env.relfn2path(argument, self.env.docname)
        path = Path(absolute)
        if path.is_file() or argument not in example_names():
            self.env.note_dependency(absolute)  # also when missing: creating it rebuilds
            source = str(path)
            try:
                text = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as error:
                reason = getattr(error, "strerror", None) or str(error)
                raise SpecProblem(
                    f"bad spec: {source}: cannot read spec: {reason}; "
                    f"not a built-in example either ({', '.join(example_names())})"
                ) from None
        else:
            example = resources.files("symbackprop") / "examples" / f"{argument}.toml"
            if isinstance(example, Path):
                self.env.note_dependency(str(example))
            source, text = f"example '{argument}'", example_text(argument)
        try:
            spec = parse_spec(text, source)
        except SpecError as error:
            raise SpecProblem(f"bad spec: {_describe(error, source, text)}") from None
        if not isinstance(spec, NetworkSpec):
            raise SpecProblem(f"bad spec: {source}: [[layers]] stacks are not rendered yet")
        return spec

    def warn(self, message: str, subtype: str) -> list[nodes.Node]:
        """Log a warning at this directive and return no nodes."""
        logger.warning(message, location=self.get_location(), type="symbackprop", subtype=subtype)
        return []

    def options_object(self) -> Options:
        """The :class:`Options` given by ``:digits:`` and ``:relu-prime-at-zero:``."""
        kwargs: dict[str, Any] = {}
        if "digits" in self.options:
            kwargs["digits"] = self.options["digits"]
        if "relu-prime-at-zero" in self.options:
            kwargs["relu_prime_at_zero"] = KINK_CONVENTIONS[self.options["relu-prime-at-zero"]]
        return Options(**kwargs)

    def derivation(self) -> Derivation:
        """Load the spec and derive it (cached per spec and options).

        Raises:
            SpecProblem: The spec is missing or invalid.
            SymbackpropError: The derivation itself rejected the input.
        """
        return _derive(self.load(), self.options_object())


_COMMON_OPTIONS: dict[str, Callable[[str], Any]] = {
    "digits": directives.positive_int,
    "relu-prime-at-zero": kink_option,
    "random-points": directives.nonnegative_int,
    "seed": directives.nonnegative_int,
}


def _check_options(options: dict[str, Any], derivation: Derivation) -> dict[str, Any]:
    """Keyword arguments of :func:`symbackprop.check.check` from the directive's options."""
    keywords: dict[str, Any] = {"relu_prime_at_zero": derivation.options.relu_prime_at_zero}
    for name, keyword in (("random-points", "random_points"), ("seed", "seed")):
        if name in options:
            keywords[keyword] = options[name]
    return keywords


def _failure_names(failures: Sequence[EntryFailure]) -> list[str]:
    """The names (``dW2[0,1]``) of the failing entries, once each, in report order."""
    return list(dict.fromkeys(failure.entry for failure in failures))


def _check_failed_message(spec: str, failures: Sequence[EntryFailure]) -> str:
    names = _failure_names(failures)
    count = f"{len(names)} entr{'y' if len(names) == 1 else 'ies'}"
    return f"check failed for '{spec}': {count}: {', '.join(names)}"


# ----------------------------------------------------------------------------- directives


class DerivationDirective(_SpecDirective):
    """``.. backprop-derivation:: spec`` -- the derivation as headings, text and math nodes.

    Options:
        sections: Comma-separated subset of :data:`~symbackprop.render.blocks.SECTIONS` (and
            ``updated``), shown in document order (default: all).
        expanded / no-expanded: Include the expanded forms in x, W, b and y (default: yes).
        digits: Significant digits of decimal values (default: 12).
        relu-prime-at-zero: ``0``, ``1/2`` or ``1`` (default: ``0``).
        heading-level: HTML level of the derivation's top headings (default: 3).
        check: Run the numeric check during the build; a failure is a warning.
        random-points, seed: Passed to the check (defaults: those of ``symbackprop.check``).
    """

    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        **_COMMON_OPTIONS,
        "sections": sections_option,
        "expanded": directives.flag,
        "no-expanded": directives.flag,
        "heading-level": lambda text: directives.choice(text, [str(n) for n in range(1, 7)]),
        "check": directives.flag,
        "class": directives.class_option,
    }

    def run(self) -> list[nodes.Node]:
        if "expanded" in self.options and "no-expanded" in self.options:
            return self.warn("use either :expanded: or :no-expanded:, not both", "options")
        try:
            derivation = self.derivation()
            content = blocks(
                derivation,
                sections=self.options.get("sections", SECTIONS),
                expanded="no-expanded" not in self.options,
            )
            report = (
                check(derivation, **_check_options(self.options, derivation))
                if "check" in self.options
                else None
            )
        except SpecProblem as problem:
            return self.warn(str(problem), "spec")
        except SymbackpropError as error:
            return self.warn(f"{self.arguments[0]}: {error}", "spec")
        container = nodes.container(
            classes=["symbackprop-derivation", *self.options.get("class", [])]
        )
        self.set_source_info(container)
        level = int(self.options.get("heading-level", 3))
        container += [self.node(block, level) for block in content]
        if report is not None and report.ok:
            container += nodes.paragraph(
                "",
                "Checked while this page was built (symbackprop check): every comparison holds.",
                classes=["symbackprop-checked"],
            )
        if report is not None and not report.ok:
            logger.warning(
                _check_failed_message(self.arguments[0], report.failures()),
                location=container,
                type="symbackprop",
                subtype="check",
            )
        return [container]

    def node(self, block: Heading | Paragraph | Equation, level: int) -> nodes.Element:
        """One docutils node per block: a rubric heading, a paragraph or a math block."""
        if isinstance(block, Heading):
            rubric = nodes.rubric(block.text, block.text)
            rubric["heading-level"] = min(6, level + block.level - 1)
            return rubric
        if isinstance(block, Paragraph):
            # The text is final, as in the other formats: "--digits" must not become "–digits".
            paragraph = nodes.paragraph(support_smartquotes=False)
            for kind, value in block.parts:
                paragraph += nodes.math(value, value) if kind == "math" else nodes.Text(value)
            self.set_source_info(paragraph)
            return paragraph
        math = nodes.math_block(
            block.latex,
            block.latex,
            docname=self.env.docname,
            number=None,
            label=None,
            nowrap=False,
        )
        math["no-wrap"] = False
        math[LABEL_ATTRIBUTE] = block.label
        self.set_source_info(math)
        return math


class CheckDirective(_SpecDirective):
    """``.. backprop-check:: spec`` -- the ``symbackprop check`` report, run at build time.

    Options:
        expect: ``pass`` (default) or ``fail``. An outcome other than the expected one is a
            warning, so a page that shows a failing report (the worked example) stays honest.
        digits, relu-prime-at-zero, random-points, seed: As for ``backprop-derivation``.
    """

    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        **_COMMON_OPTIONS,
        "expect": expect_option,
        "class": directives.class_option,
    }

    def run(self) -> list[nodes.Node]:
        try:
            derivation = self.derivation()
            report = check(derivation, **_check_options(self.options, derivation))
        except SpecProblem as problem:
            return self.warn(str(problem), "spec")
        except SymbackpropError as error:
            return self.warn(f"{self.arguments[0]}: {error}", "spec")
        text = report.to_text().rstrip("\n")
        block = nodes.literal_block(
            text, text, classes=["symbackprop-check", *self.options.get("class", [])]
        )
        block["language"] = "text"
        self.set_source_info(block)
        expected = self.options.get("expect", "pass")
        if report.ok != (expected == "pass"):
            outcome = "passed" if report.ok else "failed"
            message = (
                _check_failed_message(self.arguments[0], report.failures())
                if not report.ok
                else f"check passed for '{self.arguments[0]}', but the page expects it to fail"
            )
            logger.warning(
                f"{message} (:expect: {expected}, {outcome})",
                location=block,
                type="symbackprop",
                subtype="check",
            )
        return [block]
