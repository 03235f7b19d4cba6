"""``description``: the mean input row of the tokens of the symbol's description.

The description is the spec's optional ``description`` field (the Bliss lexicon's explanation,
filled by the look-up and by drafting): LLaMA-Factory's ``desc_init``, and with
``description_noise`` its ``desc_init_w_noise`` (``core.embedding.field_rows``). A spec without a
description is refused, naming the field, when this strategy is chosen.
"""

from __future__ import annotations

from core.embedding.field_rows import description_ids, description_row
from core.embedding.strategies.base import Strategy
from core.spec.errors import fail
from core.spec.settings import setting


class Description(Strategy):
    name = "description"
    label = "Mean of the description's tokens"
    help = ("Mean of the input rows of the tokens of the spec's description (what the symbol means, e.g. the "
            "Bliss lexicon's explanation); optionally plus small seeded noise.")
    row_label = "Description input; calculated output"
    order = 56
    groups = ("field",)
    settings = {
        "description_noise": setting(False, label="Noise on the description's mean",
                                     help="Description strategy: add Gaussian noise of standard deviation 1/√D, "
                                          "drawn with the seed (LLaMA-Factory's desc_init_w_noise)."),
    }
    settings_title = "Description settings"

    def seeded(self, config) -> bool:
        return bool(config.description_noise)

    def check(self, spec, config, tokenizer=None) -> None:
        if not (spec.description or "").strip():
            raise fail("description", "is empty, and the description strategy starts from it",
                       "write what the symbol means in the spec's description (a Bliss look-up fills it), or "
                       "choose another strategy")

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        self.check(spec, config)
        row = description_row(model, tokenizer, spec.description, noise=config.description_noise, seed=config.seed)
        return row, {"description_tokens": len(description_ids(tokenizer, spec.description)),
                     "noise": bool(config.description_noise)}


STRATEGY = Description()
