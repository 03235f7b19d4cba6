"""Contextual embeddings and next-token logits at the end of short texts.

Both helpers tokenize without special tokens (contexts, glosses and targets are measured as plain
continuations), pad on the right, and gather each text's last real position. Right padding keeps
every real position exactly where it would be without padding: causal attention never lets a real
token see the pad tokens after it, so batching does not change the numbers.

The contextual embedding is the decoder's ``last_hidden_state``. ``capture_outputs`` in
transformers 5 ties ``hidden_states[-1]`` to it, so it is the same tensor that
``output_hidden_states=True`` returns, already after the final norm: exactly what the output layer
multiplies. Calling the decoder directly skips the output layer over the whole vocabulary at every
position, which the contextual embedding does not need.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from core.embedding.precision import passes_in


@contextlib.contextmanager
def eval_mode(model) -> Iterator[None]:
    """Put ``model`` in eval mode (no dropout) for the block and restore its mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def decoder_of(model):
    """The decoder stack that returns ``last_hidden_state`` (``model.model`` for Llama-family models)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    return decoder if decoder is not None and decoder is not model else model.base_model


def encode(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids of each text, without special tokens; an empty encoding is an error."""
    ids = [tokenizer.encode(text, add_special_tokens=False) for text in texts]
    for text, row in zip(texts, ids):
        if not row:
            raise ValueError(f"{text!r} has no tokens")
    return ids


def gloss_token_ids(tokenizer, spec) -> list[list[int]]:
    """Each gloss's sub-token ids, measured with its leading space (``spec.gloss_texts``)."""
    return encode(tokenizer, spec.gloss_texts)


def pad_right(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input ids [B, T], attention mask [B, T], lengths [B]) for lists of ids padded on the right."""
    lengths = torch.tensor([len(row) for row in ids], dtype=torch.long)
    width = int(lengths.max())
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return input_ids, mask, lengths


def pad_id_of(tokenizer) -> int:
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id
    return int(pad if pad is not None else 0)


@torch.no_grad()
def last_hidden(model, tokenizer, texts: list[str], batch_size: int = 32, precision: str = "model") -> torch.Tensor:
    """Contextual embedding [N, D] (float32, CPU) at each text's last token; the passes run in
    ``precision`` (``core.embedding.precision``).

    The texts go through shortest first, so that each batch pads little (right padding changes
    the work, and a real position's numbers only by float rounding: 3e-5 at most on a drafted
    vocabulary's contexts, ``bench/screening.py``), and the rows come back in the texts' order.
    """
    if not texts:
        raise ValueError("no texts")
    device = model.get_input_embeddings().weight.device
    decoder = decoder_of(model)
    all_ids = encode(tokenizer, texts)
    order = sorted(range(len(all_ids)), key=lambda i: len(all_ids[i]))
    rows = []
    with eval_mode(model), passes_in(model, precision):
        for start in range(0, len(order), batch_size):
            chunk = [all_ids[i] for i in order[start : start + batch_size]]
            input_ids, mask, lengths = pad_right(chunk, pad_id_of(tokenizer))
            out = decoder(input_ids=input_ids.to(device), attention_mask=mask.to(device), use_cache=False)
            hidden = out.last_hidden_state
            last = (lengths - 1).to(device)
            rows.append(hidden[torch.arange(hidden.shape[0], device=device), last].float().cpu())
    in_order = torch.cat(rows)
    result = torch.empty_like(in_order)
    result[torch.tensor(order)] = in_order
    return result


@torch.no_grad()
def logits_from_hidden(model, hidden: torch.Tensor) -> torch.Tensor:
    """Next-token logits [N, V] (float32, CPU) for contextual embeddings [N, D].

    Applies the model's output layer, and its final logit soft-capping where the model has one
    (Gemma-2 style), exactly as the model's own forward pass does.
    """
    head = model.get_output_embeddings()
    weight = head.weight
    return soft_cap(model, head(hidden.to(device=weight.device, dtype=weight.dtype)).float()).cpu()


def soft_cap(model, logits: torch.Tensor) -> torch.Tensor:
    """The model's final logit soft-capping (Gemma-2 style: ``tanh(x / cap) · cap``), where it has one."""
    cap = getattr(model.config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


@torch.no_grad()
def next_token_logits(model, tokenizer, texts: list[str], batch_size: int = 32) -> torch.Tensor:
    """Logits [N, V] (float32, CPU) of the token that would follow each text."""
    with eval_mode(model):
        return logits_from_hidden(model, last_hidden(model, tokenizer, texts, batch_size))


def n_candidates(model, tokenizer) -> int:
    """How many logits are real tokens. Some models pad the output matrix beyond the tokenizer
    (rows for ids no text can produce); those rows are not candidates and are left out."""
    rows = model.get_output_embeddings().weight.shape[0]
    return min(rows, len(tokenizer))


def ranks_of(logits: torch.Tensor, ids: torch.Tensor | int) -> torch.Tensor:
    """Rank (1 = top) of ``ids`` in each row of ``logits`` [N, V]; ``ids`` is one id or one per row."""
    ids = torch.as_tensor(ids, device=logits.device).expand(logits.shape[0])
    chosen = logits.gather(1, ids[:, None])
    return (logits > chosen).sum(dim=1) + 1


def ranks_of_many(logits: torch.Tensor, ids: list[int] | torch.Tensor, rows_at_once: int = 256) -> torch.Tensor:
    """Rank (1 = top) of each of ``ids`` in each row of ``logits`` [N, V]: [N, len(ids)].

    The same count as ``ranks_of`` (strictly higher logits, plus one), from one sort per row and a
    binary search per id, instead of one pass over the row per id: for many ids (a vocabulary's
    confusion matrix: K tokens on every symbol's contexts) N·V·log V work rather than N·V·K.
    Rows go through ``rows_at_once`` at a time, so the sorted copy stays small.
    """
    ids = torch.as_tensor(ids, dtype=torch.long, device=logits.device)
    width = logits.shape[1]
    out = []
    for start in range(0, logits.shape[0], rows_at_once):
        block = logits[start : start + rows_at_once]
        ascending = block.sort(dim=1).values
        chosen = block.index_select(1, ids).contiguous()
        out.append(width - torch.searchsorted(ascending, chosen, right=True) + 1)
    return torch.cat(out) if out else torch.empty((0, len(ids)), dtype=torch.long)


def median_of_rows(values: torch.Tensor) -> torch.Tensor:
    """The median of each column of ``values`` [n, m] as float64 [m]: the middle value, or the mean of
    the two middle ones for an even ``n`` (as ``statistics.median`` computes it)."""
    if values.shape[0] == 0:
        raise ValueError("no rows to take the median of")
    ordered = values.double().sort(dim=0).values
    n = ordered.shape[0]
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2


@torch.no_grad()
def median_ranks(model, tokenizer, groups: list[list[str]], ids: list[int],
                 contexts_at_once: int = 256) -> Iterator[tuple[int, torch.Tensor]]:
    """For each group of texts, in order: (its index, the median rank of each of ``ids`` after its
    texts, float64 [len(ids)]), ranked among all next-token candidates as ``ranks_of`` ranks.

    The groups go through in chunks of whole groups of about ``contexts_at_once`` texts (at least
    one group a chunk): the logits [chunk, V] and ranks [chunk, len(ids)] of one chunk are all that is
    held at a time, so memory grows with the vocabulary and ``ids``, not with the number of texts.
    Chunking does not change a number (each text's logits are its own; ``last_hidden`` pads on the
    right)."""
    start = 0
    while start < len(groups):
        end, count = start + 1, len(groups[start])
        while end < len(groups) and count + len(groups[end]) <= contexts_at_once:
            count += len(groups[end])
            end += 1
        texts = [t for group in groups[start:end] for t in group]
        logits = next_token_logits(model, tokenizer, texts)[:, : n_candidates(model, tokenizer)]
        ranks = ranks_of_many(logits, ids)
        del logits
        row = 0
        for g in range(start, end):
            yield g, median_of_rows(ranks[row: row + len(groups[g])])
            row += len(groups[g])
        start = end
