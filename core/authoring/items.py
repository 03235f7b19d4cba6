"""The rows of a draft's report: every positive sentence and every negative, cut and checked.

A positive row has two parts that are judged apart:

* its **sentence** (the gloss replaced by the token) is usable for fine-tuning or validation
  whenever it uses a gloss and fits the limits, whatever its context;
* its **context** (the sentence cut before the last gloss) becomes a positive, validation or
  testing context only when it is long enough, new, and passes screening on the model.

A context shorter than ``min_context_chars`` is lengthened, when ``lengthen_contexts`` is on,
with the sentence before it in the material (the line before it in a list, the sentence before
it in a corpus text), written as it is: nothing is invented, and the row says what was added
(``lengthened_with``). A context the gloss starts (nothing before it) is not lengthened: the
next sentence would start with a capital letter, not with the target's lower-case word.

Each row that is not used says why in words (``reason``) and as a code (``why``) that the failure
message counts (``core.authoring.diagnose``): ``too_long``, ``no_gloss``, ``gloss_first``,
``short``, ``duplicate`` and ``rank`` for positives; ``empty``, ``too_long``, ``duplicate``,
``also_positive`` and ``rank`` for negatives; ``full`` when a set was full.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from core.authoring.sentences import GlossFinder, negative_context
from core.spec import limits


@dataclass(frozen=True)
class Line:
    """One positive sentence of the material: where it came from and the sentence before it there."""

    source: str          # "sentences", "corpus", "model", "lexicon", "templates"
    text: str
    before: str = ""     # the sentence before it in the same material ('' when it is the first)


def item(kind: str, source: str, text: str, context: str = "", sentence: str = "") -> dict:
    """A fresh row: dropped until screening and the split say otherwise."""
    return {"kind": kind, "source": source, "text": text, "context": context, "sentence": sentence,
            "ranks": {}, "best_rank": None, "status": "dropped", "reason": "", "why": "", "set": None,
            "sentence_set": None, "lengthened_with": ""}


def lines_in_order(source: str, texts: list[str]) -> list[Line]:
    """A list of sentences as material: each one's ``before`` is the one listed before it."""
    return [Line(source, text, texts[i - 1] if i else "") for i, text in enumerate(texts)]


def _drop(it: dict, why: str, reason: str) -> None:
    it["why"], it["reason"] = why, reason


def _lengthened(context: str, before: str, config) -> tuple[str, str]:
    """(context, what was added): the sentence before it prepended when the context is short."""
    if not config.lengthen_contexts or not before.strip() or len(context) >= config.min_context_chars:
        return context, ""
    longer = f"{before.strip()} {context}"
    return (longer, before.strip()) if len(longer) <= limits.TEXT_CHARS else (context, "")


def positive_items(lines: list[Line], finder: GlossFinder, token: str, config, keep: set[str]) -> list[dict]:
    """One row per positive sentence: its token sentence and context, each checked (see the module
    docstring); repeated contexts are dropped (the first one stays)."""
    items, seen = [], {}
    for line in lines:
        it = item("positive", line.source, line.text)
        items.append(it)
        text = line.text
        if len(text) > limits.TEXT_CHARS:
            _drop(it, "too_long", f"longer than {limits.TEXT_CHARS} characters")
            continue
        if not finder.uses(text):
            _drop(it, "no_gloss", "does not use a gloss")
            continue
        it["sentence"] = finder.with_token(text, token)
        context = finder.context(text)
        if not context:
            _drop(it, "gloss_first", "the gloss starts the sentence: no context before it")
            continue
        context, it["lengthened_with"] = _lengthened(context, line.before, config)
        it["context"] = context
        if len(context) < config.min_context_chars and not keep & {text, context}:
            alone = " (and no sentence before it to lengthen it)" if config.lengthen_contexts and not line.before else ""
            _drop(it, "short", f"context shorter than {config.min_context_chars} characters{alone}")
        elif context in seen:
            _drop(it, "duplicate", f"same context as item {seen[context] + 1}")
        if context not in seen:
            seen[context] = len(items) - 1
    return items


def negative_items(negatives: list[str], seed: int, positive_contexts: set[str]) -> list[dict]:
    """One row per negative: a context as given, or a full sentence cut at a seeded word."""
    rng = random.Random(seed)
    items, seen = [], set()
    for text in negatives:
        it = item("negative", "negatives", text, negative_context(text, rng))
        items.append(it)
        if not it["context"]:
            _drop(it, "empty", "empty")
        elif len(it["context"]) > limits.TEXT_CHARS:
            _drop(it, "too_long", f"longer than {limits.TEXT_CHARS} characters")
        elif it["context"] in seen:
            _drop(it, "duplicate", "repeats an earlier negative")
        elif it["context"] in positive_contexts:
            _drop(it, "also_positive", "is also a positive context")
        seen.add(it["context"])
    return items


def drop_over_token_limits(items: list[dict], tokenizer, token: str, gloss: str) -> None:
    """Drop what the spec's token limits would refuse: a context over ``CONTEXT_TOKENS`` (its
    sentence stays usable) and a sentence over ``SENTENCE_TOKENS`` measured with the gloss."""
    def n_tokens(texts: list[str]) -> list[int]:
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []

    with_context = [it for it in items if it["context"] and not it["why"]]
    for it, n in zip(with_context, n_tokens([it["context"] for it in with_context])):
        if n > limits.CONTEXT_TOKENS:
            _drop(it, "too_long", f"context is {n} tokens, over the limit of {limits.CONTEXT_TOKENS}")
    with_sentence = [it for it in items if it["sentence"]]
    for it, n in zip(with_sentence, n_tokens([it["sentence"].replace(token, " " + gloss) for it in with_sentence])):
        if n > limits.SENTENCE_TOKENS:
            it["sentence"] = ""
            _drop(it, "too_long", f"sentence is {n} tokens, over the limit of {limits.SENTENCE_TOKENS}")


def to_screen(items: list[dict]) -> list[dict]:
    """The rows whose context the model ranks: every context not refused for its form (short ones
    too, so that the report can say what a shorter minimum would keep)."""
    return [it for it in items if it["context"] and it["why"] in ("", "short")]


def apply_screening(rows: list[dict], screened: list[dict], keep: set[str]) -> None:
    """Each screened row's ranks and verdict; rows in ``keep`` stay whatever their ranks or length."""
    for it, row in zip(rows, screened):
        it["ranks"], it["best_rank"] = row["ranks"], row["best_rank"]
        if not it["why"] and row["reason"]:
            _drop(it, "rank", row["reason"])
        forced = bool(keep & {it["text"], it["context"]})
        it["status"] = "kept" if forced or not it["why"] else "dropped"
        if forced and it["reason"]:
            it["reason"] = f"kept by request ({it['reason']})"
