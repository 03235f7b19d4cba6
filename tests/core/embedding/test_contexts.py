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


def test_median_of_rows_is_statistics_median_per_column():
    import statistics

    from core.embedding.contexts import median_of_rows

    g = torch.Generator().manual_seed(1)
    for n in (1, 2, 5, 6):
        values = torch.randint(1, 100, (n, 4), generator=g)
        got = median_of_rows(values).tolist()
        assert got == [statistics.median(values[:, c].tolist()) for c in range(4)]
    with pytest.raises(ValueError):
        median_of_rows(torch.empty((0, 3)))


@pytest.mark.parametrize("contexts_at_once", [1, 3, 100])
def test_median_ranks_of_groups_whatever_the_chunk(tiny, contexts_at_once):
    import statistics

    from core.embedding.contexts import median_ranks

    model, tokenizer = tiny
    groups = [TEXTS[:2], TEXTS[2:3], TEXTS[3:], TEXTS[1:4]]
    ids = [5, 17, 17, 40]
    got = list(median_ranks(model, tokenizer, groups, ids, contexts_at_once=contexts_at_once))
    assert [g for g, _ in got] == [0, 1, 2, 3]
    n = min(model.get_output_embeddings().weight.shape[0], len(tokenizer))
    for g, medians in got:
        logits = [_one_by_one(model, tokenizer, t)[1][:n] for t in groups[g]]
        expected = [statistics.median([int((row > row[i]).sum()) + 1 for row in logits]) for i in ids]
        assert medians.tolist() == expected, g
