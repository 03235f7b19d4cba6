"""core/train/qlora.py: the 4-bit copy, what is trainable, the token's rows, dtype and device choices.

tests/core/train/test_finetune.py already checks the PEFT model's layer types, the row forward against PEFT's
own path, gradients after an evaluation and the shared 4-bit base; this file covers the rest.
"""

from __future__ import annotations

import pytest
import torch

from core.spec.errors import InputError
from core.train.finetune import FinetuneConfig
from core.train.qlora import LORA_TARGETS, compute_dtype, pick_device, prepare, quantize_4bit, token_rows
from core.model.tokens import add_token
from tests.conftest import TOKEN


@pytest.fixture
def with_token(tiny):
    model, tokenizer = tiny
    g = torch.Generator().manual_seed(11)
    d = model.config.hidden_size
    token_id = add_token(model, tokenizer, TOKEN, torch.randn(d, generator=g), torch.randn(d, generator=g))
    return model, tokenizer, token_id


def _linear_shapes(model, names) -> list[tuple[int, int]]:
    """(in, out) of every nn.Linear of the full-precision model whose last name is in ``names``."""
    return [(m.in_features, m.out_features) for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and n.rsplit(".", 1)[-1] in names]


def test_quantize_4bit_makes_linear_layers_4bit_and_keeps_embeddings(with_token):
    import bitsandbytes as bnb

    model, _, token_id = with_token
    before = {k: v.clone() for k, v in model.state_dict().items()}
    q = quantize_4bit(model, torch.float32, "cpu")
    linears = {n: m for n, m in q.named_modules() if isinstance(m, torch.nn.Linear)}
    four_bit = {n for n, m in linears.items() if isinstance(m, bnb.nn.Linear4bit)}
    # Every linear layer of the transformer is 4-bit, the output layer is not.
    assert four_bit == {n for n in linears if n != "lm_head"}
    assert len(four_bit) == 7 * model.config.num_hidden_layers
    assert not isinstance(q.lm_head, bnb.nn.Linear4bit)
    for module in q.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            assert module.support_avx512bf16_for_cpu is False  # the training kernel is kept
            assert module.weight.quant_state.quant_type == "nf4" and module.weight.quant_state.nested
    # Embeddings and the output layer stay full precision, bit for bit, with the token's rows.
    assert q.get_input_embeddings().weight.dtype == torch.float32
    assert torch.equal(q.get_input_embeddings().weight, model.get_input_embeddings().weight)
    assert torch.equal(q.get_output_embeddings().weight, model.get_output_embeddings().weight)
    assert torch.equal(token_rows(q, token_id)[1], model.get_output_embeddings().weight[token_id])
    # NF4 is a close approximation of each weight (an independent dequantization).
    layer = q.model.layers[0].self_attn.q_proj
    w = bnb.functional.dequantize_4bit(layer.weight.data, layer.weight.quant_state).float()
    ref = model.model.layers[0].self_attn.q_proj.weight
    assert w.shape == ref.shape
    assert (w - ref).norm() / ref.norm() < 0.2
    # The full-precision model is not changed.
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_tied_embeddings_are_refused_naming_the_model(tiny):
    model, _ = tiny
    model.get_output_embeddings().weight = model.get_input_embeddings().weight
    model.config.tie_word_embeddings = True
    for call in (lambda: quantize_4bit(model, torch.float32, "cpu"),
                 lambda: prepare(model, 0, FinetuneConfig(), device="cpu")):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.fields == ["model"]
        assert "untie" in err.value.problems[0].fix


@pytest.mark.parametrize("targets", ["attention", "attention_mlp"])
def test_exactly_lora_and_the_two_token_rows_are_trainable(with_token, targets):
    model, _, token_id = with_token
    config = FinetuneConfig(lora_r=4, lora_targets=targets)
    peft_model = prepare(model, token_id, config, device="cpu")
    d = model.config.hidden_size
    # Independent count from the full-precision model: r * (in + out) per target layer, + 2 rows.
    lora = sum(config.lora_r * (i + o) for i, o in _linear_shapes(model, LORA_TARGETS[targets]))
    trainable = {n: p for n, p in peft_model.named_parameters() if p.requires_grad}
    assert sum(p.numel() for p in trainable.values()) == lora + 2 * d
    assert all("lora_A" in n or "lora_B" in n or "trainable_tokens_delta" in n for n in trainable)
    deltas = [p for n, p in trainable.items() if "trainable_tokens_delta" in n]
    assert len(deltas) == 2 and all(p.shape == (1, d) for p in deltas)
    wrapped = {n.rsplit(".", 1)[-1] for n, m in peft_model.named_modules() if hasattr(m, "lora_A")}
    assert wrapped == set(LORA_TARGETS[targets])
    assert peft_model.peft_config["default"].use_rslora is True
    # No other parameter, embeddings included, takes a gradient.
    assert not peft_model.get_base_model().model.embed_tokens.token_adapter.base_layer.weight.requires_grad


def test_token_rows_are_the_rows_that_were_set(with_token):
    model, _, token_id = with_token
    fp_in, fp_out = token_rows(model, token_id)
    assert torch.equal(fp_in, model.get_input_embeddings().weight[token_id])
    peft_model = prepare(model, token_id, FinetuneConfig(), device="cpu")
    inp, out = token_rows(peft_model, token_id)
    assert torch.equal(inp, fp_in) and torch.equal(out, fp_out)
    assert inp.dtype == torch.float32 and inp.device.type == "cpu" and not inp.requires_grad
    # After a change to the trainable rows, token_rows reports the trained values (not a difference).
    layer = peft_model.get_input_embeddings().token_adapter
    with torch.no_grad():
        layer.trainable_tokens_delta["default"].fill_(0.25)
    assert torch.equal(token_rows(peft_model, token_id)[0], torch.full_like(fp_in, 0.25))
    assert torch.equal(token_rows(peft_model, token_id)[1], fp_out)
    inp2, _ = token_rows(peft_model, token_id)
    inp2.zero_()  # a copy
    assert layer.trainable_tokens_delta["default"].eq(0.25).all()


def test_the_model_reads_and_scores_with_the_trainable_rows(with_token):
    """Independent of PEFT: the token's embedding is the trainable input row, and its logit is the
    last hidden state times the trainable output row (every other logit uses the frozen matrix, in
    the compute precision: to bfloat16's rounding where that is the compute dtype)."""
    model, tokenizer, token_id = with_token
    peft_model = prepare(model, token_id, FinetuneConfig(lora_dropout=0.0), device="cpu")
    d = model.config.hidden_size
    g = torch.Generator().manual_seed(4)
    new_in, new_out = torch.randn(d, generator=g), torch.randn(d, generator=g)
    with torch.no_grad():
        peft_model.get_input_embeddings().token_adapter.trainable_tokens_delta["default"][0] = new_in
        peft_model.get_output_embeddings().token_adapter.trainable_tokens_delta["default"][0] = new_out
    ids = torch.tensor([tokenizer.encode(f"She went to the {TOKEN} for wool", add_special_tokens=False)])
    position = (ids[0] == token_id).nonzero().item()
    peft_model.eval()
    with torch.no_grad():
        embedded = peft_model.get_input_embeddings()(ids)
        out = peft_model(input_ids=ids, output_hidden_states=True)
    frozen_in = model.get_input_embeddings().weight
    assert torch.equal(embedded[0, position], new_in)
    others = [i for i in range(ids.shape[1]) if i != position]
    assert torch.equal(embedded[0, others], frozen_in[ids[0, others]])
    hidden = out.hidden_states[-1][0]
    frozen_out = model.get_output_embeddings().weight
    assert torch.allclose(out.logits[0, :, token_id], hidden @ new_out, atol=1e-4, rtol=1e-4)
    expected = hidden @ frozen_out[:token_id].T
    atol = 1e-4 + (2 ** -8 * expected.abs().max().item() if compute_dtype(FinetuneConfig(), "cpu") != torch.float32
                   else 0.0)
    assert torch.allclose(out.logits[0, :, :token_id], expected, atol=atol, rtol=1e-4)
    # With the adapters switched off the frozen rows are used again.
    with peft_model.disable_adapter(), torch.no_grad():
        plain = peft_model(input_ids=ids, output_hidden_states=True)
        plain_embedded = peft_model.get_input_embeddings()(ids)
    assert torch.equal(plain_embedded[0, position], frozen_in[token_id])
    assert torch.allclose(plain.logits[0, :, token_id], plain.hidden_states[-1][0] @ frozen_out[token_id],
                          atol=1e-4, rtol=1e-4)


def test_prepare_is_reproducible_for_a_seed(with_token):
    model, _, token_id = with_token
    a = prepare(model, token_id, FinetuneConfig(seed=3), device="cpu")
    b = prepare(model, token_id, FinetuneConfig(seed=3), device="cpu")
    c = prepare(model, token_id, FinetuneConfig(seed=4), device="cpu")
    lora_a = {n: p for n, p in a.named_parameters() if "lora_A" in n}
    lora_b = dict(b.named_parameters())
    lora_c = dict(c.named_parameters())
    assert lora_a and all(torch.equal(p, lora_b[n]) for n, p in lora_a.items())
    assert any(not torch.equal(p, lora_c[n]) for n, p in lora_a.items())
    assert all(p.eq(0).all() for n, p in a.named_parameters() if "lora_B" in n)  # LoRA starts as a no-op


def test_compute_dtype_choices(monkeypatch):
    from core.model import hardware

    assert compute_dtype(FinetuneConfig(compute_dtype="float32"), "cpu") == torch.float32
    assert compute_dtype(FinetuneConfig(compute_dtype="bfloat16"), "cpu") == torch.bfloat16
    assert compute_dtype(FinetuneConfig(compute_dtype="float32"), "cuda") == torch.float32  # explicit wins
    auto = FinetuneConfig(compute_dtype="auto")
    # auto follows what this machine multiplies fast (measured), not its CPU flags alone
    assert compute_dtype(auto, "cpu") == (torch.bfloat16 if hardware.bf16_native("cpu") else torch.float32)
    monkeypatch.setattr(hardware, "bf16_native", lambda device: False)
    assert compute_dtype(auto, "cpu") == torch.float32
    monkeypatch.setattr(hardware, "bf16_native", lambda device: True)
    assert compute_dtype(auto, "cpu") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert compute_dtype(auto, "cuda") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert compute_dtype(auto, "cuda") == torch.float16


def test_pick_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == "cuda"


def test_the_4bit_layers_compute_in_the_chosen_dtype(with_token):
    model, _, token_id = with_token
    peft_model = prepare(model, token_id, FinetuneConfig(compute_dtype="float32"), device="cpu")
    q_proj = peft_model.get_base_model().model.layers[0].self_attn.q_proj.base_layer
    assert q_proj.compute_dtype == torch.float32



@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_kept_dequantized_matrices_give_the_numbers_of_bitsandbytes(with_token, dtype):
    """``keep_dequantized`` (applied by ``prepare``) changes the speed, never a logit or a gradient."""
    import bitsandbytes as bnb

    from core.train.qlora import keep_dequantized

    model, _, token_id = with_token
    config = FinetuneConfig(compute_dtype=dtype, lora_dropout=0.0)
    kept, plain = (prepare(model, token_id, config, device="cpu") for _ in range(2))
    plain_layers = [m for m in plain.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert plain_layers and all("forward" in vars(m) for m in plain_layers)
    for m in plain_layers:  # back to bitsandbytes' own forward (dequantize at every call)
        del m.forward
    ids = torch.tensor([[1, 5, token_id, 7, 9], [3, token_id, 2, 8, 4]])
    grads = []
    for peft_model in (kept, plain):
        peft_model.train()
        out = peft_model(input_ids=ids, labels=ids)
        out.loss.backward()
        grads.append((out.logits.detach(), {n: p.grad.clone() for n, p in peft_model.named_parameters()
                                             if p.requires_grad and p.grad is not None}))
    (logits_k, grads_k), (logits_p, grads_p) = grads
    assert torch.equal(logits_k, logits_p)
    assert grads_k.keys() == grads_p.keys() and all(torch.equal(grads_k[n], grads_p[n]) for n in grads_k)
    assert all("_glosslab_dequantized" in vars(m) for m in kept.modules() if isinstance(m, bnb.nn.Linear4bit))
    assert not keep_dequantized(plain, max_bytes=0)  # too big for the budget: nothing changes
    assert all("forward" not in vars(m) for m in plain_layers)
