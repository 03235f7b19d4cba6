"""``last_token`` against the matrix's rows."""

from __future__ import annotations

import numpy as np
import torch

from core.embedding.strategies import InitConfig, initial_rows
from tests.core.embedding.strategies.rows import gloss_matrices, input_of


def test_last_token_averages_the_glosses_last_rows(tiny, tiny_spec):
    model, tokenizer = tiny
    mats = gloss_matrices(model, tokenizer, tiny_spec)
    np.testing.assert_allclose(input_of(model, tokenizer, tiny_spec, "last_token"),
                               np.mean([m[-1] for m in mats], axis=0), atol=1e-6)


def test_single_gloss_last_token_is_exactly_its_row(tiny, tiny_spec):
    model, tokenizer = tiny
    tiny_spec.glosses = ["wool shop"]
    ids = tokenizer.encode(" wool shop", add_special_tokens=False)
    row = model.get_input_embeddings().weight[ids[-1]].detach()
    got = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="last_token")).input_row
    assert torch.equal(got, row)
