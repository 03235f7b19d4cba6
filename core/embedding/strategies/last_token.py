"""``last_token``: the input row of the gloss's last sub-token (" shop")."""

from __future__ import annotations

from core.embedding.strategies.base import Strategy, per_gloss


class LastToken(Strategy):
    name = "last_token"
    label = "Last token of the gloss"
    help = "Input embedding of the gloss's last sub-token (' shop'); averaged across glosses."
    row_label = "Last token input; calculated output"
    order = 30
    groups = ("research", "field", "baseline")

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        # With several glosses: the average of their last sub-tokens (" shop" for both "wool shop"
        # and "yarn shop", so here simply " shop").
        return per_gloss(model, tokenizer, spec, lambda rows: rows[-1]), {}


STRATEGY = LastToken()
