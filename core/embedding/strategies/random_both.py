"""``random_both``: both rows random, nothing calculated (the research's baseline and worst case)."""

from __future__ import annotations

from core.embedding.strategies.base import (Strategy, generator, random_input, random_vector, scale_details)


class RandomBoth(Strategy):
    name = "random_both"
    label = "Random input and output"
    help = "Both rows random; nothing calculated. The research's baseline."
    row_label = "Random input & output"
    order = 50
    groups = ("research", "field")
    calculated_output = False

    def seeded(self, config) -> bool:
        return True

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        return random_input(model, config)

    def output_row(self, model, config):
        matrix = model.get_output_embeddings().weight.detach().float().cpu()
        # A generator of its own (seed + 1), so the output draw does not repeat the input's noise.
        row = random_vector(matrix, config.random_scale, generator(config.seed + 1))
        return row, {"output_random": scale_details(matrix, row, config.random_scale)}


STRATEGY = RandomBoth()
