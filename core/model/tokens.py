"""Registering the new token and writing its rows.

The token absorbs the space before it (``AddedToken(lstrip=True)``): the gloss is measured with its
leading space (" wool shop"), so ``the [BLISS_29111] sells`` and ``the[BLISS_29111] sells`` must both
become ``the`` + ``[BLISS_29111]`` + `` sells``, with no stray space token the contexts never had.
"""

from __future__ import annotations

import torch
from tokenizers import AddedToken

from core.spec.errors import fail


def untie_embeddings(model) -> None:
    """Give the output layer its own copy of the embedding matrix and record it in the config.

    Tied models (SmolLM2 is one) share one matrix for reading and scoring tokens; a new token
    needs two different rows, so the output layer gets a copy, and ``tie_word_embeddings=False``
    keeps it separate through ``resize_token_embeddings``, saving and reloading.
    """
    inp = model.get_input_embeddings()
    out = model.get_output_embeddings()
    if out is None:
        raise fail("model", "has no output layer", "choose a causal language model")
    if out.weight is inp.weight or out.weight.data_ptr() == inp.weight.data_ptr():
        out.weight = torch.nn.Parameter(inp.weight.detach().clone())
    model.config.tie_word_embeddings = False
    text = model.config.get_text_config() if hasattr(model.config, "get_text_config") else None
    if text is not None and text is not model.config:
        text.tie_word_embeddings = False


def register_token(tokenizer, token: str) -> int:
    """Add ``token`` to the tokenizer (if new) so that it swallows the space before it; return its id."""
    if token not in tokenizer.get_vocab():
        tokenizer.add_tokens([AddedToken(token, lstrip=True, rstrip=False, normalized=False, special=False)])
    return tokenizer.convert_tokens_to_ids(token)


@torch.no_grad()
def add_token(model, tokenizer, token: str, input_row: torch.Tensor | None = None,
              output_row: torch.Tensor | None = None) -> int:
    """Register ``token``, grow both embedding matrices to the tokenizer's size, set its rows.

    ``mean_resizing=False``: every strategy sets the rows explicitly, so the mean-and-covariance
    initialisation transformers would otherwise compute (over the whole vocabulary) is wasted work;
    the ``mean_resizing`` strategy does it itself when chosen. The model must be untied already.
    """
    token_id = register_token(tokenizer, token)
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    set_token_rows(model, token_id, input_row, output_row)
    return token_id


@torch.no_grad()
def add_tokens(model, tokenizer, tokens: list[str], input_rows: torch.Tensor | None = None,
               output_rows: torch.Tensor | None = None) -> list[int]:
    """Register every token of ``tokens``, grow both matrices in ONE resize, set their rows.

    ``input_rows`` / ``output_rows``: [len(tokens), D], row i for ``tokens[i]`` (None leaves the
    rows as the resize made them). Registering first and resizing once copies the two
    [vocabulary × D] matrices once, instead of once per token as ``add_token`` in a loop would.
    Returns the token ids, in the order of ``tokens``.
    """
    if len(set(tokens)) != len(tokens):
        raise ValueError("the same token is listed twice")
    for rows in (input_rows, output_rows):
        if rows is not None and tuple(rows.shape[:1]) != (len(tokens),):
            raise ValueError(f"expected {len(tokens)} rows, got {tuple(rows.shape)}")
    known = tokenizer.get_vocab()  # a fresh dict of the whole vocabulary on every call: read it once
    new = [t for t in tokens if t not in known]
    if new:
        tokenizer.add_tokens([AddedToken(t, lstrip=True, rstrip=False, normalized=False, special=False)
                              for t in new])
    ids = [tokenizer.convert_tokens_to_ids(t) for t in tokens]
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    inp = model.get_input_embeddings().weight
    out = model.get_output_embeddings().weight
    if inp.data_ptr() == out.data_ptr():
        raise ValueError("embeddings are tied; call untie_embeddings first")
    index = torch.tensor(ids, device=inp.device)
    if input_rows is not None:
        inp.index_copy_(0, index, input_rows.to(device=inp.device, dtype=inp.dtype))
    if output_rows is not None:
        out.index_copy_(0, index.to(out.device), output_rows.to(device=out.device, dtype=out.dtype))
    return ids


@torch.no_grad()
def set_token_rows(model, token_id: int, input_row: torch.Tensor | None, output_row: torch.Tensor | None) -> None:
    inp = model.get_input_embeddings().weight
    out = model.get_output_embeddings().weight
    if inp.data_ptr() == out.data_ptr():
        raise ValueError("embeddings are tied; call untie_embeddings first")
    if input_row is not None:
        inp[token_id] = input_row.to(inp.dtype).to(inp.device)
    if output_row is not None:
        out[token_id] = output_row.to(out.dtype).to(out.device)


def token_rows(model, token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input row, output row) of a token, as float32 copies on the CPU."""
    inp = model.get_input_embeddings().weight[token_id]
    out = model.get_output_embeddings().weight[token_id]
    return inp.detach().float().cpu().clone(), out.detach().float().cpu().clone()


def decode(tokenizer, ids, token: str | None = None) -> str:
    """Decode ids to text; put back the space that the new token absorbed when it follows a word."""
    text = tokenizer.decode(list(ids), skip_special_tokens=True)
    if token:
        import re

        text = re.sub(r"(?<=[^\s(\[\"'])" + re.escape(token), " " + token, text)
    return text
