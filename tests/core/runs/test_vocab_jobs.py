"""Vocabulary runs as jobs: checked before queueing (nothing written on bad input), stored as kind
``vocab``, and one adapter with every token that reloads and merges like a single token's."""

from __future__ import annotations

import json

import pytest
import torch

from core.embedding.strategies import InitConfig
from core.experiment.vocabulary.load import load_vocabulary
from core.runs.export import export_merged, load_adapter, read_adapter_metadata
from core.runs.vocab_jobs import submit_vocab
from core.spec.errors import InputError
from core.train.finetune import FinetuneConfig
from core.train.qlora import token_rows
from tests.core.experiment.vocab_fixtures import three_specs

QUICK = dict(epochs=1, batch_size=30, grad_accum=1, learning_rate=1e-2)


def test_a_fine_tuned_vocabulary_is_stored_with_one_adapter_for_every_token(base, runner, tmp_path):
    vocab = load_vocabulary(three_specs(), base.tokenizer)
    ticket = submit_vocab(runner, vocab, base, InitConfig(), FinetuneConfig(**QUICK),
                                                max_new_tokens=3)
    status = runner.wait(ticket.job_id, timeout=300)
    assert status["status"] == "done", status
    store = runner.store
    listed = [r for r in store.list() if r["run_id"] == ticket.job_id]
    assert listed and listed[0]["kind"] == "vocab" and listed[0]["has_result"]
    result = store.result(ticket.job_id)
    assert result["kind"] == "vocab" and [s["token"] for s in result["symbols"]] == vocab.tokens
    assert all(s["quality_after"] is not None for s in result["symbols"])
    assert json.loads((store.path(ticket.job_id) / "spec.json").read_text())["specs"][0] == vocab.specs[0].to_dict()
    folder = store.adapter_path(ticket.job_id)
    meta = read_adapter_metadata(folder)
    assert meta["tokens"] == vocab.tokens and meta["kind"] == "vocab"
    model, tokenizer, ids = load_adapter(folder, base)
    assert ids == meta["token_ids"] == [s["token_id"] for s in result["symbols"]]
    merged_folder = export_merged(folder, tmp_path / "merged", base)
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(merged_folder)
    for token_id in ids:  # the merged model holds every token's trained rows
        for a, b in zip(token_rows(merged, token_id), token_rows(model, token_id)):
            torch.testing.assert_close(a, b)


def test_bad_input_queues_nothing_and_writes_nothing(base, runner):
    vocab = load_vocabulary(three_specs(), base.tokenizer)
    vocab.specs[0].target_tokens = ["wool", "haberdashery"]  # two tokens for the tiny tokenizer
    with pytest.raises(InputError) as err:
        submit_vocab(runner, vocab, base, InitConfig(), FinetuneConfig(**QUICK))
    assert err.value.fields == [f"{vocab.tokens[0]} target_tokens (item 2)"]
    good = load_vocabulary(three_specs(), base.tokenizer)
    with pytest.raises(InputError) as err:
        submit_vocab(runner, good, base, InitConfig(), FinetuneConfig(batch_size=256))
    assert err.value.fields == ["batch_size"]
    assert runner.store.list() == [] and runner.list() == []
