"""``attention`` against a softmax-weighted mean computed in numpy."""

from __future__ import annotations

import numpy as np

from tests.core.embedding.strategies.rows import gloss_matrices, input_of


def test_attention(tiny, tiny_spec):
    model, tokenizer = tiny
    expected = []
    for m in gloss_matrices(model, tokenizer, tiny_spec):
        scores = m @ m.mean(axis=0)
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
        expected.append(weights @ m)
    np.testing.assert_allclose(input_of(model, tokenizer, tiny_spec, "attention"), np.mean(expected, axis=0),
                               atol=1e-5)
