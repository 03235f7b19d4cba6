"""QLoRA fine-tuning of many new tokens together (a vocabulary), in ONE run.

The single-token path generalized to a list of token ids: ``core.train.qlora.prepare`` makes every
listed token's input and output rows trainable (PEFT's ``trainable_token_indices`` with all the
ids: one ``[K, D]`` parameter per matrix) and no other embedding row; ``core.train.finetune.train``
trains on the sentences of every symbol, mixed (``Trainer`` shuffles them every epoch), with the
same events, cooperative stop, evaluation at every step, best step and early stopping as one
token. Each evaluation's step event also carries ``eval_loss_by``: the validation loss of each
symbol's own validation sentences, beside the overall ``eval_loss``.

This is what adding symbols one job after another (chaining adapters) cannot do: every token's
rows get gradients from the start, from sentences of every symbol, and the tests check that the
rows of every token move while every other row stays bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from core.train.checkpoint import Checkpoints
from core.train.events import StopRequested
from core.train.finetune import FinetuneConfig, FinetuneResult, record_turn, row_cosine, train
from core.train.qlora import prepare, token_rows


@dataclass
class Sentences:
    """Fine-tuning and validation sentences of several symbols, and each symbol's validation set."""

    fine_tuning_sentences: list[str]
    validation_sentences: list[str]
    validation_by: dict[str, list[str]]

    @classmethod
    def of(cls, specs: list) -> "Sentences":
        """Every spec's sentences; fine-tuning ones interleaved symbol by symbol (round robin)."""
        mixed: list[str] = []
        longest = max(len(s.fine_tuning_sentences) for s in specs)
        for i in range(longest):
            mixed += [s.fine_tuning_sentences[i] for s in specs if i < len(s.fine_tuning_sentences)]
        return cls(mixed, [t for s in specs for t in s.validation_sentences],
                   {s.new_token: list(s.validation_sentences) for s in specs})


@dataclass
class TrainedTokens:
    """The fine-tuned model (4-bit base + LoRA + every token's trained rows) and what training reported."""

    model: Any  # peft.PeftModel
    tokenizer: Any
    token_ids: list[int]
    tokens: list[str]
    result: FinetuneResult
    rows_before: list[tuple[torch.Tensor, torch.Tensor]]
    rows_after: list[tuple[torch.Tensor, torch.Tensor]]
    config: FinetuneConfig

    def per_token(self) -> list[dict]:
        """Per token: how far fine-tuning turned its rows (cosine before/after; 1 = not at all)."""
        return [{"token": t, "token_id": i, "cos_input_before_after": row_cosine(b[0], a[0]),
                 "cos_output_before_after": row_cosine(b[1], a[1]),
                 "input_moved": float((a[0] - b[0]).norm()), "output_moved": float((a[1] - b[1]).norm())}
                for t, i, b, a in zip(self.tokens, self.token_ids, self.rows_before, self.rows_after)]


def finetune_tokens(model, tokenizer, token_ids: list[int], tokens: list[str], sentences: Sentences,
                    config: FinetuneConfig | None = None, on_event: Callable[[dict], Any] | None = None,
                    should_stop: Callable[[], bool] | None = None, quantized=None,
                    checkpoints: Checkpoints | None = None) -> TrainedTokens:
    """QLoRA on a full-precision model that has every token (``model`` itself is not changed);
    ``checkpoints``: written as it trains, or resumed from (``core.train.checkpoint``)."""
    config = config or FinetuneConfig()
    config.check_data(len(sentences.fine_tuning_sentences), len(sentences.validation_sentences))
    emit = on_event or (lambda event: None)
    rows_before = [token_rows(model, i) for i in token_ids]
    emit({"type": "phase", "phase": "quantize",
          "message": f"Quantizing the model to 4 bits and adding LoRA ({len(token_ids)} tokens trainable)"})
    peft_model = prepare(model, list(token_ids), config, quantized=quantized)
    if should_stop is not None and should_stop():
        raise StopRequested()
    emit({"type": "phase", "phase": "train", "message": f"Fine-tuning {len(token_ids)} tokens together",
          "max_steps": config.epochs * config.steps_per_epoch(len(sentences.fine_tuning_sentences))})
    result = train(peft_model, tokenizer, list(token_ids), sentences, config, on_event=emit, should_stop=should_stop,
                   eval_groups=sentences.validation_by, checkpoints=checkpoints)
    rows_after = [token_rows(peft_model, i) for i in token_ids]
    # As in the single-token path, the cosines compare with the full-precision model's rows.
    record_turn(result, rows_before, rows_after)
    return TrainedTokens(peft_model, tokenizer, list(token_ids), list(tokens), result, rows_before, rows_after, config)
