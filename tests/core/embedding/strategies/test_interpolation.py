"""``interpolation`` through the registry: half the vocabulary's mean row, half the sub-token mean (numpy)."""

from __future__ import annotations

import numpy as np

from tests.core.embedding.strategies.rows import gloss_matrices, input_of


def test_interpolation_is_halfway_to_the_vocabulary_mean(tiny, tiny_spec):
    model, tokenizer = tiny
    weight = model.get_input_embeddings().weight.detach().double().numpy()[: len(tokenizer)]
    everything = weight.mean(axis=0)
    expected = np.mean([0.5 * everything + 0.5 * m.mean(axis=0)
                        for m in gloss_matrices(model, tokenizer, tiny_spec)], axis=0)
    np.testing.assert_allclose(input_of(model, tokenizer, tiny_spec, "interpolation"), expected, atol=1e-6)
