"""core/model/tiny.py: a tiny random Llama with a small tokenizer, built in-process."""

from __future__ import annotations

import torch

from core.model.tiny import tiny_model
from tests.conftest import tiny_spec_dict


def test_each_call_is_a_fresh_copy():
    model, tokenizer = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    tokenizer.add_tokens(["[ONLY_IN_THE_FIRST_COPY]"])
    again, tok2 = tiny_model()
    assert again is not model and tok2 is not tokenizer
    after = again.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    assert "[ONLY_IN_THE_FIRST_COPY]" not in tok2.get_vocab()
    assert len(tok2) == len(tokenizer) - 1


def test_untied_and_the_config_says_so():
    model, _ = tiny_model()
    inp, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert not model.config.tie_word_embeddings
    assert inp.data_ptr() != out.data_ptr()
    assert torch.equal(inp, out)  # a copy of the tied matrix, not a different one
    with torch.no_grad():
        inp[0].fill_(7.0)
    assert not torch.equal(inp[0], out[0])


def test_deterministic_for_a_seed_and_different_across_seeds():
    a, _ = tiny_model(seed=0)
    b, _ = tiny_model(seed=0)
    c, _ = tiny_model(seed=1)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.get_input_embeddings().weight, c.get_input_embeddings().weight)
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert torch.equal(a(input_ids=ids).logits, b(input_ids=ids).logits)


def test_shape_follows_the_arguments():
    model, tokenizer = tiny_model()
    cfg = model.config
    assert (cfg.hidden_size, cfg.num_hidden_layers) == (64, 2)
    assert model.get_input_embeddings().weight.shape == (len(tokenizer), 64)
    assert model.get_output_embeddings().weight.shape == (len(tokenizer), 64)
    assert not model.training  # handed out in eval mode
    small, _ = tiny_model(hidden=32, layers=1)
    assert (small.config.hidden_size, small.config.num_hidden_layers) == (32, 1)
    assert small.get_input_embeddings().weight.shape[1] == 32


def test_tokenizer_round_trips_the_spec_and_targets_are_single_tokens():
    _, tokenizer = tiny_model()
    spec = tiny_spec_dict()
    texts = spec["glosses"] + spec["positive_contexts"] + spec["negative_contexts"] + spec["validation_contexts"]
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False)
        assert ids and tokenizer.decode(ids) == text
    for word in spec["target_tokens"]:
        assert len(tokenizer.encode(" " + word, add_special_tokens=False)) == 1, word
    assert tokenizer.pad_token == "<|pad|>" and tokenizer.eos_token == "<|endoftext|>"
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    assert spec["new_token"] not in tokenizer.get_vocab()
