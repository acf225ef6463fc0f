"""Writing an exercise set to a folder: sheets, answer files, the key, and PDFs or a quiz."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import SymbackpropError
from ..files import write_atomic
from .key import Exercises, key_json
from .moodle import moodle_xml
from .sheets import answers_template, key_latex, key_markdown, sheet_latex, sheet_markdown

#: What ``--format`` writes: the sheets and key as files, or a Moodle quiz (and the key).
FORMATS = ("sheets", "moodle")


def texts(exercises: Exercises, fmt: str = "sheets") -> dict[str, str]:
    """File name -> text of everything ``fmt`` writes (the key as JSON always)."""
    files = {"key.json": key_json(exercises)}
    if fmt == "moodle":
        return files | {"quiz.xml": moodle_xml(exercises)}
    for student in exercises.students:
        files[f"sheet-{student.label}.md"] = sheet_markdown(exercises, student)
        files[f"sheet-{student.label}.tex"] = sheet_latex(exercises, student)
        files[f"answers-{student.label}.toml"] = answers_template(student)
    return files | {"key.md": key_markdown(exercises), "key.tex": key_latex(exercises)}


def write(exercises: Exercises, folder: str, fmt: str = "sheets", pdf: bool = True) -> list[Path]:
    """Write :func:`texts` into ``folder`` (created), and PDFs of the .tex files if asked and
    pdflatex is installed. Returns the paths written, sorted."""
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SymbackpropError(f"-o {folder}: cannot create the folder: {exc.strerror}") from None
    written = []
    for name, text in texts(exercises, fmt).items():
        write_atomic(target / name, text)
        written.append(target / name)
    if pdf and shutil.which("pdflatex"):
        written += [_pdf(path) for path in list(written) if path.suffix == ".tex"]
    return sorted(written)


def _pdf(tex: Path) -> Path:
    """Compile ``tex`` with pdflatex (reproducibly dated) into a PDF beside it."""
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    with tempfile.TemporaryDirectory() as build:
        command = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error"]
        command += ["-output-directory", build, str(tex.resolve())]
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            log = Path(build) / f"{tex.stem}.log"
            if log.exists():
                shutil.copyfile(log, tex.with_suffix(".log"))
            raise SymbackpropError(f"pdflatex failed on {tex}: see {tex.with_suffix('.log')}")
        target = tex.with_suffix(".pdf")
        shutil.copyfile(Path(build) / f"{tex.stem}.pdf", target)
    return target
