"""``average``: the mean of the gloss's sub-token input rows (averaged across glosses)."""

from __future__ import annotations

from core.embedding.strategies.base import Strategy, mean_of_subtokens


class Average(Strategy):
    name = "average"
    label = "Average of the gloss's tokens"
    help = "Mean of the input embeddings of the gloss's sub-tokens; averaged across glosses."
    row_label = "Averaged input; calculated output"
    order = 20
    groups = ("research", "field", "baseline")

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        return mean_of_subtokens(model, tokenizer, spec), {}


STRATEGY = Average()
