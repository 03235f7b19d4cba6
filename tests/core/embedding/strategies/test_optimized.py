"""``optimized``: reports its epochs, starts from the average, is seeded only from a random start."""

from __future__ import annotations

import torch

from core.embedding.strategies import InitConfig, depends_on_seed, initial_rows


def test_optimized_strategy_reports_epochs_and_starts_from_the_average(tiny, tiny_spec):
    model, tokenizer = tiny
    seen = []
    rows = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="optimized", opt_epochs=3, opt_lr=0.01),
                        on_epoch=seen.append)
    assert [e["epoch"] for e in seen] == [1, 2, 3]
    assert rows.details["init"] == "average" and len(rows.details["history"]) == 3
    average = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="average")).input_row
    # Three small steps from the average: still close to it, but moved.
    cos = torch.nn.functional.cosine_similarity(rows.input_row, average, dim=0)
    assert rows.details["best_epoch"] > 0
    assert 0.5 < cos < 1.0 - 1e-6


def test_optimized_depends_on_the_seed_only_from_a_random_start():
    assert not depends_on_seed(InitConfig(strategy="optimized"))
    assert depends_on_seed(InitConfig(strategy="optimized", opt_init="random"))
