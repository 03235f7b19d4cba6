"""What the strategy tests share: a gloss's sub-token rows read straight from the matrix, and one
strategy's input row as numpy."""

from __future__ import annotations

import numpy as np

from core.embedding.strategies import InitConfig, initial_rows


def gloss_matrices(model, tokenizer, spec) -> list[np.ndarray]:
    """Per gloss, its sub-tokens' input embeddings, read straight from the matrix."""
    weight = model.get_input_embeddings().weight.detach().double().numpy()
    return [weight[tokenizer.encode(" " + gloss, add_special_tokens=False)] for gloss in spec.glosses]


def input_of(model, tokenizer, spec, strategy, **kwargs) -> np.ndarray:
    rows = initial_rows(model, tokenizer, spec, InitConfig(strategy=strategy, **kwargs))
    return rows.input_row.double().numpy()
