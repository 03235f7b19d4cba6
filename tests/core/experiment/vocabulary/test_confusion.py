"""The sparse confusion matrix: equal to the full one (computed here one context at a time) for a small
vocabulary, the same whatever the chunk of contexts, and the closest confusions kept for a larger one."""

from __future__ import annotations

import random
import statistics

import pytest
import torch

from core.embedding.strategies import InitConfig
from core.experiment.vocabulary.confusion import confusion_matrix, confusion_summary, dense, most_confused, sparse_from_dense
from core.experiment.single.evaluate import quality, rank_table
from core.experiment.vocabulary.init import initialize_vocabulary
from core.experiment.vocabulary.load import load_vocabulary
from core.model.loading import LoadedModel
from tests.core.experiment.vocab_fixtures import three_specs


@pytest.fixture(scope="module")
def initialized():
    from core.model.tiny import tiny_model

    model, tokenizer = tiny_model()
    base = LoadedModel(model=model, tokenizer=tokenizer, name="tiny-random", source="test")
    vocab = load_vocabulary(three_specs(), tokenizer)
    return vocab, initialize_vocabulary(vocab, InitConfig(), base)


def _full_matrix(model, tokenizer, vocab, token_ids) -> list[list[float]]:
    """Written out independently: one unbatched forward pass per context, ranks by counting."""
    n = len(tokenizer)
    logits = {}
    for spec in vocab.specs:
        for context in spec.testing_positive_contexts:
            with torch.no_grad():
                ids = torch.tensor([tokenizer.encode(context, add_special_tokens=False)])
                logits[context] = model(input_ids=ids).logits[0, -1, :n]
    return [[float(statistics.median([int((logits[c] > logits[c][t]).sum()) + 1
                                      for c in spec.testing_positive_contexts])) for spec in vocab.specs]
            for t in token_ids]


def test_sparse_equals_the_full_matrix_for_a_small_vocabulary(initialized):
    vocab, init = initialized
    model, tokenizer = init.model, init.tokenizer
    confusion = confusion_matrix(model, tokenizer, vocab, init.token_ids)
    assert confusion["tokens"] == vocab.tokens and confusion["shown"] == [0, 1, 2]
    full = _full_matrix(model, tokenizer, vocab, init.token_ids)
    assert dense(confusion) == full  # K = 3 ≤ top_k + 1: every cell is kept
    assert len(confusion["cells"]) == 6
    for k, spec in enumerate(vocab.specs):  # the diagonal is what one symbol's evaluation reports
        assert confusion["own_rank"][k] == quality(rank_table(model, tokenizer, spec, init.token_ids[k]))[
            "median_rank_positive"]
    assert confusion == sparse_from_dense(vocab.tokens, confusion["symbols"], full)


@pytest.mark.parametrize("contexts_at_once", [1, 13, 10_000])
def test_chunked_equals_unchunked(initialized, contexts_at_once):
    vocab, init = initialized
    whole = confusion_matrix(init.model, init.tokenizer, vocab, init.token_ids, contexts_at_once=10_000)
    chunked = confusion_matrix(init.model, init.tokenizer, vocab, init.token_ids, contexts_at_once=contexts_at_once)
    assert chunked == whole


def test_top_k_keeps_each_tokens_and_each_symbols_closest_confusions(initialized):
    vocab, init = initialized
    full = _full_matrix(init.model, init.tokenizer, vocab, init.token_ids)
    one = confusion_matrix(init.model, init.tokenizer, vocab, init.token_ids, top_k=1)
    kept = {(i, j): v for i, j, v in one["cells"]}
    for i in range(3):
        row = min((full[i][j], j) for j in range(3) if j != i)
        col = min((full[j][i], j) for j in range(3) if j != i)
        assert kept[(i, row[1])] == row[0] and kept[(col[1], i)] == col[0]
    assert set(kept) <= {(i, j) for i in range(3) for j in range(3) if i != j}
    assert confusion_summary(one) == confusion_summary(sparse_from_dense(vocab.tokens, one["symbols"], full, 5))


def _random_matrix(n: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    return [[float(rng.choice([1, 2, 3, 5, 8, 40, 900, 1000, 1000])) for _ in range(n)] for _ in range(n)]


def _dense_summary(m: list[list[float]]) -> dict:
    """The summary as the full matrix gives it (the definition, written out)."""
    n = len(m)
    off = [(m[i][j], i, j) for i in range(n) for j in range(n) if i != j]
    worst = min(off)
    return {"median_own_rank": float(statistics.median(m[i][i] for i in range(n))), "lowest_other_rank": worst[0],
            "lowest_other": {"token": f"[{worst[1]}]", "on": f"s{worst[2]}"},
            "own_token_best": sum(1 for j in range(n) if min(range(n), key=lambda i: (m[i][j], i != j)) == j),
            "symbols": n}


@pytest.mark.parametrize("seed", range(5))
def test_the_summary_of_the_sparse_form_is_the_full_matrixs(seed):
    n = 40
    m = _random_matrix(n, seed)
    sparse = sparse_from_dense([f"[{i}]" for i in range(n)], [f"s{j}" for j in range(n)], m, top_k=2)
    assert confusion_summary(sparse) == _dense_summary(m)
    assert len(sparse["cells"]) <= 2 * 2 * n  # bounded by K × top_k, not K²
    full = dense(sparse)
    for i, j, v in sparse["cells"]:
        assert full[i][j] == m[i][j] == v
    # A large vocabulary draws its most confused symbols: none left out comes closer than one drawn.
    shown = sparse["shown"]
    assert len(shown) == 30 and shown == sorted(shown)
    closest = {s: min([v for i, j, v in sparse["cells"] if s in (i, j)], default=float("inf")) for s in range(n)}
    assert max(closest[s] for s in shown) <= min(closest[s] for s in range(n) if s not in shown)


def test_most_confused_of_a_hand_made_matrix():
    m = [[1.0, 900.0, 900.0, 900.0], [900.0, 2.0, 3.0, 900.0], [900.0, 900.0, 1.0, 900.0], [7.0, 900.0, 900.0, 1.0]]
    sparse = sparse_from_dense(list("ABCD"), list("abcd"), m, top_k=1)
    assert most_confused(sparse, 2) == [1, 2]  # token B ranks 3 on c's contexts: the closest confusion
    assert most_confused(sparse, 3) == [0, 1, 2]  # then A (D ranks 7 on a's contexts; D too, lower index wins)
    assert most_confused(sparse, 4) == [0, 1, 2, 3]
