"""``first_token`` against the matrix's rows."""

from __future__ import annotations

import numpy as np

from tests.core.embedding.strategies.rows import gloss_matrices, input_of


def test_first_token_averages_the_glosses_first_rows(tiny, tiny_spec):
    model, tokenizer = tiny
    mats = gloss_matrices(model, tokenizer, tiny_spec)
    np.testing.assert_allclose(input_of(model, tokenizer, tiny_spec, "first_token"),
                               np.mean([m[0] for m in mats], axis=0), atol=1e-6)
