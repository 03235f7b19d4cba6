"""Input rows from the field's heuristic initializers: AdaptiVocab, interpolation and description.

Each is a closed formula over rows the model already has (method, "Other initializers in the
field"); no pass through the model.

* **AdaptiVocab** (arXiv 2503.19693): an exponentially position-weighted mean of a gloss's
  sub-token rows. For the input row, sub-token ``i`` (``i = 1 … k``) weighs ``exp(2i)``; for an
  output row ``exp(−2i)``; the weights are normalized to sum to 1. They are computed as
  ``softmax(±2·[1 … k])``, which is the same normalization without overflowing for long glosses.
  Later sub-tokens weigh more in the input row (" wool shop": 0.12 / 0.88).
* **Interpolation** (Unsloth ``add_new_tokens(method="interpolation")``): ``0.5 × v̄ + 0.5 × m``,
  where ``v̄`` is the mean of every input row of the vocabulary and ``m`` the mean of the gloss's
  sub-token rows. ``v̄`` is taken over the rows of real tokens (the first ``len(tokenizer)`` rows;
  a matrix padded beyond the tokenizer has rows no text can produce). Unsloth also leaves out rows
  it detects as never trained; this formula keeps every real token's row.
* **Description** (LLaMA-Factory ``desc_init``): the mean of the input rows of a description's
  tokens (the text as given, without special tokens). ``noise=True`` is ``desc_init_w_noise``:
  Gaussian noise of standard deviation ``1/√D`` added, drawn from a local generator seeded with
  ``seed`` (the global random state is untouched).

Several glosses: AdaptiVocab and interpolation work per gloss and then average across glosses
(as every sub-token strategy does), so a gloss with more sub-tokens does not weigh more. A
description is one text for the symbol, whatever its glosses.

These rows are computed before the new token is added (the vocabulary as the base model has it).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from core.embedding.contexts import gloss_token_ids
from core.spec.errors import fail

INTERPOLATION_WEIGHT = 0.5  # Unsloth's default: halfway between the vocabulary's mean and the gloss's


def matrix(model, output: bool = False) -> torch.Tensor:
    """The input embedding matrix (or the output one) as float32 on the CPU, detached."""
    layer = model.get_output_embeddings() if output else model.get_input_embeddings()
    return layer.weight.detach().float().cpu()


def gloss_rows(model, tokenizer, spec, *, output: bool = False) -> list[torch.Tensor]:
    """Per gloss: its sub-tokens' rows [k, D] (float32) of the input matrix, or of the output one."""
    rows = matrix(model, output)
    return [rows[ids] for ids in gloss_token_ids(tokenizer, spec)]


def per_gloss(model, tokenizer, spec, combine: Callable[[torch.Tensor], torch.Tensor], *,
              output: bool = False) -> torch.Tensor:
    """``combine`` applied to each gloss's sub-token rows, then averaged across glosses."""
    return torch.stack([combine(rows) for rows in gloss_rows(model, tokenizer, spec, output=output)]).mean(0)


def subtoken_mean(model, tokenizer, spec) -> torch.Tensor:
    """The mean of each gloss's sub-token input rows, averaged across glosses (``average``)."""
    return per_gloss(model, tokenizer, spec, lambda rows: rows.mean(0))


# -- AdaptiVocab -------------------------------------------------------------------------------

def adaptivocab_weights(k: int, *, output: bool = False) -> torch.Tensor:
    """The weights of sub-tokens 1 … k: ``exp(2i)`` (``exp(−2i)`` for an output row), summing to 1."""
    if k < 1:
        raise ValueError("a gloss has at least one sub-token")
    positions = torch.arange(1, k + 1, dtype=torch.float64)
    return torch.softmax((-2.0 if output else 2.0) * positions, dim=0).float()


def adaptivocab_mean(rows: torch.Tensor, *, output: bool = False) -> torch.Tensor:
    """The AdaptiVocab-weighted mean of one gloss's sub-token rows [k, D]."""
    return adaptivocab_weights(rows.shape[0], output=output) @ rows


def adaptivocab_row(model, tokenizer, spec, *, output: bool = False) -> torch.Tensor:
    """AdaptiVocab's input row (or, with ``output=True``, its output row from the output matrix)."""
    return per_gloss(model, tokenizer, spec, lambda rows: adaptivocab_mean(rows, output=output), output=output)


# -- interpolation -----------------------------------------------------------------------------

def vocabulary_mean(model, tokenizer) -> torch.Tensor:
    """The mean of the input rows of every real token (the first ``len(tokenizer)`` rows)."""
    rows = matrix(model)
    return rows[: min(rows.shape[0], len(tokenizer))].mean(0)


def interpolation_row(model, tokenizer, spec, *, weight: float = INTERPOLATION_WEIGHT) -> torch.Tensor:
    """``weight × (vocabulary mean) + (1 − weight) × (sub-token mean)``, per gloss then averaged."""
    everything = vocabulary_mean(model, tokenizer)
    return per_gloss(model, tokenizer, spec, lambda rows: weight * everything + (1.0 - weight) * rows.mean(0))


# -- description -------------------------------------------------------------------------------

def description_ids(tokenizer, description) -> list[int]:
    """The description's token ids; a missing or empty description is an error naming ``description``."""
    if description is None:
        raise fail("description", "is missing",
                   "add a short explanation of the symbol's meaning to the spec, or choose another strategy")
    if not isinstance(description, str) or not description.strip():
        raise fail("description", "is empty", "write a short explanation of the symbol's meaning")
    ids = tokenizer.encode(description.strip(), add_special_tokens=False)
    if not ids:
        raise fail("description", "has no tokens for this model", "write the explanation in plain words")
    return ids


def description_row(model, tokenizer, description, *, noise: bool = False, seed: int = 0) -> torch.Tensor:
    """The mean input row of the description's tokens; with ``noise``, plus N(0, 1/D) noise (seeded)."""
    row = matrix(model)[description_ids(tokenizer, description)].mean(0)
    if noise:
        generator = torch.Generator().manual_seed(int(seed))
        row = row + torch.randn(row.shape[0], generator=generator) / math.sqrt(row.shape[0])
    return row
