"""``attention``: the sub-token rows weighted by the softmax of their dot product with the mean."""

from __future__ import annotations

import torch

from core.embedding.strategies.base import Strategy, gloss_rows, per_gloss


def attention_mean(rows: torch.Tensor) -> torch.Tensor:
    """Sub-tokens weighted by ``softmax(rows @ mean)``: those most like the whole gloss count most.

    The dot products are not divided by sqrt(D): the method states the plain dot product, and for
    the default model they are a few units apart (" wool" 5.3, " shop" 4.2), which gives telling
    weights (0.75 / 0.25); divided by sqrt(576) = 24 they would be almost uniform, i.e. the average.
    """
    weights = torch.softmax(rows @ rows.mean(0), dim=0)
    return weights @ rows


class Attention(Strategy):
    name = "attention"
    label = "Attention-weighted mean"
    help = "Sub-tokens weighted by the softmax of their dot product with the mean."
    order = 80

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        weights = [torch.softmax(rows @ rows.mean(0), dim=0).tolist() for rows in gloss_rows(model, tokenizer, spec)]
        vector = per_gloss(model, tokenizer, spec, attention_mean)
        return vector, {"weights": [[round(w, 4) for w in ws] for ws in weights], "scaled": False}


STRATEGY = Attention()
