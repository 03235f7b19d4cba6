"""The optimized input rows of many symbols at once equal each symbol's own optimization."""

from __future__ import annotations

import torch

from core.embedding.optimize import optimize_input_embedding
from core.embedding.optimize_many import consecutive_groups, optimize_input_embeddings
from core.spec.gloss import check_spec
from tests.core.experiment.vocab_fixtures import three_specs


def _specs(tokenizer):
    return [check_spec(s, tokenizer) for s in three_specs()]


def _starts(model, n):
    g = torch.Generator().manual_seed(3)
    return torch.randn(n, model.config.hidden_size, generator=g) * 0.1


def _same(many, alone):
    torch.testing.assert_close(many.vector, alone.vector, atol=1e-5, rtol=1e-4)
    assert many.best_epoch == alone.best_epoch
    for a, b in zip(many.history, alone.history):
        assert abs(a["train_loss"] - b["train_loss"]) < 1e-5 and abs(a["val_loss"] - b["val_loss"]) < 1e-5
    assert abs(many.initial_val_loss - alone.initial_val_loss) < 1e-5


def test_together_equals_each_alone_in_full_and_in_uneven_mini_batches(tiny):
    model, tokenizer = tiny
    specs = _specs(tokenizer)
    starts = _starts(model, len(specs))
    epochs_seen = []
    # batch 20: the symbols have different numbers of mini-batches per epoch (54, 63, 81 contexts).
    for batch_size in (64, 20):
        many = optimize_input_embeddings(model, tokenizer, specs, lr=0.02, epochs=3, inits=starts,
                                         batch_size=batch_size, on_epoch=epochs_seen.append)
        for k, spec in enumerate(specs):
            _same(many[k], optimize_input_embedding(model, tokenizer, spec, lr=0.02, epochs=3, init=starts[k],
                                                    batch_size=batch_size))
    assert [e["epoch"] for e in epochs_seen] == [1, 2, 3, 1, 2, 3] and epochs_seen[0]["symbols"] == len(specs)
    assert not any(p.requires_grad is False and p.grad is not None for p in model.parameters())


def test_groups_bound_the_cache_and_change_nothing(tiny):
    model, tokenizer = tiny
    specs = _specs(tokenizer)
    starts = _starts(model, len(specs))
    together = optimize_input_embeddings(model, tokenizer, specs, lr=0.02, epochs=2, inits=starts)
    grouped = optimize_input_embeddings(model, tokenizer, specs, lr=0.02, epochs=2, inits=starts, max_contexts=1)
    for a, b in zip(together, grouped):
        torch.testing.assert_close(a.vector, b.vector, atol=1e-5, rtol=1e-4)
    assert grouped[0].settings["symbols_together"] == 1 and together[0].settings["symbols_together"] == len(specs)
    assert consecutive_groups([5, 5, 5, 20], 10) == [[0, 1], [2], [3]]
