"""Screening against ranks computed independently: one full forward pass per context on the tiny model."""

from __future__ import annotations

import torch

from core.authoring.screen import context_ranks, screen, target_ids, verdict

CONTEXTS = [("positive", "She needed more yarn, so she went to the"), ("negative", "He brushes his"),
            ("positive", "The knitting club meets every week at the"), ("negative", "My friend plays the")]


def _independent_rank(model, tokenizer, text: str, word: str) -> int:
    ids = torch.tensor([tokenizer.encode(text, add_special_tokens=False)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, -1, : len(tokenizer)]
    target = tokenizer.encode(" " + word, add_special_tokens=False)[0]
    return int((logits > logits[target]).sum()) + 1


def test_ranks_match_a_forward_pass_per_context(tiny):
    model, tokenizer = tiny
    ranks = context_ranks(model, tokenizer, [c for _, c in CONTEXTS], ["wool", "yarn"])
    for (_, text), row in zip(CONTEXTS, ranks):
        for word in ("wool", "yarn"):
            assert row[word] == _independent_rank(model, tokenizer, text, word)
    assert len({r["wool"] for r in ranks}) > 1


def test_thresholds_decide_and_name_the_reason(tiny):
    model, tokenizer = tiny
    ranks = context_ranks(model, tokenizer, [c for _, c in CONTEXTS], ["wool", "yarn"])
    best = [min(r.values()) for r in ranks]
    n = sorted(best)[1]
    rows = screen(model, tokenizer, CONTEXTS, ["wool", "yarn"], positive_rank=n, negative_rank=n)
    for (kind, _), row, b in zip(CONTEXTS, rows, best):
        assert row["best_rank"] == b
        assert row["passed"] == (b <= n if kind == "positive" else b > n)
        assert row["passed"] == (row["reason"] == "")
    assert verdict("positive", {"wool": 150, "yarn": 300}, 100, 1000) == "no target ranks within 100 (best 150)"
    assert verdict("negative", {"wool": 1500, "yarn": 12}, 100, 1000) == "'yarn' ranks 12, within 1000"
    assert verdict("negative", {"wool": 1500, "yarn": 1001}, 100, 1000) == ""
    assert screen(model, tokenizer, [], ["wool"], 1, 2) == []
    assert target_ids(tokenizer, ["wool"])["wool"] == tokenizer.encode(" wool", add_special_tokens=False)[0]


def test_a_rank_cache_screens_as_screen_does_and_runs_each_context_once(tiny, monkeypatch):
    from core.authoring import screen as module
    from core.authoring.screen import RankCache

    model, tokenizer = tiny
    cache = RankCache()
    cache.prepare(model, tokenizer, [c for _, c in CONTEXTS], ["wool", "yarn"])
    assert cache(model, tokenizer, CONTEXTS, ["yarn"], 500, 500) == screen(model, tokenizer, CONTEXTS, ["yarn"], 500, 500)
    for (_, text) in CONTEXTS:
        assert cache.known[text][target_ids(tokenizer, ["wool"])["wool"]] == _independent_rank(model, tokenizer, text, "wool")
    calls = []
    real = module.next_token_logits
    monkeypatch.setattr(module, "next_token_logits", lambda m, t, texts: calls.append(list(texts)) or real(m, t, texts))
    cache(model, tokenizer, CONTEXTS, ["wool", "yarn"], 100, 100)                    # all known: no pass
    cache(model, tokenizer, CONTEXTS + [("positive", "I bought it at the")], ["wool"], 100, 100)
    assert calls == [["I bought it at the"]]                                          # only the new one
