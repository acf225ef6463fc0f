"""``python -m symbackprop``."""

from .cli import run

run()
