"""The held-out hidden-state measure against passes written out by hand."""

from __future__ import annotations

import pytest
import torch

from core.embedding.distill import distill
from core.embedding.field_rows import subtoken_mean
from core.embedding.hidden import HELD_OUT_SEED_OFFSET, HeldOut, hidden_mse, held_out_seed
from core.embedding.snippets import generated_snippets
from core.model.tokens import add_token
from core.spec.errors import InputError

SMALL = dict(snippets=3, length=10)


def _snippet_part_by_hand(model, snippets, e):
    """Pooled squared error over every compared position, from two full passes per snippet."""
    errors, count = 0.0, 0
    embed = model.get_input_embeddings()
    with torch.no_grad():
        for s in snippets:
            ids = list(s.ids)
            start, k = s.starts[0], s.width
            teacher = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0]
            rows = torch.cat([embed(torch.tensor(ids[:start])), e.view(1, -1), embed(torch.tensor(ids[start + k:]))])
            student = model(inputs_embeds=rows.unsqueeze(0), output_hidden_states=True).hidden_states[-1][0]
            diff = student[start:] - teacher[start + k - 1:]
            errors += float(diff.pow(2).sum())
            count += diff.numel()
    return errors / count


def _context_part_by_hand(model, tokenizer, spec, e):
    errors, count = 0.0, 0
    embed = model.get_input_embeddings()
    with torch.no_grad():
        for context in spec.testing_positive_contexts:
            ids = tokenizer.encode(context, add_special_tokens=False)
            rows = torch.cat([embed(torch.tensor(ids)), e.view(1, -1)]).unsqueeze(0)
            with_token = model(inputs_embeds=rows, output_hidden_states=True).hidden_states[-1][0, -1]
            for gloss in spec.gloss_texts:
                full = ids + tokenizer.encode(gloss, add_special_tokens=False)
                with_gloss = model(input_ids=torch.tensor([full]), output_hidden_states=True).hidden_states[-1][0, -1]
                errors += float((with_token - with_gloss).pow(2).sum())
                count += e.numel()
    return errors / count


def test_the_measure_equals_passes_by_hand_on_held_out_snippets(tiny, tiny_spec):
    model, tokenizer = tiny
    e = subtoken_mean(model, tokenizer, tiny_spec)
    held = HeldOut(model, tokenizer, tiny_spec, **SMALL, seed=5)
    # The held-out snippets are drawn with the offset seed, never a training seed.
    expected = generated_snippets(model, tokenizer, tiny_spec, count=3, length=10, seed=HELD_OUT_SEED_OFFSET + 5)
    assert [s.ids for s in held.snippet_set] == [s.ids for s in expected]
    assert held_out_seed(5) == 2**31 + 5
    found = held.measure(e)
    assert found.snippets == pytest.approx(_snippet_part_by_hand(model, held.snippet_set, e), rel=1e-5)
    assert found.contexts == pytest.approx(_context_part_by_hand(model, tokenizer, tiny_spec, e), rel=1e-5)
    assert found.combined == pytest.approx((found.snippets + found.contexts) / 2)
    assert found.context_pairs == len(tiny_spec.testing_positive_contexts) * len(tiny_spec.glosses)
    assert found.snippet_positions == sum(s.compared for s in held.snippet_set)
    assert found.snippets > 0 and found.contexts > 0


def test_the_token_row_of_a_model_that_has_it_is_measured_the_same(tiny, tiny_spec):
    model, tokenizer = tiny
    e = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(2)) * 0.05
    direct = HeldOut(model, tokenizer, tiny_spec, **SMALL).measure(e)
    with pytest.raises(InputError) as caught:
        hidden_mse(model, tokenizer, tiny_spec, **SMALL)
    assert caught.value.fields == ["new_token"]
    held = HeldOut(model, tokenizer, tiny_spec, **SMALL)  # material from the base model
    add_token(model, tokenizer, tiny_spec.new_token, e, torch.zeros_like(e))
    from_model = HeldOut(model, tokenizer, tiny_spec, snippet_set=held.snippet_set).measure(
        model.get_input_embeddings().weight[-1])
    assert from_model.to_dict() == pytest.approx(direct.to_dict(), rel=1e-5)
    assert hidden_mse(model, tokenizer, tiny_spec, **SMALL).contexts == pytest.approx(direct.contexts, rel=1e-5)


def test_distillation_lowers_the_held_out_measure(tiny, tiny_spec):
    model, tokenizer = tiny
    start = subtoken_mean(model, tokenizer, tiny_spec)
    learned = distill(model, tokenizer, tiny_spec, snippets=8, length=12, lr=1e-2, epochs=3).vector
    held = HeldOut(model, tokenizer, tiny_spec, snippets=8, length=12)
    before, after = held.measure(start), held.measure(learned)
    assert after.snippets < before.snippets and after.combined < before.combined
