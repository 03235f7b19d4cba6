"""QLoRA fine-tuning on the tiny random Llama: the loss goes down, only LoRA and the token's two
rows change, gradients survive evaluation, the best step comes back, stop is prompt."""

from __future__ import annotations

import math

import pytest
import torch

from core.spec.errors import InputError
from core.train.events import StepRecorder
from core.train.finetune import FinetuneConfig, train, validation_loss
from core.train.qlora import prepare, token_rows
from core.model.tokens import add_token


@pytest.fixture
def with_token(tiny, tiny_spec):
    model, tokenizer = tiny
    g = torch.Generator().manual_seed(1)
    d = model.config.hidden_size
    token_id = add_token(model, tokenizer, tiny_spec.new_token,
                         torch.randn(d, generator=g) * 0.05, torch.randn(d, generator=g) * 0.05)
    return model, tokenizer, token_id


def test_defaults_are_the_research_configuration():
    c = FinetuneConfig()
    assert (c.learning_rate, c.epochs, c.batch_size, c.grad_accum, c.lr_scheduler, c.warmup_ratio,
            c.weight_decay, c.eval_every, c.lora_r, c.lora_alpha, c.lora_dropout, c.use_rslora, c.lora_targets) == \
        (3e-4, 10, 10, 3, "cosine", 0.03, 0.0, 1, 8, 32, 0.05, True, "attention")
    assert FinetuneConfig.from_dict(c.to_dict()) == c
    assert FinetuneConfig(epochs=3.0).epochs == 3  # widgets send whole numbers as floats


def test_bad_settings_are_all_named_at_once():
    with pytest.raises(InputError) as err:
        FinetuneConfig(learning_rate=0.0, epochs=0, lora_dropout=float("nan"), lr_scheduler="zigzag",
                       batch_size=True, use_rslora="yes")
    assert set(err.value.fields) == {"learning_rate", "epochs", "lora_dropout", "lr_scheduler", "batch_size",
                                     "use_rslora"}
    for bad in (float("nan"), -1e-4, float("inf"), "3e-4"):
        with pytest.raises(InputError) as err:
            FinetuneConfig(learning_rate=bad)
        assert err.value.fields == ["learning_rate"]
    with pytest.raises(InputError) as err:
        FinetuneConfig.from_dict({"epochs": 2, "learnin_rate": 1e-3})
    assert err.value.fields == ["learnin_rate"]
    with pytest.raises(InputError) as err:
        FinetuneConfig(batch_size=5).check_data(n_train=4, n_val=1)
    assert err.value.fields == ["batch_size"] and "use at most 4" in str(err.value)


def test_steps_per_epoch_counts_like_the_trainer():
    c = FinetuneConfig(batch_size=10, grad_accum=3)
    assert [c.steps_per_epoch(n) for n in (10, 30, 31, 61, 90)] == [1, 1, 2, 3, 3]


def _snapshot(model) -> dict[str, torch.Tensor]:
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state["effective_input"] = model.get_input_embeddings().weight.detach().clone()
    state["effective_output"] = model.get_output_embeddings().weight.detach().clone()
    return state


def test_two_steps_lower_the_loss_and_change_only_lora_and_the_token_rows(with_token, tiny_spec):
    model, tokenizer, token_id = with_token
    base_input = model.get_input_embeddings().weight.detach().clone()
    config = FinetuneConfig(epochs=1, batch_size=2, grad_accum=1, learning_rate=2e-2, warmup_ratio=0.0,
                            restore_best=False)
    peft_model = prepare(model, token_id, config)
    # The 4-bit copy starts with the full-precision model's rows, and every other row too.
    assert torch.equal(token_rows(peft_model, token_id)[0], token_rows(model, token_id)[0])
    assert torch.equal(peft_model.get_output_embeddings().weight, model.get_output_embeddings().weight)
    before = _snapshot(peft_model)
    loss_before = validation_loss(peft_model, tokenizer, tiny_spec.fine_tuning_sentences)

    result = train(peft_model, tokenizer, token_id, tiny_spec, config)
    assert result.steps == 2 and result.max_steps == 2
    loss_after = validation_loss(peft_model, tokenizer, tiny_spec.fine_tuning_sentences)
    assert loss_after < loss_before - 1e-3

    after = _snapshot(peft_model)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    trainable = {k for k in changed if "lora_" in k or "trainable_tokens_delta" in k}
    assert changed - trainable == {"effective_input", "effective_output"}
    assert any("lora_B" in k for k in trainable) and sum("trainable_tokens_delta" in k for k in trainable) == 2
    # Every other row of both matrices is bit-identical; the token's two rows moved.
    for name in ("effective_input", "effective_output"):
        differs = (before[name] != after[name]).any(dim=1).nonzero().flatten().tolist()
        assert differs == [token_id], name
    rows = token_rows(peft_model, token_id)
    assert torch.equal(rows[0], after["effective_input"][token_id])
    assert torch.equal(rows[1], after["effective_output"][token_id])
    # Quantizing worked on a copy: the full-precision model is as it was.
    assert torch.equal(model.get_input_embeddings().weight, base_input)
    assert not any(p.requires_grad for n, p in peft_model.named_parameters()
                   if "lora_" not in n and "trainable_tokens_delta" not in n)


def test_linear_layers_are_4bit_and_embeddings_full_precision(with_token):
    import bitsandbytes as bnb

    model, _, token_id = with_token
    peft_model = prepare(model, token_id, FinetuneConfig())
    base = peft_model.get_base_model()
    layer = base.model.layers[0]
    for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
        assert isinstance(getattr(layer.self_attn, name).base_layer, bnb.nn.Linear4bit)
    assert isinstance(layer.mlp.up_proj, bnb.nn.Linear4bit)
    assert layer.self_attn.q_proj.base_layer.weight.quant_state.nested  # double quantization
    assert layer.self_attn.q_proj.base_layer.weight.quant_state.quant_type == "nf4"
    assert base.model.embed_tokens.weight.dtype == torch.float32
    assert base.lm_head.weight.dtype == torch.float32
    assert not base.config.tie_word_embeddings
    assert base.lm_head.weight.data_ptr() != base.model.embed_tokens.weight.data_ptr()


def _grads(model, batch) -> dict[str, torch.Tensor]:
    model.train()
    model.zero_grad()
    model(**batch, labels=batch["input_ids"]).loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def test_gradients_survive_an_evaluation(with_token, tiny_spec):
    """Evaluating in eval mode must not switch the 4-bit layers to a kernel without a backward pass."""
    from bitsandbytes.functional import has_avx512bf16

    model, tokenizer, token_id = with_token
    peft_model = prepare(model, token_id, FinetuneConfig(lora_dropout=0.0))
    batch = dict(tokenizer(tiny_spec.fine_tuning_sentences[:2], return_tensors="pt", padding=True))

    def evaluate_once():
        peft_model.eval()
        with torch.no_grad():
            peft_model(**batch)

    first = _grads(peft_model, batch)
    evaluate_once()
    second = _grads(peft_model, batch)
    for name in first:
        assert torch.allclose(first[name], second[name], atol=1e-6, rtol=1e-5), name
    if has_avx512bf16():
        # Without our guard, the same sequence loses the gradient paths through the 4-bit layers
        # (with bitsandbytes' own forward: ``keep_dequantized``'s never reaches that kernel).
        for module in peft_model.modules():
            if hasattr(module, "support_avx512bf16_for_cpu"):
                module.support_avx512bf16_for_cpu = True
                vars(module).pop("forward", None)
        evaluate_once()
        with pytest.warns(UserWarning):
            third = _grads(peft_model, batch)
        assert any(not torch.allclose(first[n], third[n], atol=1e-6, rtol=1e-5) for n in first)


def test_events_stop_and_best_step(with_token, tiny_spec):
    model, tokenizer, token_id = with_token
    config = FinetuneConfig(epochs=50, batch_size=2, grad_accum=1, learning_rate=3e-2)
    events: list[dict] = []
    peft_model = prepare(model, token_id, config)
    result = train(peft_model, tokenizer, token_id, tiny_spec, config, on_event=events.append,
                   should_stop=lambda: any(e["step"] >= 4 for e in events))
    # Asked to stop once step 4 was reported: step 5 is the last one.
    assert result.stopped and result.steps == 5 and result.max_steps == 100
    assert [e["step"] for e in events] == [0, 1, 2, 3, 4, 5]
    for e in events:
        assert set(e) >= {"step", "epoch", "loss", "eval_loss", "learning_rate", "elapsed", "eta"}
        assert e["epoch"] == e["step"] / result.steps_per_epoch
        assert e["eval_loss"] is not None  # evaluated every step, and once before the first
    assert events[0]["loss"] is None and all(e["loss"] > 0 for e in events[1:])
    losses = [e["eval_loss"] for e in events]
    assert result.best_eval_loss == min(losses) and losses[result.best_step] == min(losses)
    assert result.best_epoch == result.best_step / 2 and result.initial_eval_loss == losses[0]
    assert result.train_loss_at_best == events[result.best_step]["loss"]
    assert result.restored_best == (result.best_step != 5)
    # The model now is the best step's: an independent evaluation gives the recorded loss.
    assert math.isclose(validation_loss(peft_model, tokenizer, tiny_spec.validation_sentences),
                        result.best_eval_loss, rel_tol=1e-5)


@pytest.mark.parametrize("low", [False, True], ids=["float32 output", "output in the compute dtype"])
def test_row_forward_gives_peft_numbers(with_token, tiny_spec, monkeypatch, low):
    """Our forward for the token rows gives PEFT's logits and gradients (its own path is the reference):
    exactly with a float32 output layer; with its frozen rows in bfloat16, the token's own logits
    exactly and everything else to bfloat16's rounding (a relative 2⁻⁸)."""
    from peft.tuners.trainable_tokens.layer import TrainableTokensLayer

    from core.train import qlora

    monkeypatch.setattr(qlora, "OUTPUT_IN_COMPUTE_DTYPE", low)
    model, tokenizer, token_id = with_token
    peft_model = prepare(model, token_id, FinetuneConfig(lora_dropout=0.0, compute_dtype="bfloat16"))
    output = peft_model.get_output_embeddings().token_adapter
    assert ("_glosslab_frozen_low" in vars(output)) is low
    layers = [m for m in peft_model.modules() if isinstance(m, TrainableTokensLayer)]
    assert len(layers) == 2 and all("forward_adapters" in vars(m) for m in layers)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for layer in layers:
            layer.trainable_tokens_delta["default"].add_(torch.randn(1, 64, generator=g))
    batch = dict(tokenizer(tiny_spec.fine_tuning_sentences, return_tensors="pt", padding=True))
    assert (batch["input_ids"] == token_id).any()

    def run():
        grads = _grads(peft_model, batch)
        peft_model.eval()
        with torch.no_grad():
            logits = peft_model(**batch).logits
        return logits, grads

    fast_logits, fast_grads = run()
    for layer in layers:
        del layer.forward_adapters  # back to PEFT's own method
    peft_logits, peft_grads = run()
    assert fast_grads.keys() == peft_grads.keys()
    if not low:
        assert torch.allclose(fast_logits, peft_logits, atol=1e-5, rtol=1e-5)
        for name in peft_grads:
            assert torch.allclose(fast_grads[name], peft_grads[name], atol=1e-6, rtol=1e-4), name
    else:
        assert fast_logits.dtype == torch.float32
        assert torch.allclose(fast_logits[..., token_id], peft_logits[..., token_id], atol=1e-5, rtol=1e-5)
        assert torch.allclose(fast_logits, peft_logits, atol=2 ** -8 * peft_logits.abs().max().item(), rtol=0)
        assert not torch.equal(fast_logits, peft_logits)  # the frozen rows really ran in bfloat16
        for name in peft_grads:
            gap = (fast_grads[name] - peft_grads[name]).norm() / peft_grads[name].norm().clamp_min(1e-12)
            assert gap < 2e-2, (name, float(gap))
    assert any(peft_grads[n].abs().sum() > 0 for n in peft_grads if "trainable_tokens_delta" in n)


def test_a_shared_4bit_base_gives_the_same_model(with_token, tiny_spec):
    """A comparison quantizes once; a member started from that copy equals one quantized anew."""
    import copy

    from core.train.qlora import compute_dtype, quantize_4bit

    model, tokenizer, token_id = with_token
    config = FinetuneConfig()
    other = copy.deepcopy(model)  # another strategy's start: only the token's rows differ
    with torch.no_grad():
        other.get_input_embeddings().weight[token_id] = 1.0
        other.get_output_embeddings().weight[token_id] = -1.0
    shared = quantize_4bit(other, compute_dtype(config, "cpu"), "cpu")
    fresh = prepare(model, token_id, config)
    reused = prepare(model, token_id, config, quantized=shared)
    batch = dict(tokenizer(tiny_spec.fine_tuning_sentences, return_tensors="pt", padding=True))
    fresh.eval()
    reused.eval()
    with torch.no_grad():
        assert torch.equal(fresh(**batch).logits, reused(**batch).logits)
    assert shared.get_input_embeddings().weight[token_id].eq(1.0).all()  # the shared copy is untouched


class _FakeModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))
        self.frozen = torch.nn.Parameter(torch.zeros(3), requires_grad=False)


def test_recorder_keeps_and_restores_the_best_evaluation():
    class State:
        max_steps = 3
        global_step = 0

    class Control:
        should_evaluate = True
        should_training_stop = False

    model, seen = _FakeModel(), []
    rec = StepRecorder(seen.append, None, steps_per_epoch=1)
    rec._on_train_begin(None, State, Control)
    for step, (train_loss, eval_loss) in enumerate([(None, 3.0), (2.0, 1.0), (1.5, 2.0)]):
        State.global_step = step
        with torch.no_grad():
            model.w.fill_(step)
        if train_loss is not None:
            rec._on_step_end(None, State, Control)
            rec._on_log(None, State, Control, logs={"loss": train_loss, "learning_rate": 0.1}, model=model)
        rec._on_log(None, State, Control, logs={"eval_loss": eval_loss}, model=model)
    assert [(e["step"], e["loss"], e["eval_loss"]) for e in seen] == [(0, None, 3.0), (1, 2.0, 1.0), (2, 1.5, 2.0)]
    assert rec.best_step == 1 and rec.restore(model)
    assert model.w.tolist() == [1.0, 1.0, 1.0] and "frozen" not in rec.best_state


def test_a_batch_larger_than_the_data_is_refused_before_any_work(with_token, tiny_spec):
    from core.train.finetune import finetune

    model, tokenizer, token_id = with_token
    with pytest.raises(InputError) as err:
        finetune(model, tokenizer, token_id, tiny_spec, FinetuneConfig(batch_size=50))
    assert err.value.fields == ["batch_size"]


def test_early_stopping_ends_when_the_validation_loss_stops_improving(with_token, tiny_spec):
    """Train until converged: at most ``epochs``, stopping after ``patience`` evaluations without a new best."""
    model, tokenizer, token_id = with_token
    patience = 2
    # A learning rate this high overshoots: the validation loss soon stops improving.
    config = FinetuneConfig(epochs=40, batch_size=2, grad_accum=1, learning_rate=0.5, early_stopping_patience=patience)
    events: list[dict] = []
    result = train(prepare(model, token_id, config), tokenizer, token_id, tiny_spec, config, on_event=events.append)
    losses = [e["eval_loss"] for e in events]
    assert result.early_stopped and not result.stopped and result.steps < result.max_steps == 80
    # It stopped exactly ``patience`` evaluations after the last new best, counted from the first
    # step's evaluation (the one before training is not part of the count).
    best_seen, since_best, stop_at = math.inf, 0, None
    for step, loss in enumerate(losses[1:], start=1):
        if loss < best_seen:
            best_seen, since_best = loss, 0
        else:
            since_best += 1
        if since_best >= patience:
            stop_at = step
            break
    assert stop_at == result.steps
    assert FinetuneConfig().early_stopping_patience == 0  # the research default trains every epoch


@pytest.mark.parametrize("eval_batch_size", [1, 2, 4])
def test_validation_loss_is_a_mean_over_tokens_whatever_the_evaluation_batches(with_token, tiny_spec, eval_batch_size):
    """Sentences of very different lengths in batches of 1, 2 or 4: the recorded eval_loss is the
    token-weighted loss of an independent evaluation, not a mean of the batches' means."""
    from dataclasses import replace

    from core.train.finetune import text_losses

    model, tokenizer, token_id = with_token
    long = "She walked all the way across the busy town to the [BLISS_29111] on the corner, where the wool is soft."
    spec = replace(tiny_spec, validation_sentences=["The [BLISS_29111] sells wool.", "It is the [BLISS_29111].",
                                                    long, long + " It was warm."])  # short batches, long batches
    config = FinetuneConfig(epochs=1, batch_size=2, grad_accum=1, eval_batch_size=eval_batch_size, learning_rate=1e-2)
    events: list[dict] = []
    peft_model = prepare(model, token_id, config)
    sentences = text_losses(peft_model, tokenizer, spec.validation_sentences)
    by_tokens = sum(s for s, _ in sentences) / sum(n for _, n in sentences)
    by_sentences = sum(s / n for s, n in sentences) / len(sentences)
    assert abs(by_tokens - by_sentences) > 1e-3 * by_tokens   # the two weightings differ on these sentences
    train(peft_model, tokenizer, token_id, spec, config, on_event=events.append)
    # Padding in smaller batches changes the bfloat16 sums a little (1e-4); the weighting would be ~2e-3.
    assert math.isclose(events[0]["eval_loss"], by_tokens, rel_tol=3e-4)
