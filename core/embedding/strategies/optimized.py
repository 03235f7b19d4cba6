"""``optimized``: contextual optimization of the input vector (method, Step 1b.1).

One vector is learned so that, appended after each positive context, the model's contextual
embedding matches the gloss's (``core.embedding.optimize``); for many symbols the optimizations
share their passes (``core.embedding.optimize_many``). It starts from the average of the gloss's
sub-tokens (deterministic: no random draw, so one run serves every seed) or from a random vector.
"""

from __future__ import annotations

from typing import Literal

import torch

from core.embedding.optimize import OptimizationResult, optimize_input_embedding
from core.embedding.optimize_many import optimize_input_embeddings
from core.embedding.strategies.base import Strategy, mean_of_subtokens, random_input
from core.spec import limits
from core.spec.settings import choices_of, setting

OptInit = Literal["average", "random"]


class Optimized(Strategy):
    name = "optimized"
    label = "Optimized (contextual)"
    help = ("Learns one vector so that, appended after each positive context, the model's contextual embedding "
            "matches the gloss's (1 − cosine loss, AdamW, best epoch by validation loss).")
    row_label = "Optimized input; calculated output"
    order = 10
    groups = ("research", "field")
    settings = {
        "opt_lr": setting(0.01, label="Optimization learning rate", range=limits.LEARNING_RATE, positive=True,
                          help="Optimized strategy: AdamW learning rate of the input vector."),
        "opt_epochs": setting(30, label="Optimization epochs", range=limits.OPTIMIZER_EPOCHS,
                              help="Optimized strategy: passes over the positive contexts."),
        "opt_init": setting("average", label="Optimization start", choices=choices_of(OptInit),
                            help="Optimized strategy: start from the average of the gloss's tokens or from a "
                                 "random vector."),
        "opt_batch_size": setting(64, label="Optimization batch size", range=limits.BATCH_SIZE,
                                  help="Optimized strategy: contexts per step."),
    }
    settings_title = "Optimization settings"

    def seeded(self, config) -> bool:
        # From the average there is no random draw (fixed batches, no dropout, the model frozen).
        return config.opt_init != "average"

    def _start(self, model, tokenizer, spec, config) -> torch.Tensor:
        if config.opt_init == "average":
            return mean_of_subtokens(model, tokenizer, spec)
        return random_input(model, config)[0]

    def _details(self, config, result: OptimizationResult, start: torch.Tensor) -> dict:
        details = {"init": config.opt_init, **result.to_dict()}
        details["optimization_seconds"] = details.pop("seconds")
        if config.opt_init != "average":
            details["random_scale"] = config.random_scale
        details["cosine_to_start"] = float(torch.nn.functional.cosine_similarity(result.vector, start, dim=0))
        return details

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        start = self._start(model, tokenizer, spec, config)
        result = optimize_input_embedding(model, tokenizer, spec, lr=config.opt_lr, epochs=config.opt_epochs,
                                          init=start, batch_size=config.opt_batch_size, on_epoch=on_epoch,
                                          precision=config.precision)
        return result.vector, self._details(config, result, start)

    def input_rows(self, model, tokenizer, specs, configs, on_epoch=None):
        config = configs[0]  # the settings are the vocabulary's; only the seed differs per symbol
        starts = torch.stack([self._start(model, tokenizer, s, c) for s, c in zip(specs, configs)])
        results = optimize_input_embeddings(model, tokenizer, specs, lr=config.opt_lr, epochs=config.opt_epochs,
                                            inits=starts, batch_size=config.opt_batch_size, on_epoch=on_epoch,
                                            precision=config.precision)
        return [(r.vector, self._details(c, r, start)) for r, c, start in zip(results, configs, starts)]


STRATEGY = Optimized()
