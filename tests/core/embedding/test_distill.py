"""Token Distillation: the loss against two hand-selected forward passes, training, batching, errors."""

from __future__ import annotations

import pytest
import torch

from core.embedding.distill import distill, distill_many, resolve_layer, snippet_loss
from core.embedding.field_rows import subtoken_mean
from core.embedding.optimize import frozen
from core.embedding.snippets import Snippet, build_snippets, sentence_snippets
from core.spec.errors import InputError
from core.spec.gloss import DATA_DIR, GlossSpec

SMALL = dict(snippets=4, length=12, seed=0)


@pytest.fixture
def material(tiny, tiny_spec):
    model, tokenizer = tiny
    return build_snippets(model, tokenizer, tiny_spec, **SMALL)


def _by_hand(model, snippet: Snippet, e: torch.Tensor, index: int) -> torch.Tensor:
    """Sum of squared errors and count for one snippet: two full unbatched passes, positions by hand."""
    ids = list(snippet.ids)
    teacher = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[index][0]
    # The student: the phrase's sub-tokens replaced by one position holding e.
    k, errors, count = snippet.width, 0.0, 0
    rows, compared = [], []  # student rows (as embeddings) and the (teacher, student) positions compared
    embed = model.get_input_embeddings()
    i = 0
    while i < len(ids):
        if i in snippet.starts:
            rows.append(e.view(1, -1))
            compared.append((i + k - 1, len(rows) - 1))
            i += k
        else:
            rows.append(embed(torch.tensor([ids[i]])))
            if compared:
                compared.append((i, len(rows) - 1))
            i += 1
    student = model(inputs_embeds=torch.cat(rows).unsqueeze(0), output_hidden_states=True).hidden_states[index][0]
    for t, s in compared:
        errors = errors + (student[s] - teacher[t]).pow(2).sum()
        count += student.shape[-1]
    return errors, count


@pytest.mark.parametrize("layer", [-1, -2, 1, 2])
def test_the_loss_equals_two_unbatched_passes_with_positions_by_hand(tiny, material, layer):
    model, tokenizer = tiny
    # Snippets of different lengths and sources, one with the phrase twice.
    twice = Snippet(tuple(material[0].ids) + tuple(material[0].ids[1:]),
                    (material[0].starts[0], len(material[0].ids) - 1 + material[0].starts[0]), material[0].width)
    chosen = [material[0], material[1], material[-1], twice]
    e0 = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(1)) * 0.05
    index = resolve_layer(model, layer)
    with frozen(model):
        fast_e = e0.clone().requires_grad_(True)
        fast = snippet_loss(model, chosen, fast_e, layer=layer)
        fast.backward()
        slow_e = e0.clone().requires_grad_(True)
        parts = [_by_hand(model, s, slow_e, index) for s in chosen]
        slow = sum(p[0] for p in parts) / sum(p[1] for p in parts)
        slow.backward()
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(fast_e.grad, slow_e.grad, rtol=1e-4, atol=1e-7)
    assert fast_e.grad.norm() > 0


def test_layers_count_from_the_end_and_the_last_is_the_normed_output(tiny):
    model, _ = tiny
    assert [resolve_layer(model, layer) for layer in (-1, -2, 1, 2)] == [2, 1, 1, 2]
    ids = torch.tensor([[5, 9, 11]])
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
        last = model.model(input_ids=ids).last_hidden_state
    assert len(out.hidden_states) == 3  # the embeddings, then one per layer
    torch.testing.assert_close(out.hidden_states[2], last)
    torch.testing.assert_close(model.model.norm(out.hidden_states[1]) * 0 + out.hidden_states[1],
                               out.hidden_states[1])
    assert not torch.allclose(out.hidden_states[1], last)


def _hand_loop(model, snippets, start, *, lr, seed, steps):
    """The published loop written plainly: one snippet a step, both passes every step, AdamW."""
    e = start.clone().requires_grad_(True)
    optimizer = torch.optim.AdamW([e], lr=lr, weight_decay=0.0)
    order = torch.randperm(len(snippets), generator=torch.Generator().manual_seed(seed)).tolist()
    index = resolve_layer(model, -1)
    with frozen(model):
        for i in order[:steps]:
            optimizer.zero_grad()
            errors, count = _by_hand(model, snippets[i], e, index)
            (errors / count).backward()
            optimizer.step()
    return e.detach()


def test_distill_follows_the_published_loop_and_lowers_the_loss(tiny, tiny_spec, material):
    model, tokenizer = tiny
    start = subtoken_mean(model, tokenizer, tiny_spec)
    result = distill(model, tokenizer, tiny_spec, **SMALL, lr=1e-2, snippet_set=material)
    assert len(result.steps) == len(material) and len(result.history) == 1
    by_hand = _hand_loop(model, material, start, lr=1e-2, seed=0, steps=len(material))
    torch.testing.assert_close(result.vector, by_hand, rtol=1e-4, atol=1e-5)
    with torch.no_grad(), frozen(model):
        before = float(snippet_loss(model, material, start))
        after = float(snippet_loss(model, material, result.vector))
    assert after < 0.9 * before


def test_distill_is_deterministic_frozen_and_leaves_the_random_state(tiny, tiny_spec):
    model, tokenizer = tiny
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    state = torch.random.get_rng_state()
    a = distill(model, tokenizer, tiny_spec, **SMALL, lr=1e-2)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = distill(model, tokenizer, tiny_spec, **SMALL, lr=1e-2)
    assert torch.equal(a.vector, b.vector) and a.steps == b.steps
    c = distill(model, tokenizer, tiny_spec, **{**SMALL, "seed": 1}, lr=1e-2)
    assert not torch.equal(a.vector, c.vector)
    assert all(torch.equal(p, weights[n]) and p.requires_grad for n, p in model.named_parameters())
    assert a.settings["snippets_built"] == len(tiny_spec.fine_tuning_sentences) + SMALL["snippets"]


def test_callbacks_report_like_the_optimized_strategy(tiny, tiny_spec, material):
    model, tokenizer = tiny
    epochs, steps = [], []
    distill(model, tokenizer, tiny_spec, **SMALL, epochs=2, batch_size=3, snippet_set=material,
            on_epoch=epochs.append, on_step=steps.append)
    assert [set(e) for e in epochs] == [{"epoch", "epochs", "train_loss", "val_loss", "seconds"}] * 2
    per_epoch = -(-len(material) // 3)
    assert [s["step"] for s in steps] == list(range(1, 2 * per_epoch + 1))
    assert steps[-1]["epoch"] == 2 and steps[0]["steps"] == 2 * per_epoch


def _specs():
    names = ("wool_shop", "to_brush_teeth", "lowness_shortness")
    return [GlossSpec.load(DATA_DIR / f"{name}.json") for name in names]


def test_many_symbols_together_equal_each_alone(tiny):
    model, tokenizer = tiny
    specs = _specs()
    sets = [sentence_snippets(tokenizer, spec)[: 3 + k] for k, spec in enumerate(specs)]
    kwargs = dict(**SMALL, lr=1e-2, epochs=2, batch_size=2)
    together = distill_many(model, tokenizer, specs, snippet_sets=sets, max_rows=3, **kwargs)
    for spec, snippets, result in zip(specs, sets, together):
        alone = distill(model, tokenizer, spec, snippet_set=snippets, **kwargs)
        torch.testing.assert_close(result.vector, alone.vector, rtol=1e-5, atol=1e-6)
        assert result.steps == pytest.approx(alone.steps, rel=1e-5, abs=1e-7)
        assert not torch.equal(result.vector, subtoken_mean(model, tokenizer, spec))
    # Grouped into several teacher caches, the same again.
    grouped = distill_many(model, tokenizer, specs, snippet_sets=sets, max_snippets=4, **kwargs)
    for a, b in zip(together, grouped):
        torch.testing.assert_close(a.vector, b.vector, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("setting, value, field", [
    ("snippets", 0, "distill_snippets"), ("length", -1, "distill_length"), ("layer", 3, "distill_layer"),
    ("layer", -3, "distill_layer"), ("layer", 0, "distill_layer"), ("lr", 0.0, "distill_lr"),
    ("epochs", 0, "distill_epochs"), ("batch_size", 0, "distill_batch_size"), ("length", 3, "distill_length"),
    ("snippets", 2.5, "distill_snippets"), ("window", 0, "distill_window")])
def test_bad_settings_are_errors_naming_the_setting(tiny, tiny_spec, setting, value, field):
    model, tokenizer = tiny
    with pytest.raises(InputError) as caught:
        distill(model, tokenizer, tiny_spec, **{**SMALL, setting: value})
    assert caught.value.fields == [field]


def test_a_window_batches_the_student_passes_and_stays_close_to_the_exact_loop(tiny, tiny_spec, material):
    model, tokenizer = tiny
    # The published learning rate: each step moves the vector little, so late gradients differ little.
    exact = distill(model, tokenizer, tiny_spec, **SMALL, snippet_set=material)
    windowed = distill(model, tokenizer, tiny_spec, **SMALL, snippet_set=material, window=4, max_rows=3)
    assert len(windowed.steps) == len(exact.steps)
    assert windowed.steps[0] == pytest.approx(exact.steps[0], rel=1e-5)  # the first step is exact
    start = subtoken_mean(model, tokenizer, tiny_spec)
    assert not torch.equal(windowed.vector, exact.vector)
    moved = (exact.vector - start).norm()
    assert (windowed.vector - exact.vector).norm() < 0.1 * moved
    # A window of one step is the published loop itself.
    one = distill(model, tokenizer, tiny_spec, **SMALL, snippet_set=material, window=1, max_rows=1)
    torch.testing.assert_close(one.vector, exact.vector, rtol=1e-5, atol=1e-6)
