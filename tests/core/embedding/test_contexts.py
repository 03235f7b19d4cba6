"""Contextual embeddings and next-token logits, checked against plain one-text-at-a-time forward passes."""

from __future__ import annotations

import pytest
import torch

from core.embedding.contexts import last_hidden, next_token_logits

TEXTS = [
    "She needed more yarn, so she went to the",
    "He brushes his",
    "The knitting club meets every week at the",
    "the",
    "My friend plays the",
]


def _one_by_one(model, tokenizer, text):
    """hidden_states[-1] and logits at the last token, from the full model on this text alone."""
    ids = torch.tensor([tokenizer.encode(text, add_special_tokens=False)])
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
    return out.hidden_states[-1][0, -1], out.logits[0, -1]


def test_texts_have_different_lengths(tiny):
    _, tokenizer = tiny
    lengths = {len(tokenizer.encode(t, add_special_tokens=False)) for t in TEXTS}
    assert len(lengths) >= 4  # padding is really exercised


@pytest.mark.parametrize("batch_size", [1, 2, 32])
def test_last_hidden_matches_unbatched_forward(tiny, batch_size):
    model, tokenizer = tiny
    hidden = last_hidden(model, tokenizer, TEXTS, batch_size=batch_size)
    assert hidden.shape == (len(TEXTS), model.config.hidden_size)
    assert hidden.dtype == torch.float32
    for row, text in zip(hidden, TEXTS):
        expected, _ = _one_by_one(model, tokenizer, text)
        torch.testing.assert_close(row, expected, atol=1e-5, rtol=1e-5)


def test_next_token_logits_match_unbatched_forward(tiny):
    model, tokenizer = tiny
    logits = next_token_logits(model, tokenizer, TEXTS, batch_size=3)
    assert logits.shape == (len(TEXTS), model.get_output_embeddings().weight.shape[0])
    for row, text in zip(logits, TEXTS):
        _, expected = _one_by_one(model, tokenizer, text)
        torch.testing.assert_close(row, expected, atol=1e-4, rtol=1e-5)


def test_helpers_restore_training_mode(tiny):
    model, tokenizer = tiny
    model.train()
    last_hidden(model, tokenizer, TEXTS[:2])
    next_token_logits(model, tokenizer, TEXTS[:2])
    assert model.training
    model.eval()
    last_hidden(model, tokenizer, TEXTS[:2])
    assert not model.training


def test_empty_text_is_refused(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="no tokens"):
        last_hidden(model, tokenizer, ["the", ""])


def test_ranks_count_strictly_higher_logits_and_candidates_stop_at_the_tokenizer(tiny):
    from core.embedding.contexts import n_candidates, ranks_of

    logits = torch.tensor([[0.5, 2.0, 2.0, -1.0], [4.0, 1.0, 0.0, 3.0]])
    assert ranks_of(logits, 1).tolist() == [1, 3]
    assert ranks_of(logits, torch.tensor([3, 3])).tolist() == [4, 2]
    model, tokenizer = tiny
    assert n_candidates(model, tokenizer) == min(model.get_output_embeddings().weight.shape[0], len(tokenizer))


@pytest.mark.parametrize("rows_at_once", [1, 3, 256])
def test_ranks_of_many_equal_ranks_of_each_id_ties_included(rows_at_once):
    from core.embedding.contexts import ranks_of, ranks_of_many

    g = torch.Generator().manual_seed(3)
    logits = torch.randint(-4, 5, (7, 50), generator=g).float()  # small integers: many ties
    ids = [0, 7, 7, 49, 23]
    got = ranks_of_many(logits, ids, rows_at_once=rows_at_once)
    expected = torch.stack([ranks_of(logits, i) for i in ids], dim=1)
    assert got.shape == (7, 5) and torch.equal(got, expected)
    assert ranks_of_many(logits[:0], ids).shape == (0, 5)
