"""Drafting a gloss spec from raw material: sentences, negatives, a corpus, the loaded model.

``draft(material, config, model, tokenizer)`` runs the research's recipe (method.md, "Authoring
contexts") end to end, with one change: contexts and sentences are judged apart.

1. gather positive sentences (given, mined from a corpus, sampled from the model, or lines a
   caller gathered already) and negatives;
2. cut each sentence right before the last occurrence of a gloss (the positive context) and
   replace the gloss by the token (the fine-tuning sentence) (``core.authoring.items``). A
   context shorter than ``min_context_chars`` is lengthened with the sentence before it in the
   material (``lengthen_contexts``) or dropped; repeated contexts are dropped;
3. screen every context on the model (``screen``): positives need a target within
   ``positive_rank``, negatives every target beyond ``negative_rank``; items in ``keep`` stay
   whatever their ranks. Screening decides which *contexts* are kept: every sentence that uses a
   gloss stays usable as a fine-tuning or validation sentence whatever its context;
4. split the kept material with ``seed`` (``split``) and build the spec, whose generation prompts
   come from the part of speech's templates.

The result holds the spec and a report: every item with its ranks, kept (and in which set) or
dropped (and why). Bad material raises ``InputError`` naming the field and the fix; too little
material after screening raises one that counts the drops by reason, suggests the change that
would help (``core.authoring.diagnose``) and carries every item in ``details["items"]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from core.authoring import diagnose, items as rows, sources, templates
from core.authoring.items import Line, lines_in_order
from core.authoring.screen import screen
from core.authoring.sentences import GlossFinder
from core.authoring.split import split
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
                                     help="A positive context (the words before the gloss) shorter than this is lengthened "
                                          "or dropped; its sentence still trains the token (the research used 40).")
    lengthen_contexts: bool = setting(True, label="Lengthen short contexts",
                                      help="A positive context shorter than the minimum gets the sentence before it in the "
                                           "material (the line before it, or the corpus's sentence before it), as written.")
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
    lines: list[Line] = field(default_factory=list)   # sentences a caller gathered already, with their sources


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
        positives = [i for i in self.items if i["kind"] == "positive"]
        out["positive"]["sentences_used"] = sum(bool(i["sentence_set"]) for i in positives)
        out["positive"]["lengthened"] = sum(bool(i["lengthened_with"]) for i in positives if i["status"] == "kept")
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
    if not m.sentences and not m.corpus and not config.generate and not m.lines:
        c.add("sentences", "none were given",
              "give sentences that use the gloss (one a line), a corpus, or sentences to sample from the model")
    c.raise_if_any()
    return glosses, token, (m.symbol_id or "").strip() or symbol_id_of(token)


def _gather(m: Material, finder: GlossFinder, config: DraftConfig, model, tokenizer,
            on_event: EventFn | None) -> list[Line]:
    """Every positive sentence with its source and the sentence before it in its material."""
    lines = lines_in_order("sentences", m.sentences) + list(m.lines)
    if m.corpus:
        lines += [Line("corpus", s, before) for before, s in
                  sources.mine_corpus_pairs(m.corpus, finder, config.corpus_column, config.corpus_sentences)]
    if config.generate:
        sampled = sources.sample_sentences(model, tokenizer, finder.glosses, m.pos, config.generate, config.seed,
                                           m.meaning, on_event=on_event)
        lines += lines_in_order("model", sampled)
    if len(lines) > limits.DRAFT_LINES:
        raise fail("sentences", f"{len(lines):,} sentences in all, over the limit of {limits.DRAFT_LINES:,}",
                   "give fewer sentences or mine fewer from the corpus")
    return lines


def _check_gathered(lines: list[Line], finder: GlossFinder, config: DraftConfig) -> None:
    """Material that cannot make a spec whatever the screening: no sentence uses a gloss, or the
    shortest context asked for is longer than every sentence."""
    using = [ln.text for ln in lines if finder.uses(ln.text)]
    if not using:
        where = sorted({ln.source for ln in lines})
        field_name = "sentences" if "sentences" in where or not where else {"model": "generate"}.get(where[0], where[0])
        raise fail(field_name, f"none of the {len(lines)} sentences uses a gloss ({', '.join(finder.glosses)})",
                   "write sentences that use a gloss as whole words (any case), or correct the glosses")
    longest = max(len(text) for text in using)
    if config.min_context_chars > longest:
        raise fail("min_context_chars", f"is {config.min_context_chars}, longer than the longest sentence with the "
                   f"gloss ({longest} characters): no context can be that long",
                   f"give at most {longest} (the research used 40; 0 keeps every length)")


def _assign_sets(positives: list[dict], negatives: list[dict], sets: dict[str, list[str]]) -> None:
    """Record in every row the set its context went to, and the set its sentence went to."""
    where: dict[str, str] = {}
    for name, values in sets.items():
        for v in values:
            where.setdefault(v, name)
    for it in positives + negatives:
        if it["status"] != "kept":
            continue
        it["set"] = where.get(it["context"])
        if it["set"] is None:
            it["status"], it["why"], it["reason"] = "dropped", "full", "its set is full"
    sentence_sets = {name: set(sets[name]) for name in ("fine_tuning_sentences", "validation_sentences")}
    for it in positives:
        it["sentence_set"] = next((name for name, values in sentence_sets.items() if it["sentence"] in values), None)


def _notes(material: Material, symbol_id: str, n_pos: int, n_neg: int, config: DraftConfig, model_name: str) -> str:
    notes = "\n".join(line for line in material.notes.strip().splitlines() if not line.startswith("Drafted from "))
    notes = notes.strip() or (f"Bliss {symbol_id}: {material.meaning.strip()}" if material.meaning else "")
    notes = (notes + "\n" if notes else "") + (
        f"Drafted from {n_pos} sentences and {n_neg} negatives, screened on {model_name or 'the model'}"
        f" (positive: a target within rank {config.positive_rank}; negative: every target beyond "
        f"{config.negative_rank}); split with seed {config.seed}.")
    return notes[: limits.NOTES_CHARS]


def draft(material: Material, config: DraftConfig, model, tokenizer, model_name: str = "",
          on_event: EventFn | None = None, screener: Callable | None = None) -> DraftResult:
    """Draft, screen and split (see the module docstring); raises ``InputError`` on bad material.

    ``screener``: what ranks the contexts, with ``screen``'s arguments and rows (default ``screen``;
    drafting many symbols passes one that reuses the ranks of contexts shared between symbols)."""
    glosses, token, symbol_id = _check_material(material, config)
    finder = GlossFinder(glosses)
    targets = list(material.targets) if material.targets else propose_targets(glosses, tokenizer)[0]
    if not targets:
        raise fail("target_tokens", f"no gloss ({', '.join(glosses)}) starts with a word that is one token "
                   "for this model", "give target tokens: single words whose logit signals the gloss")
    emit = on_event or (lambda event: None)
    lines = _gather(material, finder, config, model, tokenizer, on_event)
    _check_gathered(lines, finder, config)
    emit({"stage": "gather", "message": "Cutting sentences into contexts"})
    keep = set(config.keep)
    positives = rows.positive_items(lines, finder, token, config, keep)
    negatives = rows.negative_items(material.negatives, config.seed, {i["context"] for i in positives if i["context"]})
    everything = positives + negatives
    rows.drop_over_token_limits(everything, tokenizer, token, glosses[0])
    to_screen = rows.to_screen(everything)
    emit({"stage": "screen", "message": f"Screening {len(to_screen)} contexts on the model"})
    screened = (screener or screen)(model, tokenizer, [(i["kind"], i["context"]) for i in to_screen], targets,
                                    config.positive_rank, config.negative_rank)
    rows.apply_screening(to_screen, screened, keep)
    diagnose.check_enough(positives, negatives, config, {"items": everything, "model": model_name})
    kept_pos = [i for i in positives if i["status"] == "kept"]
    kept_neg = [i for i in negatives if i["status"] == "kept"]
    more = [(i["context"], i["sentence"]) for i in positives if i["status"] == "dropped" and i["sentence"]]
    parts = split([(i["context"], i["sentence"]) for i in kept_pos], [i["context"] for i in kept_neg], config.seed,
                  more)
    _assign_sets(positives, negatives, parts.sets)
    spec = GlossSpec(symbol_id=symbol_id, glosses=glosses[: limits.COUNTS["glosses"][1]], new_token=token,
                     target_tokens=targets[: limits.COUNTS["target_tokens"][1]],
                     generation_prompts=templates.generation_prompts(material.pos),
                     notes=_notes(material, symbol_id, len(positives), len(negatives), config, model_name),
                     description=material.meaning.strip()[: limits.DESCRIPTION_CHARS], **parts.sets)
    problems = validate_for_tokenizer(spec, tokenizer)
    if problems:
        raise InputError(problems, {"items": everything, "model": model_name})
    emit({"stage": "done", "message": f"Drafted a spec from {len(kept_pos)} contexts, "
                                      f"{sum(bool(i['sentence_set']) for i in positives)} sentences and "
                                      f"{len(kept_neg)} negatives"})
    return DraftResult(spec, everything, config, model_name)


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
