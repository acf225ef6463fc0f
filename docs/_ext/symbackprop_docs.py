"""Directives for symbackprop's own docs: reference material generated from the code.

* ``.. argparse-reference:: symbackprop.cli:build_parser`` -- one section per (sub)command, with
  its usage line and every argument, walked from the real ``argparse`` parser.
* ``.. registry-table:: activations`` (or ``losses``) -- the registries as tables.
* ``:value:`symbackprop.spec:Expected.atol``` -- the ``str()`` of a Python attribute, so that
  defaults quoted in prose come from the code.

Not part of the published extension: these exist so that nothing in the reference is copied by
hand.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

logger = logging.getLogger(__name__)


def resolve(target: str) -> Any:
    """``"package.module:attr.attr"`` -> the object."""
    module_name, _, attributes = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for attribute in filter(None, attributes.split(".")):
        value = getattr(value, attribute)
    return value


# ----------------------------------------------------------------------------- CLI reference


def _sentence(text: str) -> str:
    """``text`` with a capital first letter and a final full stop."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _help(action: argparse.Action, prog: str) -> str:
    text = action.help or ""
    if "%" in text:
        text = text % {**vars(action), "prog": prog}
    return _sentence(text)


def _term(action: argparse.Action) -> str:
    if not action.option_strings:
        return str(action.metavar or action.dest)
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = action.metavar or action.dest.upper()
    return ", ".join(f"{option} {metavar}" for option in action.option_strings)


def _argument_item(action: argparse.Action, prog: str) -> nodes.definition_list_item:
    definition = nodes.paragraph(text=_help(action, prog))
    choices = list(action.choices or ())
    if choices:
        definition += nodes.Text(" One of: ")
        for index, choice in enumerate(choices):
            definition += nodes.literal(text=str(choice))
            definition += nodes.Text(", " if index < len(choices) - 1 else ".")
    if not action.option_strings and action.nargs == "?":
        definition += nodes.Text(" Optional.")
    return nodes.definition_list_item(
        "",
        nodes.term("", "", nodes.literal(text=_term(action))),
        nodes.definition("", definition),
    )


def _subcommands(parser: argparse.ArgumentParser) -> Iterable[tuple[str, Any]]:
    """``(help, parser)`` for each subcommand, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, subparser in action.choices.items():
                yield helps.get(name, ""), subparser


def _parser_section(parser: argparse.ArgumentParser, summary: str) -> nodes.section:
    title = parser.prog
    section = nodes.section(ids=[nodes.make_id(title)], names=[nodes.fully_normalize_name(title)])
    section += nodes.title(text=title)
    for text in filter(None, (summary, parser.description)):
        section += nodes.paragraph(text=_sentence(text))
    usage = parser.format_usage().removeprefix("usage: ").strip()
    section += nodes.literal_block(usage, usage, language="text")
    arguments = [
        action for action in parser._actions if not isinstance(action, argparse._SubParsersAction)
    ]
    section += nodes.definition_list("", *(_argument_item(a, parser.prog) for a in arguments))
    for help_text, subparser in _subcommands(parser):
        section += _parser_section(subparser, help_text)
    return section


class ArgparseReference(SphinxDirective):
    """``.. argparse-reference:: module:function`` -- a section tree walked from the parser."""

    required_arguments = 1

    def run(self) -> Sequence[nodes.Node]:
        parser = resolve(self.arguments[0])()
        module = importlib.import_module(self.arguments[0].partition(":")[0])
        if module.__file__:  # rebuild when the CLI module changes
            self.env.note_dependency(module.__file__)
        return [_parser_section(parser, "")]


# ----------------------------------------------------------------------------- registries


def _table(header: Sequence[str], rows: Sequence[Sequence[nodes.Node | str]]) -> nodes.table:
    table = nodes.table(classes=["symbackprop-registry"])
    group = nodes.tgroup(cols=len(header))
    table += group
    group += [nodes.colspec(colwidth=1) for _ in header]

    def row(cells: Sequence[nodes.Node | str]) -> nodes.row:
        result = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += (
                nodes.paragraph(text=cell)
                if isinstance(cell, str)
                else nodes.paragraph("", "", cell)
            )
            result += entry
        return result

    group += nodes.thead("", row(header))
    group += nodes.tbody("", *(row(r) for r in rows))
    return table


def _code(text: str) -> nodes.literal:
    return nodes.literal(text=text)


def _options(options: dict[str, Any]) -> str:
    return (
        ", ".join(
            f"{name} = {str(value).lower() if isinstance(value, bool) else value}"
            for name, value in options.items()
        )
        or "–"
    )


def _activation_rows() -> list[list[nodes.Node | str]]:
    from symbackprop.activations import ACTIVATIONS, ALIASES

    rows: list[list[nodes.Node | str]] = []
    for name, entry in sorted(ACTIVATIONS.items()):
        aliases = ", ".join(sorted(a for a, target in ALIASES.items() if target == name)) or "–"
        notes = [
            *(["output layer only"] if entry.output_only else []),
            *(["kink at 0: ReLU′(0) convention applies"] if entry.has_kink else []),
        ]
        rows.append(
            [
                _code(name),
                aliases,
                _options(dict(entry.options)),
                entry.description,
                "; ".join(notes) or "–",
            ]
        )
    return rows


def _loss_rows() -> list[list[nodes.Node | str]]:
    from symbackprop.losses import LOSSES

    rows: list[list[nodes.Node | str]] = []
    for name, entry in sorted(LOSSES.items()):
        outputs = " or ".join(entry.output_activations or ()) or "any"
        rows.append([_code(name), outputs, _options(dict(entry.options)), entry.description])
    return rows


def _layer_kind_rows() -> list[list[nodes.Node | str]]:
    from symbackprop.layercheck import KINDS
    from symbackprop.layercheck.sizes import shape_text

    rows: list[list[nodes.Node | str]] = []
    for name, kind in KINDS.items():
        defaults = shape_text({s.name: s.default for s in kind.sizes})
        signatures = nodes.paragraph()
        for k, signature in enumerate(kind.signatures):
            signatures += [nodes.line_block() if k else nodes.Text(""), _code(signature)]
        rows.append([_code(name), signatures, _code(defaults), kind.summary])
    return rows


def _layer_mistake_rows() -> list[list[nodes.Node | str]]:
    from symbackprop.layercheck import LAYER_MISTAKES

    return [
        [_code(m.id), ", ".join(m.kinds) if m.kinds else "every kind", m.summary]
        for m in LAYER_MISTAKES.values()
    ]


def _stack_step_rows() -> list[list[nodes.Node | str]]:
    from symbackprop.mistakes.stack import NOT_MAPPED, STEPS, named_in_stacks

    rows: list[list[nodes.Node | str]] = []
    for kind, step in STEPS.items():
        ids = nodes.paragraph()
        for k, name in enumerate(named_in_stacks(kind)):
            ids += [nodes.Text(", ") if k else nodes.Text(""), _code(name)]
        rows.append([_code(kind), _code(step.kind), ids])
    rows += [[_code(kind), "none", why] for kind, why in NOT_MAPPED.items()]
    return rows


def _mistake_rows() -> list[list[nodes.Node | str]]:
    from symbackprop.mistakes.catalogue import MISTAKES

    return [[_code(m.id), m.summary] for m in MISTAKES.values()]


class CheckLayerOutput(SphinxDirective):
    """``.. check-layer-output:: relu --module tests/cs231n_layers/correct.py`` -- the report,
    produced by running ``symbackprop check-layer`` from the repository root; paths under the
    root (a traceback's file names) are printed relative to it, the same on every machine."""

    required_arguments = 1
    final_argument_whitespace = True

    def run(self) -> Sequence[nodes.Node]:
        import contextlib
        import io
        import os
        import shlex

        from symbackprop.cli import main

        argv = ["check-layer", *shlex.split(self.arguments[0])]
        out, err, cwd = io.StringIO(), io.StringIO(), os.getcwd()
        root = os.path.dirname(os.path.abspath(self.env.srcdir))
        os.chdir(root)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(argv)
        finally:
            os.chdir(cwd)
        text = f"$ symbackprop {' '.join(argv)}\n{out.getvalue()}{err.getvalue()}"
        text = text.replace(f'"{root}{os.sep}', '"')
        text += f"$ echo $?\n{status}\n"
        return [nodes.literal_block(text, text)]


REGISTRIES = {
    "layer-kinds": (
        ("Kind", "Functions (CS231n signatures)", "--shape defaults", "Computes"),
        _layer_kind_rows,
    ),
    "layer-mistakes": (("Mistake", "Kinds", "What it is"), _layer_mistake_rows),
    "mistakes": (("Mistake", "What it is"), _mistake_rows),
    "stack-steps": (
        ("Stack layer kind", "check-layer kind", "Entries tried (besides transposed)"),
        _stack_step_rows,
    ),
    "activations": (
        ("Name", "Aliases", "Options (default)", "Definition", "Notes"),
        _activation_rows,
    ),
    "losses": (("Name", "Output activation", "Options (default)", "Per-sample loss"), _loss_rows),
}


class RegistryTable(SphinxDirective):
    """``.. registry-table:: activations`` -- a registry as a table."""

    required_arguments = 1
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {"class": directives.class_option}

    def run(self) -> Sequence[nodes.Node]:
        header, rows = REGISTRIES[self.arguments[0]]
        return [_table(header, rows())]


class ValueRole(SphinxRole):
    """``:value:`module:attr``` -- the attribute's ``str()`` as inline code."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        try:
            value = resolve(self.text)
        except (ImportError, AttributeError) as error:
            message = self.inliner.reporter.warning(
                f"cannot resolve {self.text!r}: {error}", line=self.lineno
            )
            return [], [message]
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, dict | list | tuple):
            text = ", ".join(map(str, value))
        else:
            text = str(value)
        return [nodes.literal(self.rawtext, text)], []


# ----------------------------------------------------------------------------- spec keys


class SpecKey(SphinxDirective):
    """``.. spec-key:: [network] layers`` with ``:shape:`` and ``:default:`` and a description.

    Every documented key is recorded; at the end of reading, the keys of each table are compared
    with the key lists ``symbackprop.spec`` validates against (``_TABLES``, ``_NETWORK_KEYS``,
    ...). A key the parser accepts but the page does not document, or the reverse, is a warning.
    """

    required_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        "shape": directives.unchanged_required,
        "default": directives.unchanged_required,
    }

    def run(self) -> Sequence[nodes.Node]:
        key = self.arguments[0]
        _documented(self.env).setdefault(self.env.docname, set()).add(key)
        item = nodes.definition_list_item("", nodes.term("", "", nodes.literal(text=key)))
        definition = nodes.definition()
        fields = nodes.field_list()
        for name in ("shape", "default"):
            if name in self.options:
                text, messages = self.state.inline_text(self.options[name], self.lineno)
                body = nodes.field_body("", nodes.paragraph("", "", *text), *messages)
                fields += nodes.field("", nodes.field_name(text=name.capitalize()), body)
        definition += fields
        self.state.nested_parse(self.content, self.content_offset, definition)
        item += definition
        target = nodes.target("", "", ids=[nodes.make_id("spec-" + key)])
        return [target, nodes.definition_list("", item)]


def _documented(env: Any) -> dict[str, set[str]]:
    """Documented spec keys by document, kept on the environment (pickled with it)."""
    if not hasattr(env, "symbackprop_spec_keys"):
        env.symbackprop_spec_keys = {}
    return env.symbackprop_spec_keys


def accepted_keys() -> dict[str, set[str]]:
    """``{"[network]": {"layers", ...}, ...}`` for the tables whose keys are fixed names."""
    from symbackprop import spec

    keys: dict[str, set[str]] = {f"[{table}]": set() for table in spec._TABLES}
    for table in spec._TABLES:
        names = getattr(spec, f"_{table.upper()}_KEYS", None)
        if names is not None:
            keys[f"[{table}]"] = set(names)
    return keys


def check_spec_keys(app: Sphinx, env: Any) -> None:
    documented_by_doc = _documented(env)
    if not documented_by_doc:
        return
    documented = set().union(*documented_by_doc.values())
    docname = next(iter(documented_by_doc))
    for table, names in accepted_keys().items():
        if table not in documented:
            logger.warning("spec table %s is not documented", table, location=docname)
        for name in sorted(names):
            if f"{table} {name}" not in documented:
                logger.warning("spec key %s %s is not documented", table, name, location=docname)
    known = set(accepted_keys())
    for key in sorted(documented):
        table = key.split(" ", 1)[0]
        if table not in known:
            logger.warning(
                "documented spec table %s is not accepted by the parser", table, location=docname
            )
        elif (
            " " in key
            and accepted_keys()[table]
            and key.split(" ", 1)[1] not in accepted_keys()[table]
        ):
            logger.warning(
                "documented spec key %s is not accepted by the parser", key, location=docname
            )


def purge_spec_keys(app: Sphinx, env: Any, docname: str) -> None:
    _documented(env).pop(docname, None)


def merge_spec_keys(app: Sphinx, env: Any, docnames: set[str], other: Any) -> None:
    mine = _documented(env)
    for docname, keys in _documented(other).items():
        if docname in docnames:
            mine[docname] = keys


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("argparse-reference", ArgparseReference)
    app.add_directive("registry-table", RegistryTable)
    app.add_directive("spec-key", SpecKey)
    app.add_directive("check-layer-output", CheckLayerOutput)
    app.add_role("value", ValueRole())
    app.connect("env-check-consistency", check_spec_keys)
    app.connect("env-purge-doc", purge_spec_keys)
    app.connect("env-merge-info", merge_spec_keys)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
