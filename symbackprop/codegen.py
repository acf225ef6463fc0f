"""Many one-level definitions compiled to one Python function, printed once.

``lambdify`` suits one formula; on the thousands of entries of a layer it spends most of its
time around the printing: renaming the arguments with one ``xreplace`` of every expression,
walking them again for dummies, and ``str`` of the whole list for a docstring. Here each
expression is printed once by the same SymPy code printer, with every argument printed as the
identifier ``_v{i}`` as it is met, and the function is compiled in the namespace lambdify
builds for the same modules. Numbers, functions and precedence are the printer's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sympy import Expr, Symbol, cse, lambdify, numbered_symbols
from sympy.printing.codeprinter import CodePrinter

#: A compiled set of definitions: the argument values in order -> the values of the entries.
Function = Callable[[Sequence[Any]], list[Any]]


def compile_expressions(
    arguments: Sequence[Symbol],
    expressions: Sequence[Expr],
    printer: CodePrinter,
    modules: Any,
    shared: bool = False,
) -> Function:
    """A function of the values of ``arguments`` (one sequence) that returns the values of
    ``expressions``; ``shared`` first names the repeated subexpressions once (``cse``).

    >>> from sympy import exp, symbols
    >>> from sympy.printing.numpy import NumPyPrinter
    >>> x, y = symbols("x y")
    >>> f = compile_expressions([x, y], [x + y, exp(x)], NumPyPrinter(), "numpy")
    >>> [float(v) for v in f([1.0, 2.0])]
    [3.0, 2.718281828459045]
    """
    names = {symbol: f"_v{i}" for i, symbol in enumerate(arguments)}
    named = _named(type(printer))(printer._settings, names)  # type: ignore[attr-defined]
    body = []
    if shared:
        assignments, expressions = cse(list(expressions), symbols=numbered_symbols("_s"))
        body += [f"    {named.doprint(s)} = {named.doprint(e)}" for s, e in assignments]
    entries = ", ".join(named.doprint(e) for e in expressions)
    unpack = [f"    [{', '.join(names.values())}] = values"] if names else []
    source = "\n".join(["def generated(values):", *unpack, *body, f"    return [{entries}]"])
    namespace = _namespace(named, modules)
    exec(compile(source, "<symbackprop-generated>", "exec"), namespace)
    function: Function = namespace["generated"]
    return function


def _named(printer_class: type[CodePrinter]) -> type[CodePrinter]:
    """``printer_class`` with the arguments printed by name (an argument may be a Dummy, or a
    symbol like W^(1)_1,2 that is no identifier); one subclass per printer class."""
    if printer_class in _NAMED:
        return _NAMED[printer_class]

    class Named(printer_class):  # type: ignore[misc, valid-type]
        def __init__(self, settings: dict[str, Any], names: dict[Symbol, str]) -> None:
            super().__init__(settings)
            self.names = names

        def _print_Symbol(self, expr: Symbol, **kwargs: Any) -> str:
            name = self.names.get(expr)
            return name if name is not None else str(super()._print_Symbol(expr, **kwargs))

        def _print_Dummy(self, expr: Symbol, **kwargs: Any) -> str:
            name = self.names.get(expr)
            return name if name is not None else str(super()._print_Dummy(expr, **kwargs))

    _NAMED[printer_class] = Named
    return Named


_NAMED: dict[type[CodePrinter], type[CodePrinter]] = {}


def _namespace(printer: CodePrinter, modules: Any) -> dict[str, Any]:
    """The namespace lambdify gives code of ``modules``, with the names ``printer`` imported."""
    namespace = dict(lambdify([], [], modules=modules, printer=printer).__globals__)
    for module, keys in (getattr(printer, "module_imports", None) or {}).items():
        top = module.split(".")[0]
        namespace.setdefault(top, __import__(top))  # for fully qualified names
        for key in sorted(keys):
            if key not in namespace:
                imported = __import__(module, fromlist=[key])
                namespace[key] = getattr(imported, key)
    return namespace
