"""Evaluating a vocabulary: each symbol as ``core.experiment.single.evaluate`` evaluates one, plus a
confusion matrix across symbols.

The confusion matrix answers "does ``[BLISS_A]`` come up where B belongs?": entry ``[i][j]`` is the
median rank of token ``i`` over symbol ``j``'s testing-positive contexts, ranked among all
next-token candidates exactly as ``evaluate.rank_table`` ranks (1 = top). The diagonal is each
token's own median rank (low is good); off the diagonal, high is good. One batched pass of
next-token logits over every symbol's testing-positive contexts gives the whole matrix.
"""

from __future__ import annotations

import statistics
import time

import torch

from core.embedding.contexts import next_token_logits, ranks_of_many
from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS, evaluate, n_candidates
from core.experiment.vocabulary.load import Vocabulary


@torch.no_grad()
def confusion_matrix(model, tokenizer, vocab: Vocabulary, token_ids: list[int]) -> dict:
    """{"tokens", "symbols", "median_rank": [token][symbol]} over the testing-positive contexts."""
    contexts, owner = [], []
    for j, spec in enumerate(vocab.specs):
        contexts += spec.testing_positive_contexts
        owner += [j] * len(spec.testing_positive_contexts)
    logits = next_token_logits(model, tokenizer, contexts)[:, : n_candidates(model, tokenizer)]
    ranks = ranks_of_many(logits, token_ids)  # [context, token]: one sort per context for every token
    owner_t = torch.tensor(owner)
    rows = [ranks[owner_t == j] for j in range(len(vocab))]
    matrix = [[float(statistics.median(rows[j][:, i].tolist())) for j in range(len(vocab))]
              for i in range(len(token_ids))]
    return {"tokens": vocab.tokens, "symbols": [s.glosses[0] for s in vocab.specs], "median_rank": matrix}


def confusion_summary(confusion: dict) -> dict:
    """How well the tokens are told apart: the diagonal's median, the off-diagonal's smallest median
    rank (the worst confusion) and where it is, and how many tokens rank best on their own symbol."""
    m = confusion["median_rank"]
    n = len(m)
    diagonal = [m[i][i] for i in range(n)]
    off = [(m[i][j], i, j) for i in range(n) for j in range(n) if i != j]
    worst = min(off) if off else None
    own_best = sum(1 for j in range(n) if min(range(n), key=lambda i: (m[i][j], i != j)) == j)
    return {
        "median_own_rank": float(statistics.median(diagonal)) if diagonal else None,
        "lowest_other_rank": worst[0] if worst else None,
        "lowest_other": {"token": confusion["tokens"][worst[1]], "on": confusion["symbols"][worst[2]]} if worst else None,
        "own_token_best": own_best,
        "symbols": n,
    }


def evaluate_vocabulary(model, tokenizer, vocab: Vocabulary, token_ids: list[int],
                        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, timings: dict | None = None,
                        on_event=None) -> dict:
    """Per symbol: ``evaluate``'s ranks, generations, nearest tokens and quality; and the confusion matrix.
    ``on_event`` gets ``{"stage": "evaluate", "message", "token", "fraction"}`` as the evaluation goes
    (``fraction``: of every symbol's evaluation)."""
    started = time.perf_counter()
    symbols = []
    n = len(vocab.specs)
    for i, (spec, token_id) in enumerate(zip(vocab.specs, token_ids)):
        def progress(event: dict, i: int = i, token: str = spec.new_token) -> None:
            # The share of the whole evaluation done: symbols before this one, then this one's own share.
            on_event({"stage": "evaluate", "message": f"Evaluating {token} ({i + 1} of {n}): {event['message']}",
                      "token": token, "fraction": round((i + event["fraction"]) / n, 4)})

        symbols.append({"token": spec.new_token, "token_id": token_id,
                        **evaluate(model, tokenizer, spec, token_id, max_new_tokens, timings=timings,
                                   on_event=progress if on_event is not None else None)})
    confusion = confusion_matrix(model, tokenizer, vocab, token_ids)
    if timings is not None:
        timings["vocabulary_evaluation"] = timings.get("vocabulary_evaluation", 0.0) + time.perf_counter() - started
    return {"symbols": symbols, "confusion": confusion, "confusion_summary": confusion_summary(confusion)}


def before_after_table(before: dict, after: dict | None) -> list[dict]:
    """One row per symbol: its quality numbers before (and after) fine-tuning."""
    rows = []
    after_by = {s["token"]: s for s in (after or {}).get("symbols", [])}
    for s in before["symbols"]:
        row = {"token": s["token"]}
        for key, value in s["quality"].items():
            row[f"{key}_before"] = value
            if after is not None:
                row[f"{key}_after"] = after_by.get(s["token"], {}).get("quality", {}).get(key)
        rows.append(row)
    return rows
