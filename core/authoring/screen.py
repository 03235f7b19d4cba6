"""Screening contexts on the loaded model, as the research did.

For each context, the rank (1 = top, among all next-token candidates) of every target token as the
next token, computed with the same code as evaluation (``core.embedding.contexts``):

* a positive context is kept when some target ranks within ``positive_rank`` (default 100);
* a negative context is kept when every target ranks beyond ``negative_rank`` (default 1000).

Every row carries its ranks and, when it fails, the reason in words.
"""

from __future__ import annotations

from core.embedding.contexts import n_candidates, next_token_logits, ranks_of


def target_ids(tokenizer, targets: list[str]) -> dict[str, int]:
    """Each target word's token id, measured with its leading space (its first sub-token)."""
    return {word: tokenizer.encode(" " + word.strip(), add_special_tokens=False)[0] for word in targets}


def context_ranks(model, tokenizer, contexts: list[str], targets: list[str]) -> list[dict[str, int]]:
    """Per context: {target word: rank of its token as the next token}."""
    if not contexts:
        return []
    logits = next_token_logits(model, tokenizer, contexts)[:, : n_candidates(model, tokenizer)]
    per_target = {word: ranks_of(logits, tid).tolist() for word, tid in target_ids(tokenizer, targets).items()}
    return [{word: int(ranks[i]) for word, ranks in per_target.items()} for i in range(len(contexts))]


def verdict(kind: str, ranks: dict[str, int], positive_rank: int, negative_rank: int) -> str:
    """'' when the context passes, else why it does not."""
    best = min(ranks.values())
    if kind == "positive" and best > positive_rank:
        return f"no target ranks within {positive_rank} (best {best})"
    if kind == "negative" and best <= negative_rank:
        word = min(ranks, key=ranks.get)
        return f"{word!r} ranks {best}, within {negative_rank}"
    return ""


def screen(model, tokenizer, contexts: list[tuple[str, str]], targets: list[str], positive_rank: int,
           negative_rank: int) -> list[dict]:
    """Rows ``{"kind", "context", "ranks", "best_rank", "passed", "reason"}`` for ``(kind, context)`` pairs."""
    ranks = context_ranks(model, tokenizer, [c for _, c in contexts], targets)
    rows = []
    for (kind, context), r in zip(contexts, ranks):
        reason = verdict(kind, r, positive_rank, negative_rank)
        rows.append({"kind": kind, "context": context, "ranks": r, "best_rank": min(r.values()),
                     "passed": not reason, "reason": reason})
    return rows
