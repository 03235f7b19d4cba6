"""core/model/tokens.py: registering the new token, growing the matrices, writing and reading its rows."""

from __future__ import annotations

import pytest
import torch

from core.model.tokens import add_token, decode, register_token, set_token_rows, token_rows, untie_embeddings
from tests.conftest import TOKEN


def test_register_token_absorbs_the_space_before_it(tiny):
    _, tokenizer = tiny
    size = len(tokenizer)
    token_id = register_token(tokenizer, TOKEN)
    assert token_id == size and len(tokenizer) == size + 1
    assert register_token(tokenizer, TOKEN) == token_id and len(tokenizer) == size + 1  # idempotent
    spaced = tokenizer.encode(f"the {TOKEN} sells", add_special_tokens=False)
    glued = tokenizer.encode(f"the{TOKEN} sells", add_special_tokens=False)
    assert spaced == glued
    the = tokenizer.encode("the", add_special_tokens=False)
    sells = tokenizer.encode(" sells", add_special_tokens=False)
    assert spaced == the + [token_id] + sells  # no stray space token before it
    # Only the token's own spelling maps to it.
    assert token_id not in tokenizer.encode("the BLISS_29111 sells", add_special_tokens=False)


def test_add_token_grows_both_matrices_and_sets_the_rows(tiny):
    model, tokenizer = tiny
    inp_before = model.get_input_embeddings().weight.detach().clone()
    out_before = model.get_output_embeddings().weight.detach().clone()
    n, d = inp_before.shape
    g = torch.Generator().manual_seed(5)
    row_in, row_out = torch.randn(d, generator=g), torch.randn(d, generator=g)
    token_id = add_token(model, tokenizer, TOKEN, row_in, row_out)
    inp, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert token_id == n and inp.shape == (n + 1, d) and out.shape == (n + 1, d)
    assert model.config.vocab_size == n + 1
    assert torch.equal(inp[token_id], row_in) and torch.equal(out[token_id], row_out)
    assert torch.equal(inp[:n], inp_before) and torch.equal(out[:n], out_before)  # every old row kept
    assert inp.data_ptr() != out.data_ptr()
    # The model uses the rows: its logit for the token is the last hidden state · the output row.
    ids = torch.tensor([tokenizer.encode(f"the {TOKEN}", add_special_tokens=False)])
    with torch.no_grad():
        result = model(input_ids=ids, output_hidden_states=True)
    expected = result.hidden_states[-1][0, -1] @ row_out
    assert torch.allclose(result.logits[0, -1, token_id], expected, atol=1e-5)


def test_add_token_again_only_rewrites_the_rows(tiny):
    model, tokenizer = tiny
    d = model.config.hidden_size
    token_id = add_token(model, tokenizer, TOKEN, torch.ones(d), torch.ones(d))
    shape = model.get_input_embeddings().weight.shape
    assert add_token(model, tokenizer, TOKEN, torch.full((d,), 2.0), None) == token_id
    assert model.get_input_embeddings().weight.shape == shape
    inp, out = token_rows(model, token_id)
    assert torch.equal(inp, torch.full((d,), 2.0)) and torch.equal(out, torch.ones(d))  # None leaves a row alone


def test_set_token_rows_converts_dtype_and_refuses_tied_embeddings(tiny):
    model, tokenizer = tiny
    token_id = add_token(model, tokenizer, TOKEN)
    d = model.config.hidden_size
    row = torch.linspace(-1, 1, d, dtype=torch.float64)
    set_token_rows(model, token_id, row, -row)
    assert model.get_input_embeddings().weight.dtype == torch.float32
    assert torch.equal(model.get_input_embeddings().weight[token_id], row.float())
    assert torch.equal(model.get_output_embeddings().weight[token_id], -row.float())
    model.get_output_embeddings().weight = model.get_input_embeddings().weight  # tie them again
    with pytest.raises(ValueError, match="tied"):
        set_token_rows(model, token_id, row, row)


def test_untie_embeddings_gives_separate_storage(tiny):
    model, _ = tiny
    model.get_output_embeddings().weight = model.get_input_embeddings().weight
    model.config.tie_word_embeddings = True
    untie_embeddings(model)
    inp, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert inp.data_ptr() != out.data_ptr() and torch.equal(inp, out)
    assert model.config.tie_word_embeddings is False
    with torch.no_grad():
        out[3].zero_()
    assert inp[3].abs().sum() > 0
    before = out.data_ptr()
    untie_embeddings(model)  # already untied: the output matrix is left as it is
    assert model.get_output_embeddings().weight.data_ptr() == before


def test_untie_refuses_a_model_without_output_layer(tiny, monkeypatch):
    from core.spec.errors import InputError

    model, _ = tiny
    monkeypatch.setattr(model, "get_output_embeddings", lambda: None)
    with pytest.raises(InputError) as err:
        untie_embeddings(model)
    assert err.value.fields == ["model"]


def test_token_rows_are_float32_cpu_copies(tiny):
    model, tokenizer = tiny
    d = model.config.hidden_size
    token_id = add_token(model, tokenizer, TOKEN, torch.full((d,), 0.5), torch.full((d,), -0.5))
    model.to(torch.bfloat16)
    inp, out = token_rows(model, token_id)
    assert inp.dtype == out.dtype == torch.float32 and inp.device.type == "cpu"
    assert torch.equal(inp, torch.full((d,), 0.5)) and torch.equal(out, torch.full((d,), -0.5))
    inp.zero_()  # a copy: the model keeps its row
    assert model.get_input_embeddings().weight[token_id].float().eq(0.5).all()
    assert not inp.requires_grad


def test_decode_puts_back_the_absorbed_space(tiny):
    _, tokenizer = tiny
    register_token(tokenizer, TOKEN)
    ids = tokenizer.encode(f"She went to the {TOKEN} today.", add_special_tokens=False)
    assert tokenizer.decode(ids) == f"She went to the{TOKEN} today."  # what the tokenizer alone gives
    assert decode(tokenizer, ids, TOKEN) == f"She went to the {TOKEN} today."
    assert decode(tokenizer, ids) == f"She went to the{TOKEN} today."  # without the token name: as is
    start = tokenizer.encode(f"{TOKEN} sells wool", add_special_tokens=False)
    assert decode(tokenizer, start, TOKEN) == f"{TOKEN} sells wool"  # nothing to put back at the start
    bracket = tokenizer.encode(f"(the {TOKEN})", add_special_tokens=False)
    assert decode(tokenizer, bracket, TOKEN) == f"(the {TOKEN})"
    opened = tokenizer.encode(f"({TOKEN})", add_special_tokens=False)
    assert decode(tokenizer, opened, TOKEN) == f"({TOKEN})"  # no space after an opening bracket
    special = [tokenizer.eos_token_id] + tokenizer.encode("the wool", add_special_tokens=False)
    assert decode(tokenizer, special, TOKEN) == "the wool"  # special tokens are skipped


def test_add_tokens_registers_all_in_one_resize_with_their_rows(tiny, monkeypatch):
    from core.model.tokens import add_tokens

    model, tokenizer = tiny
    n, d = len(tokenizer), model.config.hidden_size
    calls = []
    original = model.resize_token_embeddings
    monkeypatch.setattr(model, "resize_token_embeddings", lambda *a, **k: calls.append(a) or original(*a, **k))
    tokens = ["[BLISS_1]", "[BLISS_2]", "[BLISS_3]"]
    inp, out = torch.randn(3, d), torch.randn(3, d)
    ids = add_tokens(model, tokenizer, tokens, inp, out)
    assert ids == [n, n + 1, n + 2] and len(calls) == 1
    assert torch.equal(model.get_input_embeddings().weight[ids].detach(), inp)
    assert torch.equal(model.get_output_embeddings().weight[ids].detach(), out)
    # Each absorbs the space before it, like add_token's.
    assert tokenizer("the [BLISS_2] sells")["input_ids"] == tokenizer("the[BLISS_2] sells")["input_ids"]
    with pytest.raises(ValueError):
        add_tokens(model, tokenizer, ["[X]", "[X]"])
    with pytest.raises(ValueError):
        add_tokens(model, tokenizer, ["[Y]"], torch.randn(2, d))
