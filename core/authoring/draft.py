"""Drafting a gloss spec from raw material: sentences, negatives, a corpus, the loaded model.

``draft(material, config, model, tokenizer)`` runs the research's recipe (method.md, "Authoring
contexts") end to end:

1. gather positive sentences (given, mined from a corpus, sampled from the model) and negatives;
2. cut each sentence right before the last occurrence of a gloss (the positive context) and
   replace the gloss by the token (the fine-tuning sentence); drop sentences without a gloss,
   contexts shorter than ``min_context_chars`` and repeated contexts, each with its reason;
3. screen every context on the model (``screen``): positives need a target within
   ``positive_rank``, negatives every target beyond ``negative_rank``; items in ``keep`` stay
   whatever their ranks;
4. split the kept material with ``seed`` (``split``) and build the spec, whose generation prompts
   come from the part of speech's templates.

The result holds the spec and a report: every item with its ranks, kept (and in which set) or
dropped (and why). Bad material raises ``InputError`` naming the field and the fix.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Callable

from core.authoring import sources, templates
from core.authoring.screen import screen
from core.authoring.sentences import GlossFinder, negative_context
from core.authoring.split import check_enough, split
from core.spec import limits, settings
from core.spec.errors import Collector, InputError, fail
from core.spec.gloss import GlossSpec, default_token, validate_for_tokenizer
from core.spec.settings import setting

EventFn = Callable[[dict], None]


@dataclass
class DraftConfig(settings.Config):
    """How a spec is drafted: screening thresholds, sources' sizes, the seed, items to keep."""

    WHAT = "drafting settings"

    positive_rank: int = setting(100, label="Positive: target within rank (N)", range=limits.DRAFT_RANK,
                                 help="A positive context is kept when some target token ranks within N as the next token.")
    negative_rank: int = setting(1000, label="Negative: every target beyond rank (M)", range=limits.DRAFT_RANK,
                                 help="A negative context is kept when every target token ranks beyond M as the next token.")
    min_context_chars: int = setting(40, label="Shortest positive context (characters)",
                                     range=limits.DRAFT_CONTEXT_CHARS,
                                     help="Positive contexts shorter than this are dropped (the research used 40).")
    generate: int = setting(0, label="Sentences sampled from the model", range=limits.DRAFT_GENERATE,
                            help="Candidate sentences the loaded model writes (seeded); those that use a gloss are screened.")
    corpus_sentences: int = setting(500, label="Sentences mined from the corpus", range=limits.DRAFT_CORPUS_SENTENCES,
                                    help="At most this many corpus sentences that use a gloss.")
    corpus_column: str = setting("text", label="Corpus text column", advanced=True,
                                 help="The column of a dataset corpus that holds the text.")
    seed: int = setting(0, label="Seed", range=limits.SEED_VALUE,
                        help="Seeds the cutting of negative sentences, the model's sampling and the split.")
    keep: list = setting([], label="Keep anyway",
                         help="Dropped items to keep anyway (a sentence, a negative or a context, exactly as listed).")


@dataclass
class Material:
    """What a spec is drafted from: the symbol and the raw text."""

    glosses: list[str]
    token: str = ""
    symbol_id: str = ""
    pos: str = "noun"
    meaning: str = ""
    notes: str = ""
    targets: list[str] | None = None   # None: proposed from the glosses for this tokenizer
    sentences: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    corpus: str = ""


@dataclass
class DraftResult:
    spec: GlossSpec
    items: list[dict]
    config: DraftConfig
    model: str = ""

    def counts(self) -> dict:
        out: dict = {}
        for kind in ("positive", "negative"):
            mine = [i for i in self.items if i["kind"] == kind]
            out[kind] = {"given": len(mine), "kept": sum(i["status"] == "kept" for i in mine),
                         "dropped": sum(i["status"] == "dropped" for i in mine)}
        out["sets"] = {name: len(getattr(self.spec, name)) for name in limits.COUNTS}
        return out

    def to_dict(self) -> dict:
        return {"spec": self.spec.to_dict(), "counts": self.counts(), "items": self.items,
                "kept": [i for i in self.items if i["status"] == "kept"],
                "dropped": [i for i in self.items if i["status"] == "dropped"],
                "config": self.config.to_dict(), "model": self.model}


def symbol_id_of(token: str) -> str:
    """A symbol ID from a token name: ``[BLISS_29111]`` → ``29111``; other names keep their letters."""
    inner = token.strip().strip("[]<>")
    inner = re.sub(r"^BLISS_", "", inner, flags=re.IGNORECASE)
    return re.sub(r"[^A-Za-z0-9_-]", "", inner)[: limits.SYMBOL_ID_CHARS] or "draft"


def propose_targets(glosses: list[str], tokenizer) -> tuple[list[str], list[str]]:
    """(targets, glosses without one): each gloss's first sub-token after a space, when that is a
    whole token of its own (`` wool`` of `` wool shop``)."""
    targets, without = [], []
    for gloss in glosses:
        ids = tokenizer.encode(" " + gloss.strip(), add_special_tokens=False)
        first = tokenizer.decode(ids[:1]) if ids else ""
        word = first.strip()
        ok = first.startswith(" ") and word and not any(ch.isspace() for ch in word) \
            and len(tokenizer.encode(" " + word, add_special_tokens=False)) == 1
        if ok and word.casefold() not in {t.casefold() for t in targets}:
            targets.append(word)
        elif not ok:
            without.append(gloss)
    return targets, without


def material_for_symbol(symbol, tokenizer=None) -> Material:
    """The material's symbol part from a lexicon ``Symbol``: its usable glosses (a verb's without
    "to"), token name, part of speech, explanation, notes, and target tokens proposed for
    ``tokenizer`` (``core.authoring.lexicon.proposed_targets``)."""
    from core.authoring.glosses import bare_gloss
    from core.authoring.lexicon import proposed_targets

    glosses = [bare_gloss(g) if symbol.pos == "action" else g for g in symbol.glosses]
    glosses = list(dict.fromkeys(g for g in glosses if any(ch.isalpha() for ch in g)))
    if not glosses:
        raise fail("bliss_id", f"symbol {symbol.bci_av_id} ({symbol.raw_gloss!r}) has no gloss usable in a sentence",
                   "choose another symbol, or give --gloss TEXT --token NAME yourself")
    targets = proposed_targets(symbol, tokenizer)[0] if tokenizer is not None else None
    return Material(glosses=glosses, token=symbol.token_name, symbol_id=str(symbol.bci_av_id), pos=symbol.pos,
                    meaning=symbol.explanation, notes=symbol.notes(), targets=targets or None)


def _check_material(m: Material, config: DraftConfig) -> tuple[list[str], str, str]:
    c = Collector()
    glosses = [g.strip() for g in m.glosses if isinstance(g, str) and g.strip()]
    if not glosses:
        c.add("glosses", "are empty", "give at least one gloss, e.g. wool shop")
    token = (m.token or "").strip() or (default_token(m.symbol_id.strip()) if m.symbol_id.strip() else "")
    if not token:
        c.add("token", "is empty", "name the new token, e.g. [BLISS_29111], or give the symbol ID")
    if not m.sentences and not m.corpus and not config.generate:
        c.add("sentences", "none were given",
              "give sentences that use the gloss (one a line), a corpus, or sentences to sample from the model")
    c.raise_if_any()
    return glosses, token, (m.symbol_id or "").strip() or symbol_id_of(token)


def _item(kind: str, source: str, text: str, context: str = "", sentence: str = "") -> dict:
    return {"kind": kind, "source": source, "text": text, "context": context, "sentence": sentence,
            "ranks": {}, "best_rank": None, "status": "dropped", "reason": "", "set": None, "sentence_set": None}


def _positive_items(m: Material, finder: GlossFinder, token: str, config: DraftConfig, model, tokenizer,
                    on_event: EventFn | None) -> list[dict]:
    gathered = [("sentences", s) for s in m.sentences]
    if m.corpus:
        gathered += [("corpus", s) for s in sources.mine_corpus(m.corpus, finder, config.corpus_column,
                                                                config.corpus_sentences)]
    if config.generate:
        sampled = sources.sample_sentences(model, tokenizer, finder.glosses, m.pos, config.generate, config.seed,
                                           m.meaning, on_event=on_event)
        gathered += [("model", s) for s in sampled]
    if len(gathered) > limits.DRAFT_LINES:
        raise fail("sentences", f"{len(gathered):,} sentences in all, over the limit of {limits.DRAFT_LINES:,}",
                   "give fewer sentences or mine fewer from the corpus")
    given = [s for src, s in gathered if src == "sentences"]
    if given and not any(finder.uses(s) for s in given) and not m.corpus:
        raise fail("sentences", f"none of the {len(given)} sentences uses a gloss ({', '.join(finder.glosses)})",
                   "write sentences that use a gloss as whole words (any case), or correct the glosses")
    items, seen = [], {}
    for source, text in gathered:
        it = _item("positive", source, text)
        items.append(it)
        if len(text) > limits.TEXT_CHARS:
            it["reason"] = f"longer than {limits.TEXT_CHARS} characters"
        elif not finder.uses(text):
            it["reason"] = "does not use a gloss"
        else:
            it["context"], it["sentence"] = finder.context(text), finder.with_token(text, token)
            if not it["context"]:
                it["reason"] = "the gloss starts the sentence: no context before it"
            elif len(it["context"]) < config.min_context_chars and text not in config.keep \
                    and it["context"] not in config.keep:
                it["reason"] = f"context shorter than {config.min_context_chars} characters"
            elif it["context"] in seen:
                it["reason"] = f"same context as item {seen[it['context']] + 1}"
            if it["context"] and it["context"] not in seen:
                seen[it["context"]] = len(items) - 1
    return items


def _negative_items(m: Material, config: DraftConfig, positive_contexts: set[str]) -> list[dict]:
    rng = random.Random(config.seed)
    items, seen = [], set()
    for text in m.negatives:
        it = _item("negative", "negatives", text, negative_context(text, rng))
        items.append(it)
        if not it["context"] or len(it["context"]) > limits.TEXT_CHARS:
            it["reason"] = "empty" if not it["context"] else f"longer than {limits.TEXT_CHARS} characters"
        elif it["context"] in seen:
            it["reason"] = "repeats an earlier negative"
        elif it["context"] in positive_contexts:
            it["reason"] = "is also a positive context"
        seen.add(it["context"])
    return items


def draft(material: Material, config: DraftConfig, model, tokenizer, model_name: str = "",
          on_event: EventFn | None = None) -> DraftResult:
    """Draft, screen and split (see the module docstring); raises ``InputError`` on bad material."""
    glosses, token, symbol_id = _check_material(material, config)
    finder = GlossFinder(glosses)
    targets = list(material.targets) if material.targets else propose_targets(glosses, tokenizer)[0]
    if not targets:
        raise fail("target_tokens", f"no gloss ({', '.join(glosses)}) starts with a word that is one token "
                   "for this model", "give target tokens: single words whose logit signals the gloss")
    emit = on_event or (lambda event: None)
    emit({"stage": "gather", "message": "Cutting sentences into contexts"})
    positives = _positive_items(material, finder, token, config, model, tokenizer, on_event)
    negatives = _negative_items(material, config, {i["context"] for i in positives if i["context"]})
    items = positives + negatives
    to_screen = [i for i in items if i["context"] and (not i["reason"] or i["reason"].startswith("context shorter"))]
    emit({"stage": "screen", "message": f"Screening {len(to_screen)} contexts on the model"})
    rows = screen(model, tokenizer, [(i["kind"], i["context"]) for i in to_screen], targets,
                  config.positive_rank, config.negative_rank)
    keep = set(config.keep)
    for it, row in zip(to_screen, rows):
        it["ranks"], it["best_rank"] = row["ranks"], row["best_rank"]
        it["reason"] = it["reason"] or row["reason"]
        forced = bool(keep & {it["text"], it["context"]})
        it["status"] = "kept" if forced or not it["reason"] else "dropped"
        if forced and it["reason"]:
            it["reason"] = f"kept by request ({it['reason']})"
    kept_pos = [i for i in positives if i["status"] == "kept"]
    kept_neg = [i for i in negatives if i["status"] == "kept"]
    check_enough(len(kept_pos), len(kept_neg), hint=" (or widen N and M, or keep dropped items)")
    # A sentence whose context was dropped still shows the token in use: it can join the training.
    # Not one that repeats a kept context: that context may be held out.
    kept_contexts = {i["context"] for i in kept_pos}
    more = [i for i in positives if i["status"] == "dropped" and i["sentence"] and i["context"] not in kept_contexts]
    parts = split([(i["context"], i["sentence"]) for i in kept_pos], [i["context"] for i in kept_neg], config.seed,
                  [i["sentence"] for i in more])
    where = {}
    for name, values in parts.sets.items():
        for v in values:
            where.setdefault(v, name)
    for it in kept_pos + kept_neg:
        it["set"] = where.get(it["context"]) or where.get(it["sentence"])
        if it["set"] is None:
            it["status"], it["reason"] = "dropped", "its set is full"
    training = set(parts.sets["fine_tuning_sentences"])
    for it in positives:
        it["sentence_set"] = where.get(it["sentence"]) if it["sentence"] in training or it["status"] == "kept" else None
    notes = "\n".join(line for line in material.notes.strip().splitlines() if not line.startswith("Drafted from "))
    notes = notes.strip() or (f"Bliss {symbol_id}: {material.meaning.strip()}" if material.meaning else "")
    notes = (notes + "\n" if notes else "") + (
        f"Drafted from {len(positives)} sentences and {len(negatives)} negatives, screened on {model_name or 'the model'}"
        f" (positive: a target within rank {config.positive_rank}; negative: every target beyond "
        f"{config.negative_rank}); split with seed {config.seed}.")
    spec = GlossSpec(symbol_id=symbol_id, glosses=glosses[: limits.COUNTS["glosses"][1]], new_token=token,
                     target_tokens=targets[: limits.COUNTS["target_tokens"][1]],
                     generation_prompts=templates.generation_prompts(material.pos),
                     notes=notes[: limits.NOTES_CHARS], **parts.sets)
    problems = validate_for_tokenizer(spec, tokenizer)
    if problems:
        raise InputError(problems)
    emit({"stage": "done", "message": f"Drafted a spec from {len(kept_pos)} sentences and {len(kept_neg)} negatives"})
    return DraftResult(spec, items, config, model_name)


def _lexicon_symbol(symbol_id: str):
    """The lexicon's symbol for a numeric ID, or None (a spec need not be a lexicon symbol)."""
    if not symbol_id.strip().isdigit():
        return None
    from core.authoring.lexicon import load_lexicon

    try:
        return load_lexicon().symbol(symbol_id.strip())
    except InputError:
        return None


def draft_values(values: dict, model, tokenizer, model_name: str = "", on_event: EventFn | None = None) -> dict:
    """The page's draft: ``values`` holds the Gloss tab's symbol fields (``symbol_id``, ``glosses``,
    ``new_token``, ``target_tokens``, ``notes``), the pasted ``sentences`` and ``negatives`` (text,
    one a line), an optional ``corpus`` path, ``keep`` (text, one a line) and the ``DraftConfig``
    settings by name. A numeric symbol ID found in the lexicon gives the part of speech and meaning."""
    from core.authoring.sources import parse_answer

    values = dict(values)
    lines = {name: values.pop(name, "") or "" for name in ("sentences", "negatives", "keep")}
    symbol_fields = {name: values.pop(name, None) for name in ("symbol_id", "glosses", "new_token", "target_tokens",
                                                                "notes", "corpus", "pos")}
    values["keep"] = parse_answer(lines["keep"], "keep")
    config = DraftConfig.from_dict(values)
    sid = str(symbol_fields["symbol_id"] or "").strip()
    symbol = _lexicon_symbol(sid)
    glosses = [g for g in symbol_fields["glosses"] or [] if g.strip()]
    material = Material(
        glosses=glosses, token=str(symbol_fields["new_token"] or ""), symbol_id=sid,
        pos=symbol_fields["pos"] or (symbol.pos if symbol else "noun"), meaning=symbol.explanation if symbol else "",
        notes=str(symbol_fields["notes"] or "") or (symbol.notes() if symbol else ""), targets=[t for t in symbol_fields["target_tokens"] or [] if t.strip()],
        sentences=parse_answer(lines["sentences"], "sentences"), negatives=parse_answer(lines["negatives"], "negatives"),
        corpus=str(symbol_fields["corpus"] or ""))
    return draft(material, config, model, tokenizer, model_name, on_event).to_dict()


def chat_prompts(glosses: list[str], symbol_id: str = "") -> dict:
    """The two requests to paste into a chat assistant, in the symbol's part of speech when known."""
    from core.authoring.sources import chat_prompt

    glosses = [g.strip() for g in glosses if g and g.strip()]
    if not glosses:
        raise fail("glosses", "are empty", "give at least one gloss (or look a symbol up) first")
    symbol = _lexicon_symbol(symbol_id or "")
    return chat_prompt(glosses, symbol.pos if symbol else "noun", meaning=symbol.explanation if symbol else "")
