"""Why a draft has too little material, counted by reason, and the change that would help.

When screening leaves fewer positive contexts or negatives than a spec needs, the message says
how many rows were dropped for each reason ("38 of 50 contexts are shorter than 40 characters")
and suggests only changes that would change the outcome, worked out from the ranks the screening
already measured: a shorter minimum context when enough short contexts pass screening, a wider
N or a narrower M when enough contexts sit just beyond them (within ``PLAUSIBLE_RANK``: a context
whose target ranks 40,000th does not announce the gloss), keeping dropped items, or more
material. The error carries every row (``InputError.details["items"]``) so that the page and the
command line can show the table and a person can keep items anyway.
"""

from __future__ import annotations

from core.authoring.split import minimum_negatives, minimum_positives
from core.spec.errors import Collector

# A wider N (or narrower M) is suggested only when this rank would be enough.
PLAUSIBLE_RANK = 1000


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def positive_reasons(items: list[dict], config) -> list[str]:
    """The dropped positive contexts, counted by reason, in words."""
    total = len(items)
    by = _by_why(items)
    out = []
    if by.get("short"):
        short = by["short"]
        alone = sum(1 for it in short if "no sentence before it" in it["reason"])
        extra = f" ({alone} with no sentence before {_plural(alone, 'it', 'them')} to lengthen "\
                f"{_plural(alone, 'it', 'them')})" if alone else ""
        out.append(f"{len(short)} of {total} contexts are shorter than {config.min_context_chars} characters{extra}")
    phrases = {"rank": f"have no target within rank {config.positive_rank}",
               "gloss_first": "start with the gloss (nothing before it)", "duplicate": "repeat an earlier context",
               "no_gloss": "do not use a gloss", "too_long": "are too long", "full": "found their set full"}
    for why, phrase in phrases.items():
        if by.get(why):
            out.append(f"{len(by[why])} of {total} {phrase}")
    return out


def negative_reasons(items: list[dict], config) -> list[str]:
    total = len(items)
    by = _by_why(items)
    phrases = {"rank": f"have a target within rank {config.negative_rank}", "duplicate": "repeat an earlier negative",
               "also_positive": "are also positive contexts", "empty": "are empty", "too_long": "are too long"}
    return [f"{len(by[why])} of {total} {phrase}" for why, phrase in phrases.items() if by.get(why)]


def _by_why(items: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for it in items:
        if it["status"] == "dropped" and it["why"]:
            out.setdefault(it["why"], []).append(it)
    return out


def positive_fixes(items: list[dict], config, need: int) -> list[str]:
    """Changes that would keep ``need`` more positive contexts, each on its own, then the rest."""
    by = _by_why(items)
    fixes = []
    passing_short = sorted((it for it in by.get("short", []) if it["best_rank"] is not None
                            and it["best_rank"] <= config.positive_rank), key=lambda it: -len(it["context"]))
    if len(passing_short) >= need:
        length = len(passing_short[need - 1]["context"])
        more = sum(1 for it in passing_short if len(it["context"]) >= length)
        fixes.append(f"lower min_context_chars (shortest positive context) to {length}: {more} more "
                     f"{_plural(more, 'context passes', 'contexts pass')} screening")
    ranked = sorted((it for it in by.get("rank", []) if it["best_rank"] is not None), key=lambda it: it["best_rank"])
    if len(ranked) >= need and ranked[need - 1]["best_rank"] <= PLAUSIBLE_RANK:
        rank = ranked[need - 1]["best_rank"]
        more = sum(1 for it in ranked if it["best_rank"] <= rank)
        fixes.append(f"raise positive_rank (N) to {rank}: {more} more {_plural(more, 'context', 'contexts')} kept")
    if not config.lengthen_contexts and by.get("short"):
        fixes.append("turn lengthen_contexts on: a short context then gets the sentence before it")
    if any(it["context"] for it in by.get("short", []) + by.get("rank", [])):
        fixes.append("keep dropped contexts anyway (the table lists them with their ranks)")
    fixes.append(f"add at least {need} more {_plural(need, 'sentence', 'sentences')} that use the gloss after "
                 f"words that make it easy to guess (at least {config.min_context_chars} characters before it)")
    return fixes


def negative_fixes(items: list[dict], config, need: int) -> list[str]:
    by = _by_why(items)
    fixes = []
    ranked = sorted((it for it in by.get("rank", []) if it["best_rank"] is not None), key=lambda it: -it["best_rank"])
    if len(ranked) >= need and ranked[need - 1]["best_rank"] > 1:
        rank = ranked[need - 1]["best_rank"] - 1
        more = sum(1 for it in ranked if it["best_rank"] > rank)
        fixes.append(f"lower negative_rank (M) to {rank}: {more} more {_plural(more, 'negative', 'negatives')} kept")
    if ranked:
        fixes.append("keep dropped negatives anyway (the table lists them with their ranks)")
    fixes.append(f"add at least {need} more {_plural(need, 'negative', 'negatives')}: sentences about other things")
    return fixes


def check_enough(positives: list[dict], negatives: list[dict], config, details: dict) -> None:
    """Raise one InputError (carrying ``details``) when the kept contexts or negatives are too few."""
    c = Collector()
    kept_pos = sum(it["status"] == "kept" for it in positives)
    kept_neg = sum(it["status"] == "kept" for it in negatives)
    need_pos, need_neg = minimum_positives(), minimum_negatives()
    if kept_pos < need_pos:
        reasons = positive_reasons(positives, config)
        c.add("sentences", f"{kept_pos} of {len(positives)} positive contexts kept, needs at least {need_pos} "
              "(training, validation and testing)" + (": " + "; ".join(reasons) if reasons else ""),
              "; or ".join(positive_fixes(positives, config, need_pos - kept_pos)))
    if kept_neg < need_neg:
        reasons = negative_reasons(negatives, config)
        c.add("negatives", f"{kept_neg} of {len(negatives)} negatives kept, needs at least {need_neg} "
              "(training and testing)" + (": " + "; ".join(reasons) if reasons else ""),
              "; or ".join(negative_fixes(negatives, config, need_neg - kept_neg)))
    c.raise_if_any(details)
