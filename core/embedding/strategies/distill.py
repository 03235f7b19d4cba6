"""``distill``: Token Distillation of the input row (Dobler, Elliott, de Melo; arXiv 2505.20133).

The row is trained so that the model reads the token as it reads the gloss's sub-tokens: the mean
squared error between hidden states at one layer, at the gloss's last position and after it, on
snippets holding the gloss (the spec's fine-tuning sentences with the gloss written back in, plus
snippets the model samples after the gloss, seeded). Everything else is frozen
(``core.embedding.distill``); many symbols share their passes (``distill_many``). Published
defaults: the sub-token mean as start, AdamW at 1e-4, 1 epoch, 100 snippets of 50 tokens, batch 1,
the last layer.
"""

from __future__ import annotations

import torch

from core.embedding.distill import distill, distill_many
from core.embedding.snippets import build_snippets, check_length
from core.embedding.strategies.base import Strategy, mean_of_subtokens
from core.spec import limits
from core.spec.errors import fail
from core.spec.settings import setting

# Progress events per run of the distillation (one per epoch is too few: 1 epoch is the default).
EVENTS = 20


class Distill(Strategy):
    name = "distill"
    label = "Token Distillation"
    help = ("Trains the input row so that the model's hidden states with the token match those with the gloss "
            "(mean squared error at the gloss's last position and after it, on the spec's sentences and snippets "
            "the model writes after the gloss; everything else frozen).")
    row_label = "Distilled input; calculated output"
    order = 52
    groups = ("field",)
    settings = {
        "distill_snippets": setting(100, label="Distillation snippets", range=limits.DISTILL_SNIPPETS,
                                    help="Token Distillation: snippets the model samples after the gloss (seeded), "
                                         "besides the spec's fine-tuning sentences."),
        "distill_length": setting(50, label="Distillation snippet length", range=limits.DISTILL_LENGTH,
                                  help="Token Distillation: tokens of a sampled snippet, the gloss included."),
        "distill_layer": setting(-1, label="Distillation layer", range=limits.DISTILL_LAYER,
                                 help="Token Distillation: the layer whose hidden states are compared (-1 = the "
                                      "last; negative counts from the end; about a third of the depth often "
                                      "works better)."),
        "distill_lr": setting(1e-4, label="Distillation learning rate", range=limits.DISTILL_LEARNING_RATE,
                              positive=True, help="Token Distillation: AdamW learning rate of the input row."),
        "distill_epochs": setting(1, label="Distillation epochs", range=limits.DISTILL_EPOCHS,
                                  help="Token Distillation: passes over the snippets."),
        "distill_batch_size": setting(1, label="Distillation batch size", range=limits.DISTILL_BATCH_SIZE,
                                      help="Token Distillation: snippets per optimizer step."),
        "distill_window": setting(1, label="Distillation window", range=limits.DISTILL_WINDOW, advanced=True,
                                  help="Token Distillation: steps whose token-side passes run together, each "
                                       "gradient then applied by its own step (1 = the published loop exactly; "
                                       "larger is faster on a CPU, gradients up to window − 1 steps late)."),
    }
    settings_title = "Token Distillation settings"

    def seeded(self, config) -> bool:
        return True  # the sampled snippets and their order

    def check(self, spec, config, tokenizer=None) -> None:
        if config.distill_layer == 0:
            raise fail("distill_layer", "0 is the input embeddings, not a layer",
                       "give -1 for the last layer, or a layer's number (negative counts from the end)")
        if tokenizer is not None:
            check_length(tokenizer, spec, config.distill_length)

    @staticmethod
    def _options(config) -> dict:
        return dict(length=config.distill_length, layer=config.distill_layer, lr=config.distill_lr,
                    epochs=config.distill_epochs, batch_size=config.distill_batch_size, window=config.distill_window,
                    precision=config.precision)

    @staticmethod
    def _steps(on_epoch, kept: list):
        """The distillation's steps as optimization epochs (a fractional epoch), about ``EVENTS`` of
        them: each kept in ``kept`` (the row's loss curve) and passed to ``on_epoch``."""

        def on_step(entry: dict) -> None:
            every = max(1, entry["steps"] // EVENTS)
            if entry["step"] % every == 0 or entry["step"] == entry["steps"]:
                point = {k: v for k, v in entry.items() if k not in ("step", "steps", "symbols")}
                kept.append(point)
                if on_epoch is not None:
                    on_epoch(point)

        return on_step

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        check_length(tokenizer, spec, config.distill_length)
        start, curve = mean_of_subtokens(model, tokenizer, spec), []
        result = distill(model, tokenizer, spec, snippets=config.distill_snippets, seed=config.seed, init=start,
                         on_step=self._steps(on_epoch, curve), **self._options(config))
        return result.vector, self._details(result, start, curve)

    def input_rows(self, model, tokenizer, specs, configs, on_epoch=None):
        config = configs[0]  # the settings are the vocabulary's; each symbol samples with its own seed
        for spec in specs:
            check_length(tokenizer, spec, config.distill_length)
        sets = [build_snippets(model, tokenizer, s, snippets=c.distill_snippets, length=c.distill_length, seed=c.seed)
                for s, c in zip(specs, configs)]
        starts = torch.stack([mean_of_subtokens(model, tokenizer, s) for s in specs])
        results = distill_many(model, tokenizer, specs, snippets=config.distill_snippets, seed=config.seed,
                               inits=starts, snippet_sets=sets, on_step=self._steps(on_epoch, []),
                               **self._options(config))
        return [(r.vector, self._details(r, start)) for r, start in zip(results, starts)]

    @staticmethod
    def _details(result, start: torch.Tensor, curve: list | None = None) -> dict:
        details = result.to_dict()
        details["distill_seconds"] = details.pop("seconds")
        details.pop("step_losses", None)  # too long for a row: ``curve`` keeps about EVENTS of them
        if curve:
            details["history"] = curve  # the loss curve the page draws, by fractional epoch
        details["cosine_to_start"] = float(torch.nn.functional.cosine_similarity(result.vector, start, dim=0))
        return details


STRATEGY = Distill()
