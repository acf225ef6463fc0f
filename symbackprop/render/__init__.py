"""Output formats: one module per format, listed in :data:`symbackprop.formats.MODULES`.

Each module registers its renderers with ``@register("name")`` (from
:mod:`symbackprop.formats`) when it is imported; :func:`symbackprop.formats.load` imports them.
"""
