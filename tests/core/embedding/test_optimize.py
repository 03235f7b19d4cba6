"""The optimized input embedding: the cached, batched loss and gradient equal the uncached ones."""

from __future__ import annotations

import json
import math

import pytest
import torch

from core.embedding.contexts import encode, last_hidden
from core.embedding.optimize import (PrefixCache, appended_hidden, cached_targets, cosine_loss, frozen, full_targets,
                           gloss_ids, optimize_input_embedding, reference_optimize)


@pytest.fixture
def contexts(tiny_spec):
    return tiny_spec.positive_contexts + tiny_spec.validation_contexts


def test_contexts_have_different_lengths(tiny, contexts):
    _, tokenizer = tiny
    assert len({len(ids) for ids in encode(tokenizer, contexts)}) >= 3


def test_cached_targets_equal_full_forward_of_context_and_gloss(tiny, tiny_spec, contexts):
    model, tokenizer = tiny
    ids = encode(tokenizer, contexts)
    glosses = gloss_ids(tokenizer, tiny_spec)
    with frozen(model):
        cached = cached_targets(PrefixCache(model, ids, chunk_size=3), glosses)
        full = full_targets(model, ids, glosses)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-5)
    # And the same as reading the context and the gloss as one text.
    texts = [c + g for c in contexts for g in tiny_spec.gloss_texts]
    torch.testing.assert_close(cached, last_hidden(model, tokenizer, texts).view_as(cached), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("subset", [None, [5, 0, 3], [1]])
def test_batched_cached_loss_and_gradient_equal_uncached_ones(tiny, tiny_spec, contexts, subset):
    model, tokenizer = tiny
    ids = encode(tokenizer, contexts)
    rows = list(range(len(ids))) if subset is None else subset
    glosses = gloss_ids(tokenizer, tiny_spec)
    start = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(3))
    with frozen(model):
        cache = PrefixCache(model, ids, chunk_size=2)
        targets = full_targets(model, ids, glosses)
        if subset is not None:
            cache = cache.select(rows)
        fast_e = start.clone().requires_grad_(True)
        fast_loss = cosine_loss(cache.hidden(fast_e), targets[rows])
        fast_loss.backward()

        slow_e = start.clone().requires_grad_(True)
        slow_loss = sum(cosine_loss(appended_hidden(model, ids[i], slow_e).unsqueeze(0), targets[i : i + 1])
                        for i in rows) / len(rows)
        slow_loss.backward()
    torch.testing.assert_close(fast_loss, slow_loss, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(fast_e.grad, slow_e.grad, atol=1e-5, rtol=1e-4)
    assert fast_e.grad.norm() > 1e-4  # a real gradient, not zeros on both sides


def test_minibatch_index_equals_selected_cache(tiny, contexts):
    model, tokenizer = tiny
    ids = encode(tokenizer, contexts)
    e = torch.randn(model.config.hidden_size)
    with frozen(model), torch.no_grad():
        cache = PrefixCache(model, ids)
        by_index = cache.hidden(e, torch.tensor([4, 2]))
        by_select = cache.select([4, 2]).hidden(e)
        one = appended_hidden(model, ids[2], e)
    torch.testing.assert_close(by_index, by_select, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(by_index[1], one, atol=1e-5, rtol=1e-5)


def _average_start(model, tokenizer, spec):
    weight = model.get_input_embeddings().weight.detach()
    return torch.stack([weight[g].mean(0) for g in gloss_ids(tokenizer, spec)]).mean(0)


def test_optimization_lowers_the_loss_and_reports_every_epoch(tiny, tiny_spec):
    model, tokenizer = tiny
    seen = []
    result = optimize_input_embedding(model, tokenizer, tiny_spec, lr=0.05, epochs=12,
                                      init=torch.zeros(model.config.hidden_size), on_epoch=seen.append)
    assert [h["epoch"] for h in seen] == list(range(1, 13))
    assert all(set(h) >= {"epoch", "epochs", "train_loss", "val_loss"} and h["epochs"] == 12 for h in seen)
    assert result.history == seen
    assert result.history[-1]["train_loss"] < 0.5 * result.history[0]["train_loss"]
    assert result.best_val_loss < result.initial_val_loss
    assert result.best_val_loss == min(h["val_loss"] for h in result.history)
    assert result.history[result.best_epoch - 1]["val_loss"] == result.best_val_loss
    assert json.loads(json.dumps(result.to_dict()))["best_epoch"] == result.best_epoch


def test_best_vector_is_the_one_with_the_lowest_validation_loss(tiny, tiny_spec):
    model, tokenizer = tiny
    result = optimize_input_embedding(model, tokenizer, tiny_spec, lr=0.05, epochs=6,
                                      init=_average_start(model, tokenizer, tiny_spec))
    with frozen(model), torch.no_grad():
        ids = encode(tokenizer, tiny_spec.validation_contexts)
        targets = full_targets(model, ids, gloss_ids(tokenizer, tiny_spec))
        val = sum(float(cosine_loss(appended_hidden(model, x, result.vector)[None], targets[i : i + 1]))
                  for i, x in enumerate(ids)) / len(ids)
    assert val == pytest.approx(result.best_val_loss, abs=1e-5)


@pytest.mark.parametrize("batch_size", [64, 2])
def test_fast_and_reference_optimizations_follow_the_same_path(tiny, tiny_spec, batch_size):
    model, tokenizer = tiny
    start = _average_start(model, tokenizer, tiny_spec)
    kwargs = dict(lr=0.02, epochs=4, init=start, batch_size=batch_size)
    fast = optimize_input_embedding(model, tokenizer, tiny_spec, **kwargs)
    slow = reference_optimize(model, tokenizer, tiny_spec, **kwargs)
    for a, b in zip(fast.history, slow.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-5)
    assert fast.best_epoch == slow.best_epoch
    torch.testing.assert_close(fast.vector, slow.vector, atol=1e-4, rtol=1e-4)


def test_model_is_left_as_it_was(tiny, tiny_spec):
    model, tokenizer = tiny
    model.train()
    flags = [p.requires_grad for p in model.parameters()]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimize_input_embedding(model, tokenizer, tiny_spec, lr=0.05, epochs=2,
                             init=torch.zeros(model.config.hidden_size))
    assert model.training
    assert [p.requires_grad for p in model.parameters()] == flags
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": 0.0}, "lr"), ({"lr": math.nan}, "lr"), ({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size")])
def test_bad_settings_are_refused(tiny, tiny_spec, kwargs, message):
    model, tokenizer = tiny
    settings = {"lr": 0.01, "epochs": 2, "init": torch.zeros(model.config.hidden_size), **kwargs}
    with pytest.raises(ValueError, match=message):
        optimize_input_embedding(model, tokenizer, tiny_spec, **settings)
