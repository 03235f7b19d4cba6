"""A seeded split of kept material into the spec's training, validation and testing sets.

The proportions are the research's, as ``data/wool_shop.json`` holds them: of 87 positive
sentences, 63 train (positive contexts and fine-tuning sentences), 12 validate (validation
contexts and sentences) and 12 test (testing positive contexts); of 55 negatives, 45 train and
10 test. That is the method's 80 / 20 split of kept material into training and held-out sets,
with the held-out part shared between validation and testing.

A sentence goes to exactly one set: its context and its token sentence always travel together,
so nothing held out is ever trained on. A sentence whose context was not kept (too short, or it
failed screening) still shows the token in use: it joins the fine-tuning or the validation
sentences in the same proportions (63 : 12), unless its context is a held-out one. Counts stay
within ``core.spec.limits.COUNTS``; when the material is too thin for the minimums,
``InputError`` says how many more of what are needed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from core.spec import limits
from core.spec.errors import Collector

POSITIVE_SHARES = {"train": 63, "validation": 12, "testing": 12}
NEGATIVE_SHARES = {"train": 45, "testing": 10}


def _held_out(n: int, share: int, total: int) -> int:
    return max(1, round(n * share / total))


def positive_sizes(n: int) -> dict[str, int]:
    """How many of ``n`` positive sentences go to each set (before the limits' maximums)."""
    total = sum(POSITIVE_SHARES.values())
    val = _held_out(n, POSITIVE_SHARES["validation"], total)
    test = _held_out(n, POSITIVE_SHARES["testing"], total)
    return {"train": n - val - test, "validation": val, "testing": test}


def negative_sizes(n: int) -> dict[str, int]:
    test = _held_out(n, NEGATIVE_SHARES["testing"], sum(NEGATIVE_SHARES.values()))
    return {"train": n - test, "testing": test}


def minimum_positives() -> int:
    """The fewest positive sentences that fill every positive set to its minimum."""
    need = max(limits.COUNTS["positive_contexts"][0], limits.COUNTS["fine_tuning_sentences"][0])
    n = need
    while positive_sizes(n)["train"] < need:
        n += 1
    return n


def minimum_negatives() -> int:
    need = limits.COUNTS["negative_contexts"][0]
    n = need
    while negative_sizes(n)["train"] < need:
        n += 1
    return n


@dataclass
class Split:
    """The spec's sets, and the items left out because a set was full."""

    sets: dict[str, list[str]]
    over_limit: list[dict] = field(default_factory=list)


def check_enough(n_positive: int, n_negative: int, hint: str = "") -> None:
    """Raise one InputError saying how many more positive contexts and negatives are needed."""
    c = Collector()
    need_pos, need_neg = minimum_positives(), minimum_negatives()
    if n_positive < need_pos:
        more = need_pos - n_positive
        c.add("sentences", f"{n_positive} positive context{'s' if n_positive != 1 else ''} kept after screening, "
              f"needs at least {need_pos} (training, validation and testing)",
              f"add at least {more} more sentence{'s' if more != 1 else ''} that use the gloss after a few words{hint}")
    if n_negative < need_neg:
        more = need_neg - n_negative
        c.add("negatives", f"{n_negative} usable negative{'s' if n_negative != 1 else ''} after screening, "
              f"needs at least {need_neg} (training and testing)",
              f"add at least {more} more negative sentence{'s' if more != 1 else ''} or context{'s' if more != 1 else ''}{hint}")
    c.raise_if_any()


def sentence_validation_share(n: int) -> int:
    """How many of ``n`` sentences without a kept context go to the validation sentences."""
    return round(n * POSITIVE_SHARES["validation"] / (POSITIVE_SHARES["train"] + POSITIVE_SHARES["validation"]))


def split(positives: list[tuple[str, str]], negatives: list[str], seed: int,
          more_sentences: list[tuple[str, str]] = ()) -> Split:
    """Shuffle with ``seed`` and split.

    ``positives``: (context, sentence with the token) pairs whose context was kept, one per
    sentence; ``negatives``: negative contexts; ``more_sentences``: (context, token sentence) pairs
    whose context was not kept. Those sentences still teach the token's use: they join the
    fine-tuning and validation sentences (63 : 12), never a testing set, and are left out when
    their context is a held-out context (training on it would teach what is tested).
    Returns the spec's eight context and sentence sets.
    """
    check_enough(len(positives), len(negatives))
    rng = random.Random(seed)
    pos, neg = list(positives), list(negatives)
    rng.shuffle(pos)
    rng.shuffle(neg)
    ps, ns = positive_sizes(len(pos)), negative_sizes(len(neg))
    train, val, test = pos[: ps["train"]], pos[ps["train"]: ps["train"] + ps["validation"]], pos[len(pos) - ps["testing"]:]
    sets = {
        "positive_contexts": [c for c, _ in train],
        "fine_tuning_sentences": [s for _, s in train],
        "validation_contexts": [c for c, _ in val],
        "validation_sentences": [s for _, s in val],
        "testing_positive_contexts": [c for c, _ in test],
        "negative_contexts": neg[: ns["train"]],
        "testing_negative_contexts": neg[ns["train"]:],
    }
    held_out = {c for c, _ in val + test}
    taken = set(sets["fine_tuning_sentences"]) | set(sets["validation_sentences"]) | {s for _, s in test}
    extra = [s for s in dict.fromkeys(s for c, s in more_sentences if c not in held_out) if s not in taken]
    rng.shuffle(extra)
    n_val = sentence_validation_share(len(extra))
    sets["validation_sentences"] += extra[:n_val]
    sets["fine_tuning_sentences"] += extra[n_val:]
    over: list[dict] = []
    for name, items in sets.items():
        hi = limits.COUNTS[name][1]
        over += [{"item": item, "set": name, "reason": f"{name} is full (at most {hi})"} for item in items[hi:]]
        sets[name] = items[:hi]
    return Split(sets, over)
