"""The initialization's passes in bfloat16: checked against the model's own forward pass under
autocast, one text at a time; the fit stays exact for the embeddings it was given; a fit of another
precision is never reused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.embedding.contexts import last_hidden, logits_from_hidden
from core.embedding.output import output_embedding, target_ids
from core.embedding.precision import passes_in
from core.embedding.strategies import InitConfig, initial_rows


def _autocast_one_by_one(model, tokenizer, texts):
    """The last position's final hidden state of the full model, one unpadded text at a time."""
    rows = []
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for text in texts:
            ids = torch.tensor([tokenizer.encode(text, add_special_tokens=False)])
            rows.append(model(input_ids=ids, output_hidden_states=True).hidden_states[-1][0, -1].float())
    return torch.stack(rows)


def _relative(a, b):
    return float(((a - b).norm(dim=1) / b.norm(dim=1)).max())


def test_bfloat16_pass_matches_autocast_forward_and_differs_from_float32(tiny, tiny_spec):
    model, tokenizer = tiny
    texts = tiny_spec.positive_contexts + tiny_spec.negative_contexts
    got = last_hidden(model, tokenizer, texts, batch_size=3, precision="bfloat16")
    expected = _autocast_one_by_one(model, tokenizer, texts)
    full = last_hidden(model, tokenizer, texts)
    assert got.dtype == torch.float32
    assert _relative(got, expected) < 1e-2          # batching and padding: bfloat16 rounding at most
    assert 1e-4 < _relative(got, full) < 5e-2       # really another precision, and close to float32
    # Outside the block, nothing is left in bfloat16.
    assert last_hidden(model, tokenizer, texts).equal(full)


def test_passes_in_is_a_no_op_for_the_model_precision_and_refuses_unknown_names(tiny):
    model, _ = tiny
    with passes_in(model, "model"):
        assert not torch.is_autocast_enabled("cpu")
    with passes_in(model, "bfloat16"):
        assert torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="precision"):
        with passes_in(model, "float8"):
            pass


def test_bfloat16_fit_is_exact_for_its_own_embeddings(tiny, tiny_spec):
    model, tokenizer = tiny
    fit = output_embedding(model, tokenizer, tiny_spec, precision="bfloat16")
    contexts = tiny_spec.positive_contexts + tiny_spec.negative_contexts
    hidden = last_hidden(model, tokenizer, contexts, precision="bfloat16")
    # Targets: float32 logits of the output layer on those same embeddings.
    ids = target_ids(tokenizer, tiny_spec)
    positives = logits_from_hidden(model, hidden[: len(tiny_spec.positive_contexts)])[:, ids].max(dim=1).values
    np.testing.assert_allclose(fit.targets[: len(positives)].numpy(), positives.numpy(), atol=1e-4)
    expected, *_ = np.linalg.lstsq(hidden.double().numpy(), fit.targets.double().numpy(), rcond=None)
    np.testing.assert_allclose(fit.vector.double().numpy(), expected, rtol=1e-4, atol=1e-5)
    assert fit.residual < 1e-4
    assert fit.precision == "bfloat16" and fit.to_dict()["precision"] == "bfloat16"
    # Not the float32 row: a fit of one precision is not a fit of the other.
    assert not torch.allclose(fit.vector, output_embedding(model, tokenizer, tiny_spec).vector, atol=1e-4)


def test_a_fit_of_another_precision_is_computed_again(tiny, tiny_spec):
    model, tokenizer = tiny
    float_fit = output_embedding(model, tokenizer, tiny_spec)
    rows = initial_rows(model, tokenizer, tiny_spec, InitConfig(precision="bfloat16"), output_fit=float_fit)
    assert rows.output_fit.precision == "bfloat16" and "output_fit_shared" not in rows.details
    again = initial_rows(model, tokenizer, tiny_spec, InitConfig(precision="bfloat16"), output_fit=rows.output_fit)
    assert again.details.get("output_fit_shared") is True
    assert torch.equal(again.output_row, rows.output_row)


def test_optimized_in_bfloat16_keeps_a_float32_vector_and_learns(tiny, tiny_spec):
    model, tokenizer = tiny
    config = InitConfig(strategy="optimized", opt_epochs=8, opt_lr=0.05, precision="model")
    full = initial_rows(model, tokenizer, tiny_spec, config)
    half = initial_rows(model, tokenizer, tiny_spec, InitConfig(**{**config.to_dict(), "precision": "bfloat16"}))
    assert half.input_row.dtype == torch.float32
    losses = [e["train_loss"] for e in half.details["history"]]
    assert losses[-1] < losses[0]
    # The same optimization, to bfloat16 rounding of the passes.
    assert float(torch.nn.functional.cosine_similarity(half.input_row, full.input_row, dim=0)) > 0.99
    assert not torch.equal(half.input_row, full.input_row)


def _profile(native: bool) -> dict:
    return {"cpu": "test cpu", "flags": [], "float32_gflops": 89.0, "bfloat16_gflops": 89.0 if native else 1.2,
            "bf16_native": native, "slowdown": 1.0 if native else 74.2}


@pytest.mark.parametrize("native, expected", [(True, "bfloat16"), (False, "model")])
def test_auto_is_bfloat16_only_where_the_cpu_multiplies_it_natively(tiny, monkeypatch, native, expected):
    from core.embedding.precision import resolve_precision
    from core.model import hardware

    model, _ = tiny
    monkeypatch.delenv("GLOSSLAB_AUTO_PRECISION", raising=False)
    monkeypatch.setattr(hardware, "profile", lambda: _profile(native))
    assert resolve_precision("auto", model) == expected
    assert resolve_precision("model", model) == "model" and resolve_precision("bfloat16", model) == "bfloat16"
    with passes_in(model, "auto"):
        assert torch.is_autocast_enabled("cpu") is native


def test_an_explicit_bfloat16_on_a_cpu_without_it_warns_with_the_measured_slowdown(monkeypatch):
    from core.embedding.precision import precision_warning
    from core.model import hardware

    monkeypatch.setattr(hardware, "profile", lambda: _profile(False))
    text = precision_warning("bfloat16")
    assert "74.2 times slower" in text and "1.2 against 89 GFLOP/s" in text and "auto or model" in text
    assert precision_warning("auto") is None and precision_warning("model") is None
    monkeypatch.setattr(hardware, "profile", lambda: _profile(True))
    assert precision_warning("bfloat16") is None


def test_the_environment_can_fix_what_auto_means(tiny, monkeypatch):
    from core.embedding.precision import resolve_precision
    from core.model import hardware

    model, _ = tiny
    monkeypatch.setattr(hardware, "profile", lambda: _profile(True))
    monkeypatch.setenv("GLOSSLAB_AUTO_PRECISION", "model")
    assert resolve_precision("auto", model) == "model" and resolve_precision("bfloat16", model) == "bfloat16"
    monkeypatch.setenv("GLOSSLAB_AUTO_PRECISION", "nonsense")  # ignored: the machine decides
    assert resolve_precision("auto", model) == "bfloat16"
