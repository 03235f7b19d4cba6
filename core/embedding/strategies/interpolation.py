"""``interpolation``: halfway between the vocabulary's mean input row and the gloss's sub-token mean.

``0.5 × (mean of every real token's input row) + 0.5 × (mean of the gloss's sub-token rows)``, as
Unsloth's ``add_new_tokens(method="interpolation")`` does (``core.embedding.field_rows``).
"""

from __future__ import annotations

from core.embedding.field_rows import INTERPOLATION_WEIGHT, interpolation_row
from core.embedding.strategies.base import Strategy


class Interpolation(Strategy):
    name = "interpolation"
    label = "Interpolation with the vocabulary's mean"
    help = ("0.5 × the mean input row of the whole vocabulary + 0.5 × the mean of the gloss's sub-token rows "
            "(Unsloth's interpolation).")
    row_label = "Interpolated input; calculated output"
    order = 58
    groups = ("field",)

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        return interpolation_row(model, tokenizer, spec), {"vocabulary_weight": INTERPOLATION_WEIGHT}


STRATEGY = Interpolation()
