"""``first_token``: the input row of the gloss's first sub-token (" wool")."""

from __future__ import annotations

from core.embedding.strategies.base import Strategy, per_gloss


class FirstToken(Strategy):
    name = "first_token"
    label = "First token of the gloss"
    help = "Input embedding of the gloss's first sub-token (' wool'); averaged across glosses."
    order = 60

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        return per_gloss(model, tokenizer, spec, lambda rows: rows[0]), {}


STRATEGY = FirstToken()
