"""``adaptivocab`` through the registry: exp(2i)-weighted sub-token rows (numpy), averaged over glosses."""

from __future__ import annotations

import numpy as np

from tests.core.embedding.strategies.rows import gloss_matrices, input_of


def _weighted(rows: np.ndarray) -> np.ndarray:
    w = np.exp(2.0 * np.arange(1, len(rows) + 1))
    return (w / w.sum()) @ rows


def test_adaptivocab_weighs_the_last_sub_token_most(tiny, tiny_spec):
    model, tokenizer = tiny
    expected = np.mean([_weighted(m) for m in gloss_matrices(model, tokenizer, tiny_spec)], axis=0)
    np.testing.assert_allclose(input_of(model, tokenizer, tiny_spec, "adaptivocab"), expected, atol=1e-6)
