"""``random``: a random input row (the output row is still calculated)."""

from __future__ import annotations

from core.embedding.strategies.base import Strategy, random_input


class Random(Strategy):
    name = "random"
    label = "Random input"
    help = ("Random noise, matched to the embedding matrix's per-dimension mean and spread (or unit variance, "
            "as in the research); the output row is still calculated.")
    row_label = "Random input; calculated output"
    order = 40
    groups = ("research", "field", "baseline")

    def seeded(self, config) -> bool:
        return True

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        return random_input(model, config)


STRATEGY = Random()
