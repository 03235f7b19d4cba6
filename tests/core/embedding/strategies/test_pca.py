"""``pca`` against numpy's SVD of the sub-token rows."""

from __future__ import annotations

import numpy as np

from tests.core.embedding.strategies.rows import gloss_matrices, input_of


def test_pca(tiny, tiny_spec):
    model, tokenizer = tiny
    expected = []
    for m in gloss_matrices(model, tokenizer, tiny_spec):
        _, _, vt = np.linalg.svd(m, full_matrices=False)
        direction = vt[0] if vt[0] @ m.mean(axis=0) > 0 else -vt[0]
        expected.append(direction * np.linalg.norm(m.mean(axis=0)))
    np.testing.assert_allclose(input_of(model, tokenizer, tiny_spec, "pca"), np.mean(expected, axis=0), atol=1e-5)
