"""Exact gradients written in named shared values (symbackprop.shared): the names, their
definitions, and that substituting the definitions back gives the exact values again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mpmath
import pytest
import sympy
from sympy import Expr, Symbol

from symbackprop import derive, sympify_locals
from symbackprop.derivation import Derivation, Options
from symbackprop.formats import Omitted
from symbackprop.render.text import show
from symbackprop.shared import NAME_LENGTH
from symbackprop.spec import parse_spec
from symbackprop.sympy_code import sympy_code

#: A 3-4-4-3 relu/relu/softmax network whose softmax outputs are long exact values.
SOFTMAX3 = """
[network]
layers = [3, 4, 4, 3]
activations = ["relu", "relu", "softmax"]
loss = "cross_entropy"
[parameters]
W1 = [[0.11, -0.23, 0.35], [0.47, 0.52, -0.61], [0.73, 0.84, 0.95], [-0.19, 0.28, 0.37]]
b1 = [0.12, -0.05, 0.31, 0.07]
W2 = [[0.41, -0.32, 0.23, 0.14], [-0.55, 0.66, 0.77, -0.88], [0.91, 0.12, -0.33, 0.44],
      [0.25, 0.36, 0.47, 0.58]]
b2 = [0.03, 0.09, -0.21, 0.15]
W3 = [[0.62, -0.71, 0.18, 0.29], [-0.43, 0.54, 0.65, -0.76], [0.87, 0.98, -0.19, 0.21]]
b3 = [0.01, -0.02, 0.03]
[data]
x = [0.5, -1.2, 0.8]
y = [0, 1, 0]
"""


@pytest.fixture(scope="module")
def softmax3() -> Derivation:
    return derive(parse_spec(SOFTMAX3, "softmax3.toml"))


def resolved(d: Derivation) -> dict[Symbol, Expr]:
    """Every shared name mapped to its definition with the earlier names substituted back."""
    values: dict[Symbol, Expr] = {}
    for shared in d.shared.definitions:
        values[shared.symbol] = shared.definition.xreplace(values)
    return values


def entries(d: Derivation) -> list[Expr]:
    return [value for matrix in d.values.gradients.values() for value in matrix]


def test_the_seed_shares_nothing_long_enough_to_name() -> None:
    seed = derive("seed")
    assert seed.shared.definitions == ()
    assert all(seed.shared_form(v) == v for v in entries(seed))
    assert "Shared values" not in seed.to_text()
    assert "shared" not in json.loads(seed.to_json())


def test_softmax_denominator_and_outputs_are_named_in_forward_order(softmax3: Derivation) -> None:
    names = [shared.symbol.name for shared in softmax3.shared.definitions]
    assert names[0] == "S^(3)" and names[1:] == ["yhat_1", "yhat_2", "yhat_3"]
    z = softmax3.network.output.pre_activation
    total = sum(sympy.exp(softmax3.values.symbols[z[k, 0]]) for k in range(3))
    assert softmax3.shared.definitions[0].definition == total
    for k, shared in enumerate(softmax3.shared.definitions[1:]):
        assert shared.definition == sympy.exp(softmax3.values.symbols[z[k, 0]]) / Symbol("S^(3)")


def test_every_name_is_long_and_used_at_least_twice(softmax3: Derivation) -> None:
    forms = [softmax3.shared.form(v) for v in entries(softmax3)]
    forms += [shared.definition for shared in softmax3.shared.definitions]
    for shared in softmax3.shared.definitions:
        assert len(sympy_code(shared.value)) > NAME_LENGTH
        assert sum(shared.symbol in form.free_symbols for form in forms) >= 2


def test_forms_are_smaller_and_give_back_the_exact_values(softmax3: Derivation) -> None:
    values = resolved(softmax3)
    names = set(values)
    before = after = 0
    for value in entries(softmax3):
        form = softmax3.shared.form(value)
        assert form.free_symbols <= names
        assert softmax3.shared.substituted(form) == value  # structurally the same value
        back = form.xreplace(values)  # the definitions substituted back
        assert sympy.simplify(back - value) == 0
        before, after = before + len(sympy_code(value)), after + len(sympy_code(form))
    assert after < 0.6 * before


def test_definitions_equal_the_forward_values(softmax3: Derivation) -> None:
    values = resolved(softmax3)
    for shared in softmax3.shared.definitions:
        assert sympy.simplify(values[shared.symbol] - shared.value) == 0


def _mp(expr: Expr, memo: dict[Expr, Any]) -> Any:
    """``expr`` (numbers, +, *, powers, exp, log, tanh) in mpmath at the working precision,
    each distinct subexpression once: an evaluator of its own, independent of symbackprop's."""
    if expr in memo:
        return memo[expr]
    if expr.is_Rational:
        result = mpmath.mpf(int(expr.p)) / int(expr.q)
    elif expr is sympy.E:
        result = mpmath.e
    else:
        args = [_mp(arg, memo) for arg in expr.args]
        if expr.is_Add:
            result = mpmath.fsum(args)
        elif expr.is_Mul:
            result = mpmath.fprod(args)
        elif expr.is_Pow:
            result = args[0] ** args[1]
        else:
            result = {sympy.exp: mpmath.exp, sympy.tanh: mpmath.tanh, sympy.log: mpmath.log}[
                expr.func
            ](*args)
    memo[expr] = result
    return result


def test_forms_agree_with_the_values_to_50_digits() -> None:
    """At 50 digits with mpmath, also on a deep batched tanh/sigmoid/softmax network: each name
    evaluated from its definition, each form from the names."""
    for d in (derive(parse_spec(SOFTMAX3, "softmax3.toml")), derive(DEEP)):
        assert d.shared.definitions
        with mpmath.workdps(60):
            names: dict[Expr, Any] = {}
            for shared in d.shared.definitions:
                names[shared.symbol] = _mp(shared.definition, dict(names))
            truth: dict[Expr, Any] = {}
            for value in entries(d):
                ours, exact = _mp(d.shared.form(value), dict(names)), _mp(value, truth)
                assert abs(ours - exact) <= mpmath.mpf("1e-50") * max(1, abs(exact))


DEEP = Path(__file__).parent / "specs" / "deep-tanh-batch.toml"


def test_a_batch_names_one_sum_per_sample() -> None:
    d = derive(DEEP)
    names = [shared.symbol.name for shared in d.shared.definitions]
    assert {"S^(4)_1", "S^(4)_2", "S^(4)_3"} <= set(names)
    assert names.index("z^(4)_1,1") < names.index("S^(4)_1")
    # hidden sums are defined in the earlier names, not inlined
    a3 = next(s for s in d.shared.definitions if s.symbol.name == "a^(3)_1,1")
    assert Symbol("a^(2)_1,1") in a3.definition.free_symbols


def test_text_lists_the_shared_values_before_the_gradients(softmax3: Derivation) -> None:
    text = softmax3.to_text(expanded=False)
    block = text.index("Shared values at the documented point")
    assert block < text.index("\nGradients\n")
    s3 = softmax3.shared.definitions[0]
    line = f"  S^(3) = {sympy_code(s3.definition)}  ≈ {softmax3.decimal(s3.value)}\n"
    assert line in text
    dw = softmax3.values.gradients["W3"][1, 0]
    assert f"  exact:    {show(softmax3.shared.form(dw))}\n" in text
    assert Symbol("yhat_2") in softmax3.shared.form(dw).free_symbols


def test_json_exact_forms_read_back_through_the_shared_list(softmax3: Derivation) -> None:
    document = json.loads(softmax3.to_json(expanded=False))
    names = sympify_locals()
    values: dict[Any, Any] = {}
    for item in document["shared"]:
        assert set(item) == {"name", "exact", "latex", "decimal"}
        definition = sympy.sympify(item["exact"], locals=names).xreplace(values)
        values[Symbol(item["name"])] = definition
    shared = {s.symbol.name: s for s in softmax3.shared.definitions}
    for item in document["shared"]:
        assert item["decimal"] == softmax3.decimal(shared[item["name"]].value)
    for key, matrix in softmax3.values.gradients.items():
        for i, row in enumerate(document["gradients"][key]["exact"]):
            for j, text in enumerate(row):
                read = sympy.sympify(text, locals=names)
                assert read == softmax3.shared.form(matrix[i, j])
                assert sympy.simplify(read.xreplace(values) - matrix[i, j]) == 0


def test_latex_defines_the_shared_values_once(softmax3: Derivation) -> None:
    from symbackprop.render.latex_printer import latex

    tex = softmax3.to_latex(expanded=False)
    for shared in softmax3.shared.definitions:
        assert tex.count(f"{latex(shared.symbol)} &= {latex(shared.definition)}") == 1
    assert tex.index("each named once") < tex.index(
        r"\subsection*{Layer 1}", tex.index("Gradients")
    )
    assert r"\frac{\exp\left(" in tex  # e^{-u}/S keeps e^{-u} in the numerator
    dw = softmax3.values.gradients["W3"][1, 0]
    assert latex(softmax3.shared.form(dw)) in tex


def test_the_exact_limit_applies_to_the_named_forms() -> None:
    d = derive(parse_spec(SOFTMAX3, "softmax3.toml"), Options(exact_limit=4))
    value = d.values.gradients["W3"][1, 0]
    assert isinstance(d.exact_form(value), Omitted)
    form = d.shared_form(value)
    assert isinstance(form, Omitted) and form.option == "--exact-limit"
    wide = derive(parse_spec(SOFTMAX3, "softmax3.toml"), Options(exact_limit=8))
    assert isinstance(wide.exact_form(value), Omitted)  # inlined, it is too large
    assert wide.shared_form(value) == wide.shared.form(value)  # in names, it is not


def test_output_is_the_same_under_any_hash_seed(tmp_path: Path) -> None:
    spec = tmp_path / "softmax3.toml"
    spec.write_text(SOFTMAX3, encoding="utf-8")
    outputs = []
    for seed in ("0", "1234"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        command = [sys.executable, "-m", "symbackprop", "derive", str(spec), "--no-expanded"]
        outputs.append(
            subprocess.run(
                [*command, "--format", "json"], env=env, capture_output=True, check=True
            ).stdout
        )
    assert outputs[0] == outputs[1]
    assert b'"shared"' in outputs[0]
