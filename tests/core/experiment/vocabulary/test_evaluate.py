"""Evaluating a vocabulary: each symbol, the table before → after, and the confusion summary."""

from __future__ import annotations

import pytest

from core.embedding.strategies import InitConfig
from core.experiment.vocabulary.confusion import sparse_from_dense
from core.experiment.vocabulary.evaluate import before_after_table, confusion_summary, evaluate_vocabulary
from core.experiment.vocabulary.init import initialize_vocabulary
from core.experiment.vocabulary.load import load_vocabulary
from core.model.loading import LoadedModel
from tests.core.experiment.vocab_fixtures import three_specs


@pytest.fixture
def initialized(tiny):
    model, tokenizer = tiny
    base = LoadedModel(model=model, tokenizer=tokenizer, name="tiny-random", source="test")
    vocab = load_vocabulary(three_specs(), tokenizer)
    return vocab, initialize_vocabulary(vocab, InitConfig(), base)


def test_summary_of_a_hand_made_matrix():
    confusion = sparse_from_dense(["[A]", "[B]", "[C]"], ["a", "b", "c"], [[1, 50, 900], [7, 3, 800], [400, 2, 5]])
    s = confusion_summary(confusion)
    assert s["median_own_rank"] == 3 and s["lowest_other_rank"] == 2
    assert s["lowest_other"] == {"token": "[C]", "on": "b"}
    assert s["own_token_best"] == 2  # on b, [C] ranks better than [B]


def test_evaluate_vocabulary_reports_each_symbol_and_the_table(initialized):
    vocab, init = initialized
    seen = []
    before = evaluate_vocabulary(init.model, init.tokenizer, vocab, init.token_ids, max_new_tokens=3,
                                 on_event=seen.append)
    assert [s["token"] for s in before["symbols"]] == vocab.tokens
    # Each symbol in turn, its ranking then its generation steps; the share of the whole rising to the end.
    assert list(dict.fromkeys(e["token"] for e in seen)) == vocab.tokens
    assert all(f"({vocab.tokens.index(e['token']) + 1} of {len(vocab)})" in e["message"] for e in seen)
    fractions = [e["fraction"] for e in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and 1 - 1 / len(vocab) < fractions[-1] <= 1.0
    assert set(before["symbols"][0]) >= {"testing", "generations", "quality", "nearest"}
    for k, symbol in enumerate(before["symbols"]):  # the confusion's diagonal is each symbol's own median rank
        assert before["confusion"]["own_rank"][k] == symbol["quality"]["median_rank_positive"]
    assert before["confusion_summary"] == confusion_summary(before["confusion"])
    rows = before_after_table(before, before)
    assert rows[0]["mrr_positive_before"] == rows[0]["mrr_positive_after"] == before["symbols"][0]["quality"]["mrr_positive"]
    assert "mrr_positive_after" not in before_after_table(before, None)[0]
