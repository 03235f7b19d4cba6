"""``mean_resizing`` draws exactly what transformers' resize with ``mean_resizing=True`` draws."""

from __future__ import annotations

import numpy as np
import torch

from core.embedding.strategies import InitConfig, initial_rows
from core.embedding.strategies.mean_resizing import mean_resizing_parameters


def test_mean_resizing_draws_what_transformers_draws(tiny, tiny_spec):
    model, tokenizer = tiny
    old = model.get_input_embeddings()
    n, d = old.weight.shape
    new = torch.nn.Embedding(n + 1, d)
    torch.manual_seed(11)
    model._init_added_embeddings_weights_with_mean(old, new, n, 1)
    ours = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="mean_resizing", seed=11)).input_row
    torch.testing.assert_close(ours, new.weight.detach()[-1], atol=1e-7, rtol=0)


def test_mean_resizing_parameters_against_numpy(tiny):
    model, _ = tiny
    weight = model.get_input_embeddings().weight.detach()
    mean, factor = mean_resizing_parameters(weight)
    w = weight.double().numpy()
    centered = w - w.mean(axis=0)
    np.testing.assert_allclose(mean.numpy(), w.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose((factor @ factor.T).double().numpy(), 1e-9 * centered.T @ centered / len(w),
                               rtol=1e-3, atol=1e-15)
