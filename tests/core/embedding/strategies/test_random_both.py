"""``random_both``: the same input draw as ``random``, and a random output row of its own."""

from __future__ import annotations

import torch

from core.embedding.strategies import STRATEGIES, InitConfig, initial_rows


def test_random_keeps_the_calculated_output_and_random_both_does_not(tiny, tiny_spec):
    model, tokenizer = tiny
    calculated = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", seed=2))
    both = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random_both", seed=2))
    again = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random_both", seed=2))
    assert calculated.output_fit is not None
    assert torch.equal(calculated.output_row, calculated.output_fit.vector)
    assert both.output_fit is None and not STRATEGIES["random_both"].calculated_output
    assert torch.equal(both.input_row, calculated.input_row)  # same seed, same input draw
    assert not torch.allclose(both.output_row, calculated.output_row)
    assert torch.equal(both.output_row, again.output_row)
    assert not torch.equal(both.output_row, both.input_row)
    out = model.get_output_embeddings().weight.detach().double().numpy()
    z = (both.output_row.double().numpy() - out.mean(axis=0)) / out.std(axis=0, ddof=1)
    assert abs(z.mean()) < 0.4 and 0.6 < z.std() < 1.4
    assert both.details["output_random"]["scale"] == "matched"
