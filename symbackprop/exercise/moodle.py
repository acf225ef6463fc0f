"""The exercises as a Moodle XML quiz: one numerical question per answer, with its tolerance.

Built with :mod:`xml.etree.ElementTree`; Moodle's format: https://docs.moodle.org/en/Moodle_XML_format
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..spec_writer import _value
from .draw import PLACES
from .key import TOLERANCE, Exercises, Student


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    ET.SubElement(element, "text").text = text
    return element


def _numbers_html(student: Student) -> ET.Element:
    """The given numbers as an HTML list, one matrix per item, rows separated by ';'."""
    spec = student.spec
    listing = ET.Element("ul")
    matrices = [(f"W{l + 1}", w) for l, w in enumerate(spec.weights)]
    matrices += [(f"b{l + 1}", b) for l, b in enumerate(spec.biases or ())]
    matrices += [("x", spec.x), ("y", spec.y)]
    for name, matrix in matrices:
        rows = "; ".join(
            ", ".join(_value(matrix[i, j]) for j in range(matrix.cols)) for i in range(matrix.rows)
        )
        ET.SubElement(listing, "li").text = f"{name} = [{rows}]"
    return listing


def moodle_xml(exercises: Exercises) -> str:
    """The quiz: a category per seed, and per sheet one numerical question per answer."""
    quiz = ET.Element("quiz")
    category = ET.SubElement(quiz, "question", type="category")
    _text(category, "category", f"$course$/symbackprop/{exercises.title}, seed {exercises.seed}")
    for student in exercises.students:
        numbers = ET.tostring(_numbers_html(student), encoding="unicode")
        for answer in student.answers:
            question = ET.SubElement(quiz, "question", type="numerical")
            _text(question, "name", f"Sheet {student.label}: {answer.name}")
            html = (
                f"<p>The {exercises.title}, with z = W a + b in each layer (units counted from "
                f"0):</p>{numbers}<p>Compute <code>{answer.name}</code> to {PLACES} decimal "
                "places.</p>"
            )
            _text(question, "questiontext", html, format="html")
            ET.SubElement(question, "defaultgrade").text = "1"
            right = _text(question, "answer", answer.rounded, fraction="100")
            ET.SubElement(right, "tolerance").text = str(TOLERANCE)
            _text(right, "feedback", f"Exactly: {answer.exact}")
    ET.indent(quiz)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, encoding="unicode") + "\n"
    )
