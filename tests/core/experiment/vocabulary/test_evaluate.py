"""The confusion matrix against ranks computed one context at a time, and its summary."""

from __future__ import annotations

import statistics

import pytest
import torch

from core.embedding.strategies import InitConfig
from core.experiment.single.evaluate import quality, rank_table
from core.experiment.vocabulary.evaluate import before_after_table, confusion_matrix, confusion_summary, evaluate_vocabulary
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


def test_confusion_matrix_is_each_tokens_median_rank_on_each_symbols_contexts(initialized):
    vocab, init = initialized
    model, tokenizer = init.model, init.tokenizer
    confusion = confusion_matrix(model, tokenizer, vocab, init.token_ids)
    assert confusion["tokens"] == vocab.tokens and len(confusion["median_rank"]) == len(vocab)
    n = len(tokenizer)
    logits = {}
    for spec in vocab.specs:
        for context in spec.testing_positive_contexts:  # one full forward pass per context, unbatched
            with torch.no_grad():
                logits[context] = model(input_ids=torch.tensor([tokenizer.encode(context, add_special_tokens=False)])
                                        ).logits[0, -1, :n]
    for i, token_id in enumerate(init.token_ids):
        for j, spec in enumerate(vocab.specs):
            ranks = [int((logits[c] > logits[c][token_id]).sum()) + 1 for c in spec.testing_positive_contexts]
            assert confusion["median_rank"][i][j] == statistics.median(ranks), (i, j)
    # The diagonal is what the single-symbol evaluation reports for each symbol.
    for k, spec in enumerate(vocab.specs):
        q = quality(rank_table(model, tokenizer, spec, init.token_ids[k]))
        assert confusion["median_rank"][k][k] == q["median_rank_positive"]


def test_summary_of_a_hand_made_matrix():
    confusion = {"tokens": ["[A]", "[B]", "[C]"], "symbols": ["a", "b", "c"],
                 "median_rank": [[1, 50, 900], [7, 3, 800], [400, 2, 5]]}
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
    rows = before_after_table(before, before)
    assert rows[0]["mrr_positive_before"] == rows[0]["mrr_positive_after"] == before["symbols"][0]["quality"]["mrr_positive"]
    assert "mrr_positive_after" not in before_after_table(before, None)[0]
