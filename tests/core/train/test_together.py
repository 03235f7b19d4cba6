"""Fine-tuning many new tokens in one QLoRA run: every token's two rows move, no other row does;
each symbol's validation loss is in the step events."""

from __future__ import annotations

import torch

from core.spec.gloss import check_spec
from core.model.tokens import add_tokens
from core.train.finetune import FinetuneConfig, group_losses, validation_loss
from core.train.together import Sentences, finetune_tokens
from tests.core.experiment.vocab_fixtures import three_specs


def _specs(tokenizer):
    return [check_spec(s, tokenizer) for s in three_specs()]


def test_sentences_are_mixed_symbol_by_symbol(tiny):
    specs = _specs(tiny[1])
    s = Sentences.of(specs)
    assert s.fine_tuning_sentences[: len(specs)] == [sp.fine_tuning_sentences[0] for sp in specs]
    assert sorted(s.fine_tuning_sentences) == sorted(t for sp in specs for t in sp.fine_tuning_sentences)
    assert s.validation_by == {sp.new_token: sp.validation_sentences for sp in specs}


def test_every_new_tokens_rows_move_and_no_other_row_does(tiny):
    model, tokenizer = tiny
    specs = _specs(tokenizer)
    d = model.config.hidden_size
    g = torch.Generator().manual_seed(0)
    ids = add_tokens(model, tokenizer, [s.new_token for s in specs], torch.randn(len(specs), d, generator=g) * 0.05,
                     torch.randn(len(specs), d, generator=g) * 0.05)
    sentences = Sentences.of(specs)
    sentences.fine_tuning_sentences = sentences.fine_tuning_sentences[:12]  # 4 of each symbol: fast
    config = FinetuneConfig(epochs=1, batch_size=4, grad_accum=1, learning_rate=2e-2, warmup_ratio=0.0,
                            restore_best=False)
    events = []
    trained = finetune_tokens(model, tokenizer, ids, [s.new_token for s in specs], sentences, config,
                              on_event=events.append)
    peft_model = trained.model
    before_in = model.get_input_embeddings().weight.detach()
    before_out = model.get_output_embeddings().weight.detach()
    after_in = peft_model.get_input_embeddings().weight.detach()  # effective matrices (trained rows in place)
    after_out = peft_model.get_output_embeddings().weight.detach()
    for before, after in ((before_in, after_in), (before_out, after_out)):
        moved = (before != after).any(dim=1).nonzero().flatten().tolist()
        assert moved == sorted(ids)
    for k, token_id in enumerate(ids):
        assert torch.equal(trained.rows_after[k][0], after_in[token_id])
        assert torch.equal(trained.rows_after[k][1], after_out[token_id])
        assert not torch.equal(trained.rows_before[k][0], trained.rows_after[k][0])
    assert all(p["input_moved"] > 0 and p["output_moved"] > 0 for p in trained.per_token())
    # Only LoRA and the token rows are trainable; the rows are one [K, D] parameter per matrix.
    trainable = {n: p.shape for n, p in peft_model.named_parameters() if p.requires_grad}
    deltas = [shape for n, shape in trainable.items() if "trainable_tokens_delta" in n]
    assert deltas == [torch.Size([len(ids), d])] * 2
    assert all("lora_" in n or "trainable_tokens_delta" in n for n in trainable)
    # Events: the overall validation loss and each symbol's, at every evaluation.
    steps = [e for e in events if e.get("type") == "step" and e.get("eval_loss") is not None]
    assert steps and all(set(e["eval_loss_by"]) == {s.new_token for s in specs} for e in steps)
    last = steps[-1]["eval_loss_by"]
    for spec in specs:
        assert abs(last[spec.new_token] - validation_loss(peft_model, tokenizer, spec.validation_sentences)) < 1e-4
    assert trained.result.steps == 3 and 0 < trained.result.cos_input_before_after < 1


def test_group_losses_are_each_groups_validation_loss(tiny):
    model, tokenizer = tiny
    groups = {"a": ["The wool shop sells yarn.", "She went to the market."], "b": ["He brushes his teeth."]}
    losses = group_losses(model, tokenizer, groups)
    for name, texts in groups.items():
        assert abs(losses[name] - validation_loss(model, tokenizer, texts)) < 1e-5
