# Build the site: run from this directory, with symbackprop installed.
pip install -r requirements.txt
mkdocs build --strict
