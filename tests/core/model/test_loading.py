"""Untying the embeddings and registering the new token (core/model/loading.py, core/model/tokens.py)."""

from __future__ import annotations

import pytest
import torch

from core.model.tokens import untie_embeddings
from core.model.tokens import add_token, decode, register_token, token_rows

TOKEN = "[BLISS_1]"


def _tied_tiny():
    """The tiny model as transformers builds it: input and output share one matrix."""
    from transformers import LlamaForCausalLM

    from core.model.tiny import tiny_model

    model, tokenizer = tiny_model()
    tied = LlamaForCausalLM(model.config.__class__(**{**model.config.to_dict(), "tie_word_embeddings": True}))
    tied.load_state_dict(model.state_dict(), strict=False)
    tied.tie_weights()
    return tied.eval(), tokenizer


def test_tied_model_really_shares_the_matrix():
    model, _ = _tied_tiny()
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()


def test_untying_separates_the_rows():
    model, _ = _tied_tiny()
    before = model.get_output_embeddings().weight.detach().clone()
    untie_embeddings(model)
    inp, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert inp.data_ptr() != out.data_ptr()
    assert torch.equal(inp, out)  # same values, separate storage
    assert model.config.tie_word_embeddings is False
    with torch.no_grad():
        inp[7] += 1.0
    assert torch.equal(out[7], before[7])  # changing an input row leaves the output row
    with torch.no_grad():
        out[9] -= 1.0
    assert torch.equal(inp[9], before[9])  # and the other way round


def test_untie_is_idempotent(tiny):
    model, _ = tiny
    out = model.get_output_embeddings().weight
    untie_embeddings(model)
    assert model.get_output_embeddings().weight is out


def test_rows_stay_separate_after_resizing(tiny):
    model, tokenizer = tiny
    token_id = add_token(model, tokenizer, TOKEN, torch.full((64,), 0.5), torch.full((64,), -0.25))
    inp, out = token_rows(model, token_id)
    assert torch.equal(inp, torch.full((64,), 0.5)) and torch.equal(out, torch.full((64,), -0.25))
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert model.get_output_embeddings().weight.shape[0] == len(tokenizer)
    with torch.no_grad():
        model.get_input_embeddings().weight[token_id] = 2.0
    assert torch.equal(token_rows(model, token_id)[1], torch.full((64,), -0.25))


def _check_both_spellings(tokenizer, word: str = "the", after: str = " sells"):
    token_id = register_token(tokenizer, TOKEN)
    spaced = tokenizer.encode(f"{word} {TOKEN}{after}", add_special_tokens=False)
    joined = tokenizer.encode(f"{word}{TOKEN}{after}", add_special_tokens=False)
    assert spaced == joined
    word_ids = tokenizer.encode(word, add_special_tokens=False)
    after_ids = tokenizer.encode(after, add_special_tokens=False)
    assert spaced == word_ids + [token_id] + after_ids  # no stray space token before the new token
    return token_id, spaced


def test_token_absorbs_the_space_before_it_on_the_tiny_tokenizer(tiny):
    _, tokenizer = tiny
    token_id, ids = _check_both_spellings(tokenizer)
    assert register_token(tokenizer, TOKEN) == token_id  # registering twice changes nothing
    assert decode(tokenizer, ids, TOKEN) == f"the {TOKEN} sells"


@pytest.mark.slow
def test_token_absorbs_the_space_before_it_on_the_default_model(default_model):
    import copy

    tokenizer = copy.deepcopy(default_model.tokenizer)
    token_id, ids = _check_both_spellings(tokenizer)
    assert tokenizer.convert_ids_to_tokens(ids)[:2] == ["the", TOKEN]
    assert decode(tokenizer, ids, TOKEN) == f"the {TOKEN} sells"


@pytest.mark.slow
def test_default_model_is_untied(default_model):
    model = default_model.model
    assert model.get_input_embeddings().weight.data_ptr() != model.get_output_embeddings().weight.data_ptr()
    assert model.config.tie_word_embeddings is False
