"""``python -m symbackprop``."""

from .console import run

run()
