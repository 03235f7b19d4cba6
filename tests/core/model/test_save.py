"""Saving a model folder with the new token and reloading it with plain transformers."""

from __future__ import annotations

import json

import pytest
import torch

from core.spec.errors import InputError
from core.model.save import load_model_folder, read_metadata, save_model_folder
from core.model.tokens import add_token, token_rows
from tests.conftest import TOKEN


@pytest.fixture
def with_token(tiny):
    model, tokenizer = tiny
    g = torch.Generator().manual_seed(3)
    hidden = model.config.hidden_size
    input_row, output_row = torch.randn(hidden, generator=g), torch.randn(hidden, generator=g)
    token_id = add_token(model, tokenizer, TOKEN, input_row, output_row)
    return model, tokenizer, token_id, input_row, output_row


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0]


def test_reload_gives_identical_logits_rows_and_tokens(with_token, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer, token_id, input_row, output_row = with_token
    text = f"the {TOKEN} sells"
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert token_id in ids
    before = _logits(model, ids)

    out = save_model_folder(model, tokenizer, tmp_path / "saved", metadata={"token": TOKEN})
    assert sorted(p.name for p in out.glob("*.safetensors"))
    assert not list(out.glob("*.bin")), "weights must be safetensors only"
    assert json.loads((out / "config.json").read_text())["tie_word_embeddings"] is False
    assert read_metadata(out) == {"token": TOKEN}

    reloaded = AutoModelForCausalLM.from_pretrained(out).eval()
    tok2 = AutoTokenizer.from_pretrained(out)
    assert reloaded.get_input_embeddings().weight.data_ptr() != reloaded.get_output_embeddings().weight.data_ptr()
    assert tok2.convert_tokens_to_ids(TOKEN) == token_id
    assert tok2.encode(text, add_special_tokens=False) == ids
    # The token still absorbs the space before it after reloading (AddedToken lstrip).
    assert tok2.encode(f"the{TOKEN} sells", add_special_tokens=False) == ids

    in_row, out_row = token_rows(reloaded, token_id)
    assert torch.equal(in_row, input_row)
    assert torch.equal(out_row, output_row)
    after = _logits(reloaded, ids)
    assert torch.equal(before, after)


def test_load_model_folder_returns_untied_loaded_model(with_token, tmp_path):
    model, tokenizer, token_id, input_row, output_row = with_token
    out = save_model_folder(model, tokenizer, tmp_path / "m")
    loaded = load_model_folder(out)
    assert loaded.tokenizer.convert_tokens_to_ids(TOKEN) == token_id
    assert loaded.model.config.tie_word_embeddings is False
    assert torch.equal(token_rows(loaded.model, token_id)[1], output_row)


def test_replaces_an_earlier_model_folder_and_leaves_no_temporary_files(with_token, tmp_path):
    model, tokenizer, token_id, _, _ = with_token
    target = tmp_path / "m"
    save_model_folder(model, tokenizer, target)
    with torch.no_grad():
        model.get_output_embeddings().weight[token_id] = 7.0
    save_model_folder(model, tokenizer, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    reloaded = load_model_folder(target).model
    assert torch.all(token_rows(reloaded, token_id)[1] == 7.0)


def test_refuses_a_folder_with_other_files_and_a_file(with_token, tmp_path):
    model, tokenizer, _, _, _ = with_token
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(InputError) as err:
        save_model_folder(model, tokenizer, busy)
    assert err.value.fields == ["out"]
    assert (busy / "notes.txt").read_text() == "keep me"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(InputError):
        save_model_folder(model, tokenizer, a_file)


def test_load_model_folder_names_a_folder_without_a_model(tmp_path):
    with pytest.raises(InputError) as err:
        load_model_folder(tmp_path)
    assert err.value.fields == ["model folder"]
