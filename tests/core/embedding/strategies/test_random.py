"""``random``: seeded, matched to the matrix's statistics (or unit), the output still calculated."""

from __future__ import annotations

import numpy as np
import torch

from core.embedding.strategies import InitConfig, initial_rows
from tests.core.embedding.strategies.rows import input_of


def test_random_matched_is_seeded_and_matches_the_matrix_statistics(tiny, tiny_spec):
    model, tokenizer = tiny
    weight = model.get_input_embeddings().weight.detach().double().numpy()
    mean, std = weight.mean(axis=0), weight.std(axis=0, ddof=1)
    first = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", seed=5))
    again = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", seed=5))
    other = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", seed=6))
    assert torch.equal(first.input_row, again.input_row)
    assert not torch.equal(first.input_row, other.input_row)
    assert first.details["input_random"]["scale"] == "matched"
    # Standardized by the matrix's own statistics, the draws look like N(0, 1).
    z = np.concatenate([(input_of(model, tokenizer, tiny_spec, "random", seed=s) - mean) / std for s in range(8)])
    assert abs(z.mean()) < 0.15 and 0.85 < z.std() < 1.15
    # The global random state plays no part.
    torch.manual_seed(123)
    assert torch.equal(initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", seed=5)).input_row,
                       first.input_row)


def test_random_unit_is_standard_normal(tiny, tiny_spec):
    model, tokenizer = tiny
    z = np.concatenate([input_of(model, tokenizer, tiny_spec, "random", seed=s, random_scale="unit")
                        for s in range(8)])
    assert abs(z.mean()) < 0.15 and 0.85 < z.std() < 1.15
    rows = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", random_scale="unit"))
    assert rows.details["input_random"]["scale"] == "unit"
