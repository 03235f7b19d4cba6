"""The shared helpers of the strategies: random vectors and the scale they report."""

from __future__ import annotations

import torch

from core.embedding.strategies.base import Strategy, generator, random_vector, require, scale_details
from core.spec.errors import InputError


def test_random_vector_is_seeded_and_matched_or_unit():
    matrix = torch.randn(500, 16) * 3 + 2
    a = random_vector(matrix, "matched", generator(4))
    assert torch.equal(a, random_vector(matrix, "matched", generator(4)))
    assert not torch.equal(a, random_vector(matrix, "matched", generator(5)))
    unit = random_vector(matrix, "unit", generator(4))
    assert torch.allclose(a, matrix.mean(0) + matrix.std(0) * unit)
    details = scale_details(matrix, a, "matched")
    assert details["scale"] == "matched" and details["vector_norm"] == float(a.norm())


def test_a_strategy_without_its_own_output_refuses_to_draw_one():
    class Plain(Strategy):
        name = "plain"

    assert Plain().table_label == "; calculated output"
    try:
        Plain().output_row(None, None)
    except NotImplementedError as exc:
        assert "least squares" in str(exc)
    else:
        raise AssertionError("output_row of a calculated strategy must refuse")


def test_require_names_the_field():
    require("description", True, "description", "fill it")
    try:
        require("description", False, "description", "fill it")
    except InputError as exc:
        assert exc.fields == ["description"] and "fill it" in str(exc)
    else:
        raise AssertionError("require must raise")
