"""MkDocs hook: replace ``<!-- symbackprop ARGS -->`` lines with the output of ``symbackprop ARGS``.

The command runs at build time (also under ``mkdocs serve``), from the directory of
``mkdocs.yml``, with the Python that runs MkDocs. A failing command fails the build.
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

MARKER = re.compile(r"^<!-- symbackprop (.+?) -->$", re.MULTILINE)


def on_page_markdown(markdown, page, config, files):
    root = Path(config.config_file_path).parent

    def run(match):
        argv = [sys.executable, "-m", "symbackprop", *shlex.split(match.group(1))]
        result = subprocess.run(argv, cwd=root, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{page.file.src_path}: {match.group(0)}: {result.stderr.strip()}")
        return result.stdout

    return MARKER.sub(run, markdown)
