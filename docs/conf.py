"""Sphinx configuration for symbackprop's documentation.

Built with ``sphinx-build -W -b html docs docs/_build/html``; every derivation, check report,
registry table and CLI option on these pages is generated from the code at build time.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

from symbackprop import __version__

project = "symbackprop"
author = "symbackprop developers"
copyright = "symbackprop developers"
release = version = __version__

extensions = [
    "symbackprop.sphinx",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "symbackprop_docs",  # docs/_ext: CLI reference and registry tables, generated from the code
]

# Every :math: and .. math:: is written as MathML Core at build time: no MathJax, no network.
html_math_renderer = "symbackprop"

html_theme = "alabaster"
html_theme_options = {
    "description": "Exact, symbolic, checked backpropagation",
    "page_width": "1100px",
}
html_static_path = ["_static"]
html_css_files = ["docs.css"]  # wide code blocks wrap (docs/_static/docs.css)
exclude_patterns = ["_build"]
templates_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
