"""Screening contexts on the loaded model, as the research did.

For each context, the rank (1 = top, among all next-token candidates) of every target token as the
next token, computed with the same code as evaluation (``core.embedding.contexts``):

* a positive context is kept when some target ranks within ``positive_rank`` (default 100);
* a negative context is kept when every target ranks beyond ``negative_rank`` (default 1000).

Every row carries its ranks and, when it fails, the reason in words. ``RankCache`` screens the
same way and remembers the ranks of contexts that many symbols share.
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


def rows_of(contexts: list[tuple[str, str]], ranks: list[dict[str, int]], positive_rank: int,
            negative_rank: int) -> list[dict]:
    """Rows ``{"kind", "context", "ranks", "best_rank", "passed", "reason"}`` from measured ranks."""
    rows = []
    for (kind, context), r in zip(contexts, ranks):
        reason = verdict(kind, r, positive_rank, negative_rank)
        rows.append({"kind": kind, "context": context, "ranks": r, "best_rank": min(r.values()),
                     "passed": not reason, "reason": reason})
    return rows


def screen(model, tokenizer, contexts: list[tuple[str, str]], targets: list[str], positive_rank: int,
           negative_rank: int) -> list[dict]:
    """Rows ``{"kind", "context", "ranks", "best_rank", "passed", "reason"}`` for ``(kind, context)`` pairs."""
    ranks = context_ranks(model, tokenizer, [c for _, c in contexts], targets)
    return rows_of(contexts, ranks, positive_rank, negative_rank)


class RankCache:
    """A ``screen`` that remembers ranks: contexts shared by many symbols (generic negatives, other
    symbols' sentences) run through the model once, with every target of the symbols that will use
    them (``prepare``); any other context runs when it is screened. Ranks are counted as ``screen``
    counts them (``ranks_of_many``: strictly higher logits, plus one, among the real tokens)."""

    def __init__(self) -> None:
        self.known: dict[str, dict[int, int]] = {}    # context → {target token id: rank}

    def prepare(self, model, tokenizer, contexts: list[str], targets: list[str]) -> None:
        """Rank every target of ``targets`` after every context of ``contexts`` not ranked yet."""
        from core.embedding.contexts import ranks_of_many

        ids = sorted(set(target_ids(tokenizer, targets).values()))
        todo = [c for c in dict.fromkeys(contexts) if any(i not in self.known.get(c, {}) for i in ids)]
        if not todo or not ids:
            return
        logits = next_token_logits(model, tokenizer, todo)[:, : n_candidates(model, tokenizer)]
        ranks = ranks_of_many(logits, ids).tolist()
        for context, row in zip(todo, ranks):
            self.known.setdefault(context, {}).update({i: int(r) for i, r in zip(ids, row)})

    def __call__(self, model, tokenizer, contexts: list[tuple[str, str]], targets: list[str], positive_rank: int,
                 negative_rank: int) -> list[dict]:
        self.prepare(model, tokenizer, [c for _, c in contexts], targets)
        ids = target_ids(tokenizer, targets)
        ranks = [{word: self.known[c][i] for word, i in ids.items()} for _, c in contexts]
        return rows_of(contexts, ranks, positive_rank, negative_rank)
