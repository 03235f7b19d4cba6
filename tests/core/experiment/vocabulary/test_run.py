"""A vocabulary end to end on the tiny model: per-symbol ranks before → after, confusion matrices,
each symbol's validation loss at the best step, strict JSON, and a stop before training."""

from __future__ import annotations

import json

import pytest

from core.embedding.strategies import InitConfig
from core.experiment.vocabulary.run import run_vocabulary
from core.experiment.vocabulary.load import load_vocabulary
from core.train.events import StopRequested
from core.train.finetune import FinetuneConfig
from tests.core.experiment.vocab_fixtures import three_specs


def test_init_and_finetune_report_every_symbol_before_and_after(base):
    vocab = load_vocabulary(three_specs(), base.tokenizer)
    for spec in vocab.specs:  # a short run: 8 sentences of each symbol, 2 steps
        spec.fine_tuning_sentences = spec.fine_tuning_sentences[:8]
    events = []
    run = run_vocabulary(vocab, base, InitConfig(), FinetuneConfig(epochs=1, batch_size=12, grad_accum=1),
                         contrast=True, emit=events.append, max_new_tokens=2)
    data = json.loads(json.dumps(run.to_dict(), allow_nan=False))
    assert data["kind"] == "vocab" and data["contrast"] is True and data["symbols_count"] == len(vocab)
    steps = [e for e in events if e.get("type") == "step" and e.get("eval_loss") is not None]
    best = next(e for e in steps if e["step"] == data["finetune"]["best_step"])
    first = min(steps, key=lambda e: e["step"])
    for s, spec in zip(data["symbols"], vocab.specs):
        assert s["token"] == spec.new_token
        assert len(s["ranks"]) == len(spec.testing_positive_contexts) + len(spec.testing_negative_contexts)
        assert all(isinstance(r["before"], int) and isinstance(r["after"], int) for r in s["ranks"])
        assert s["quality_before"]["mrr_positive"] is not None and s["quality_after"]["mrr_positive"] is not None
        assert s["eval_loss_at_best"] == best["eval_loss_by"][spec.new_token]
        assert s["initial_eval_loss"] == first["eval_loss_by"][spec.new_token] and first["step"] == 0
        assert s["cos_input_before_after"] < 1
    assert len(data["confusion_after"]["own_rank"]) == len(vocab)
    assert {"phase": "evaluate_after"}.items() <= next(e for e in events if e.get("phase") == "evaluate_after").items()
    assert data["table"][0]["token"] == vocab.tokens[0] and "mrr_positive_after" in data["table"][0]


def test_init_only_and_a_stop_before_training(base):
    vocab = load_vocabulary(three_specs(), base.tokenizer)
    run = run_vocabulary(vocab, base, InitConfig(), finetune=False, max_new_tokens=2)
    data = run.to_dict()
    assert data["finetune"] is None and data["confusion_after"] is None
    assert all(s["quality_after"] is None and s["ranks"][0]["after"] is None for s in data["symbols"])
    with pytest.raises(StopRequested):
        run_vocabulary(vocab, base, InitConfig(), FinetuneConfig(epochs=1), should_stop=lambda: True)
