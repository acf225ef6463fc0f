"""Tests for the LaTeX that symbackprop.render.json adds beside every exact value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from symbackprop import derive
from symbackprop.render.latex_printer import latex
from symbackprop.render.mathml import latex_to_mathml

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(derive("seed").to_json())


def valued(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every object in the document holding ``exact`` and ``value``."""
    found = []
    if isinstance(node, dict):
        if "exact" in node and "value" in node:
            found.append((path, node))
        for key, child in node.items():
            found += valued(child, f"{path}/{key}")
    return found


def shape(nested: list[list[Any]]) -> tuple[int, int]:
    return len(nested), len(nested[0])


def test_latex_beside_every_exact_value(document: dict[str, Any]) -> None:
    entries = valued(document)
    assert {path for path, _ in entries} >= {"/forward/yhat", "/forward/loss", "/gradients/W2"}
    for path, entry in entries:
        assert shape(entry["latex"]) == shape(entry["exact"]), path
        for row in entry["latex"]:
            for tex in row:
                latex_to_mathml(tex, label=path)  # valid LaTeX


def test_latex_values(document: dict[str, Any]) -> None:
    seed = derive("seed")
    gradients = document["gradients"]
    assert gradients["W2"]["latex"][0][1] == r"\frac{3}{5 \left(1 + e^{27 / 50}\right)}"
    assert gradients["W2"]["latex"][0][1] == latex(seed.values.gradients["W2"][0, 1])
    assert (
        gradients["W2"]["compact_latex"][0][1] == r"a^{(1)}_{2} \left(\hat{y}_{1} - y_{1}\right)"
    )
    assert document["forward"]["yhat"]["latex"] == [
        [r"\frac{1}{1 + e^{27 / 50}}"],
        [r"\frac{1}{1 + e^{- 27 / 50}}"],  # the same form as yhat_1
    ]


def test_expanded_latex_matches_expanded(document: dict[str, Any]) -> None:
    for key, entry in document["gradients"].items():
        assert shape(entry["expanded_latex"]) == shape(entry["expanded"]), key
        assert shape(entry["compact_latex"]) == shape(entry["compact"]), key
    assert r"\operatorname{ReLU}" in document["gradients"]["W2"]["expanded_latex"][0][0]


def test_existing_keys_are_kept(document: dict[str, Any]) -> None:
    entry = document["gradients"]["W2"]
    assert entry["exact"][0][1] == "3/(5*(1 + exp(27/50)))"
    assert entry["value"][0][1] == "0.220912549358"


def test_golden_json() -> None:
    assert derive("seed").to_json() == (GOLDEN / "seed.json").read_text("utf-8"), (
        "the JSON output changed: review it, then run python tests/regenerate_golden.py"
    )
