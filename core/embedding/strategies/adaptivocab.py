"""``adaptivocab``: AdaptiVocab's exponentially weighted mean of the gloss's sub-token rows.

Sub-token ``i`` of ``k`` weighs ``exp(2i)`` (normalized), so later sub-tokens weigh more
(arXiv 2503.19693; ``core.embedding.field_rows``); per gloss, then averaged across glosses.
"""

from __future__ import annotations

from core.embedding.field_rows import adaptivocab_row
from core.embedding.strategies.base import Strategy


class AdaptiVocab(Strategy):
    name = "adaptivocab"
    label = "AdaptiVocab (weighted toward the last sub-token)"
    help = ("Mean of the gloss's sub-token input rows weighted exp(2i) by position i, so later sub-tokens weigh "
            "more (AdaptiVocab); averaged across glosses.")
    row_label = "Position-weighted input; calculated output"
    order = 54
    groups = ("field",)

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        return adaptivocab_row(model, tokenizer, spec), {"weights": "exp(2i), normalized"}


STRATEGY = AdaptiVocab()
