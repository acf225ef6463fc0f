# Build the book: run from this directory, with symbackprop installed ('symbackprop[docs]').
pip install -r requirements.txt        # jupyter-book<2: see requirements.txt for why
symbackprop derive seed --format markdown -o derivation.md
jupyter-book build . -W
