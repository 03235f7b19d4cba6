"""Evaluating a vocabulary: each symbol as ``core.experiment.single.evaluate`` evaluates one, plus a
confusion matrix across symbols.

The confusion matrix answers "does ``[BLISS_A]`` come up where B belongs?": each token's median
rank on every symbol's testing-positive contexts, kept sparse (each token's own rank and its
closest confusions) and computed in chunks of contexts (``core.experiment.vocabulary.confusion``).
"""

from __future__ import annotations

import time

from core.experiment.vocabulary.confusion import confusion_matrix, confusion_summary
from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS, evaluate
from core.experiment.vocabulary.load import Vocabulary


# Held-out snippets per symbol for the hidden-state measure: fewer than for one symbol (32), as every
# symbol of a large vocabulary samples its own.
VOCAB_HELD_OUT = 8


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
                                   on_event=progress if on_event is not None else None, held_out=VOCAB_HELD_OUT)})
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
