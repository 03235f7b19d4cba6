"""Contrast negatives for a vocabulary's output rows: other symbols' positive contexts, sampled.

With contrast, symbol ``k``'s least-squares system (``core.embedding.output.output_embeddings``)
gets more negative rows: contexts after which ANOTHER symbol's gloss is likely, so that its token
learns to stay low where another token belongs. Taking every other symbol's positives gives each
of K symbols about K × 60 extra rows: K² rows over the vocabulary, which a few hundred symbols
already make too many (6,420 symbols of 60 positives: 2.5 billion rows). So each symbol draws at
most ``per_symbol`` of them at random, with a generator of its own seeded by ``(seed, k)``: the
same vocabulary and seed give the same negatives in any process, whatever the order the symbols
are fitted in.

The pool is every positive context of the vocabulary once, in vocabulary order; a symbol never
gets one of its own positive or negative contexts. When the pool holds at most ``per_symbol``
usable contexts for a symbol (or ``per_symbol`` is 0), it gets all of them, in pool order: exactly
the every-other-symbol's-positives set of a small vocabulary.

Pure Python; no model needed.
"""

from __future__ import annotations

import random


def positive_pool(specs: list) -> list[str]:
    """Every positive context of every spec once, in vocabulary order."""
    seen: dict[str, None] = {}
    for spec in specs:
        for context in spec.positive_contexts:
            seen.setdefault(context, None)
    return list(seen)


def _generator(seed: int, k: int) -> random.Random:
    # A string seed is hashed with SHA-512 (not Python's randomized hash): the same in every process.
    return random.Random(f"contrast:{seed}:{k}")


def sample_for(pool: list[str], spec, per_symbol: int, seed: int, k: int) -> list[str]:
    """Symbol ``k``'s contrast negatives: up to ``per_symbol`` (0 = all) pool contexts that are none of
    its own, drawn with the generator of ``(seed, k)``, in pool order."""
    own = set(spec.positive_contexts) | set(spec.negative_contexts)
    if not per_symbol or per_symbol >= len(pool):
        return [c for c in pool if c not in own]
    # At most len(own) of the pool are excluded, so drawing per_symbol + len(own) distinct places
    # always leaves per_symbol usable ones (or all of them): work bounded by the draw, not the pool.
    draw = _generator(seed, k).sample(range(len(pool)), min(len(pool), per_symbol + len(own)))
    kept = [i for i in draw if pool[i] not in own][:per_symbol]
    return [pool[i] for i in sorted(kept)]


def contrast_negatives(specs: list, per_symbol: int = 0, seed: int = 0) -> list[list[str]]:
    """For each spec, its contrast negatives (see the module docstring)."""
    if per_symbol < 0:
        raise ValueError("per_symbol must be 0 (all) or more")
    pool = positive_pool(specs)
    return [sample_for(pool, spec, per_symbol, seed, k) for k, spec in enumerate(specs)]
