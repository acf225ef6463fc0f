"""Output formats: one module per format, each adding itself to :data:`FORMATS`.

Adding a format is one module in this package with a ``@register("name")`` function (from
:mod:`symbackprop.formats`) and one import line below.
"""

from ..formats import FORMATS, register, render
from . import html, json, latex, markdown, mathml_format, stack, text  # fill the registry

__all__ = [
    "FORMATS",
    "html",
    "json",
    "latex",
    "markdown",
    "mathml_format",
    "register",
    "render",
    "stack",
    "text",
]
