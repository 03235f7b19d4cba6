"""``average`` against the mean of the sub-token rows read from the matrix (numpy)."""

from __future__ import annotations

import numpy as np

from tests.core.embedding.strategies.rows import gloss_matrices, input_of


def test_glosses_have_several_sub_tokens(tiny, tiny_spec):
    model, tokenizer = tiny
    assert all(len(m) >= 2 for m in gloss_matrices(model, tokenizer, tiny_spec))


def test_average(tiny, tiny_spec):
    model, tokenizer = tiny
    expected = np.mean([m.mean(axis=0) for m in gloss_matrices(model, tokenizer, tiny_spec)], axis=0)
    np.testing.assert_allclose(input_of(model, tokenizer, tiny_spec, "average"), expected, atol=1e-6)
