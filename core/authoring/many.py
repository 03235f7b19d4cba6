"""Drafting many symbols of the Bliss lexicon without hand-written sentences.

``select`` turns IDs or a part of the lexicon into an ordered list of symbols (unknown IDs are
named and left out; two symbols never share a gloss: a later symbol loses a gloss an earlier one
has, see ``assign_glosses``). ``batches`` cuts that list into fixed batches, and
``draft_batch(symbols, …)`` drafts one batch, returning one record per symbol. It reads and
writes no file, so a Ray task can run it and a driver write what it returns
(``core.authoring.many_store``).

For each symbol the material is

* sentences the *writer* model writes that use the gloss, the batch's symbols sampled together
  (``sources.sample_many``), seeded by the run's seed and the batch's IDs;
* definition sentences from the lexicon's explanation, the explanation then the gloss
  (``templates.definition_sentences``), and the part of speech's sentence templates;
* negatives: the batch's other symbols' sentences, cut after their own gloss (so a negative never
  ends where another symbol's token would stand), and generic sentences
  (``data/generic_sentences.txt``), cut at a seeded word;

and it is drafted as one symbol is (``draft.draft``: contexts cut, short ones lengthened with the
sentence before them, screened with N and M, split with the seed). The ranks of contexts shared by
the batch's symbols are measured once (``screen.RankCache``). A symbol that cannot be drafted
(no usable gloss, no target token, too little material after screening) gets a record saying why.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field

from core.authoring import sources, templates
from core.authoring.draft import DraftConfig, draft, material_for_symbol
from core.authoring.items import Line
from core.authoring.screen import RankCache
from core.authoring.sentences import GlossFinder, cut_at_word
from core.spec import limits, settings
from core.spec.errors import Collector, InputError, fail
from core.spec.gloss import DATA_DIR
from core.spec.settings import setting

KINDS = ("multi-token", "single-token", "all")
# ``DraftConfig``'s settings that a vocabulary draft does not take per symbol: the writer's sentences are
# ``ManyConfig.generate``, the seed is the run's, and there is no corpus or list of items to keep.
NOT_SCREENING = ("generate", "corpus_sentences", "corpus_column", "seed", "keep")
GENERIC_PATH = DATA_DIR / "generic_sentences.txt"
MAX_NEW_TOKENS = 32   # a written sentence is its first line, rarely longer than 30 tokens


@dataclass
class ManyConfig(settings.Config):
    """How many symbols are drafted: the writer's sentences, the batches, the negatives."""

    WHAT = "vocabulary drafting settings"

    generate: int = setting(8, label="Sentences the writer writes per symbol", range=limits.DRAFT_GENERATE,
                            help="Candidate sentences the writer model samples for each symbol (seeded); those that "
                                 "use the gloss become material.")
    batch_symbols: int = setting(8, label="Symbols drafted together", range=limits.VOCAB_DRAFT_BATCH,
                                 help="Symbols whose sentences are sampled in one batch and whose shared contexts are "
                                      "screened once; the seed applies per batch, so the same selection and batch size "
                                      "give the same vocabulary.")
    negatives_from_others: int = setting(12, label="Negatives from other symbols' sentences",
                                         range=limits.VOCAB_DRAFT_NEGATIVES,
                                         help="Sentences of the batch's other symbols taken as negatives for each "
                                              "symbol (cut after their own gloss), besides the generic sentences.")


# -- which symbols -----------------------------------------------------------------------------------

@dataclass
class Selection:
    """The symbols to draft, in order, each with the glosses it may use; what was asked for but left out."""

    symbols: list = field(default_factory=list)
    glosses: dict = field(default_factory=dict)          # BCI-AV ID → glosses (a shared gloss stays with the first)
    unknown: list[str] = field(default_factory=list)     # asked-for IDs the lexicon does not have
    failed: dict = field(default_factory=dict)           # BCI-AV ID → why it cannot be drafted (known before drafting)


def parse_ids(text: str) -> list[str]:
    """IDs separated by commas, spaces or line breaks, once each, in order."""
    return list(dict.fromkeys(x for x in re.split(r"[\s,;]+", text or "") if x))


def _by_kind(lexicon, tokenizer, kind: str) -> list:
    symbols = [s for s in lexicon if s.bci_av_id is not None]
    if kind == "all":
        return symbols
    texts = sorted({" " + g.strip() for s in symbols for g in s.glosses})
    lengths = dict(zip(texts, (len(i) for i in tokenizer(texts, add_special_tokens=False)["input_ids"])))
    single = {s.bci_av_id for s in symbols if any(lengths[" " + g.strip()] == 1 for g in s.glosses)}
    return [s for s in symbols if s.glosses and (s.bci_av_id in single) == (kind == "single-token")]


def check_request(lexicon, ids: list[str] | None, kind: str | None, pos: str | None, limit) -> None:
    """What can be checked before a model loads: one way of choosing, a known kind and part of
    speech, a limit of at least 1."""
    c = Collector()
    if (ids is None) == (kind is None):
        c.add("ids", "give either IDs or a part of the lexicon", "use --ids, --ids-file or --lexicon, one of them")
    if kind is not None and kind not in KINDS:
        c.add("lexicon", f"{kind!r} is not one of {', '.join(KINDS)}", f"choose one of {', '.join(KINDS)}")
    known_pos = sorted({s.pos for s in lexicon if s.pos})
    if pos is not None and pos not in known_pos:
        c.add("pos", f"{pos!r} is not a part of speech of the lexicon", f"choose one of {', '.join(known_pos)}")
    if limit is not None:
        settings.check_value(c, "limit", limit, kind="int", range=limits.VOCAB_DRAFT_LIMIT, example=300)
    if ids is not None and not ids:
        c.add("ids", "is empty", "give BCI-AV IDs separated by commas, e.g. 16228,29111")
    c.raise_if_any()


def select(lexicon, tokenizer=None, *, ids: list[str] | None = None, kind: str | None = None,
           pos: str | None = None, limit: int | None = None) -> Selection:
    """The symbols asked for: ``ids`` (in their order) or the lexicon's ``kind`` (in ID order;
    ``multi-token`` and ``single-token`` need ``tokenizer``), of part of speech ``pos``, the first
    ``limit``. Raises ``InputError`` for an unknown kind or part of speech, a bad limit, or nothing left."""
    check_request(lexicon, ids, kind, pos, limit)
    out = Selection()
    if ids is not None:
        chosen = []
        for x in ids:
            try:
                chosen.append(lexicon.symbol(x))
            except InputError:
                out.unknown.append(str(x))
    else:
        chosen = sorted(_by_kind(lexicon, tokenizer, kind), key=lambda s: s.bci_av_id)
    chosen = [s for s in chosen if pos is None or s.pos == pos][: limit or None]
    if not chosen:
        asked = f"IDs {', '.join(out.unknown[:5])}" if ids is not None else f"the lexicon's {kind} symbols"
        raise fail("ids" if ids is not None else "lexicon",
                   f"the selection is empty: no symbol of {asked}{f' is a {pos}' if pos else ''} is in the lexicon",
                   "check the IDs with `python -m core lexicon show ID`, or choose another part of the lexicon")
    out.symbols = chosen
    out.glosses, out.failed = assign_glosses(chosen)
    return out


def assign_glosses(symbols: list) -> tuple[dict, dict]:
    """Each symbol's usable glosses (a verb's without "to"), a gloss given to the first symbol that
    has it (two symbols with one gloss could not be told apart); symbols left with none fail."""
    from core.authoring.glosses import bare_gloss

    owner: dict[str, int] = {}
    glosses, failed = {}, {}
    for s in symbols:
        mine = [bare_gloss(g) if s.pos == "action" else g for g in s.glosses]
        mine = list(dict.fromkeys(g for g in mine if any(ch.isalpha() for ch in g)))
        if not mine:
            failed[s.bci_av_id] = f"no gloss usable in a sentence ({s.raw_gloss!r})"
            continue
        free = [g for g in mine if owner.get(" ".join(g.casefold().split()), s.bci_av_id) == s.bci_av_id]
        if not free:
            others = sorted({owner[" ".join(g.casefold().split())] for g in mine})
            failed[s.bci_av_id] = (f"every gloss ({', '.join(mine)}) is also a gloss of symbol "
                                   f"{', '.join(map(str, others))}, drafted before it")
            continue
        for g in free:
            owner.setdefault(" ".join(g.casefold().split()), s.bci_av_id)
        glosses[s.bci_av_id] = free
    return glosses, failed


def batches(selection: Selection, size: int) -> list[list]:
    """The selection's symbols in fixed batches of ``size`` (the last one shorter): a resumed run
    recomputes a batch exactly as the first run did."""
    return [selection.symbols[i:i + size] for i in range(0, len(selection.symbols), size)]


def batch_seed(seed: int, ids: list) -> int:
    """The writer's seed for one batch: the run's seed and the batch's IDs (not its position)."""
    digest = hashlib.sha256(f"{seed}:{','.join(map(str, ids))}".encode()).hexdigest()
    return int(digest[:8], 16)


def generic_sentences() -> list[str]:
    """The generic sentences every symbol gets as negatives (written for Gloss Lab)."""
    return [line.strip() for line in GENERIC_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- one batch -------------------------------------------------------------------------------------

def _record(symbol, status: str, reason: str = "", result=None) -> dict:
    return {"symbol_id": str(symbol.bci_av_id), "token": symbol.token_name, "gloss": symbol.raw_gloss,
            "pos": symbol.pos, "status": status, "reason": reason,
            "spec": result.spec.to_dict() if result is not None else None,
            "counts": result.counts() if result is not None else None}


def _reason(exc: InputError) -> str:
    return "; ".join(f"{p.field}: {p.problem}" for p in exc.problems)[:600]


def _cut_after(sentence: str, finder: GlossFinder, rng: random.Random) -> str:
    """A sentence cut at a seeded word after its last gloss (or right after the gloss)."""
    found = finder.matches(sentence)
    if not found:
        return ""
    head, tail = sentence[: found[-1].end], sentence[found[-1].end:]
    words = tail.split()
    keep = rng.randint(0, max(0, len(words) - 1)) if words else 0
    return " ".join([head.strip(), *words[:keep]]).rstrip(" ,;:–—-")


def _materials(symbols: list, glosses: dict, tokenizer) -> tuple[list, list[dict]]:
    """(symbol, material) for the symbols that have one, and failure records for the others."""
    ready, failed = [], []
    for s in symbols:
        try:
            m = material_for_symbol(s, tokenizer)
        except InputError as exc:
            failed.append(_record(s, "failed", _reason(exc)))
            continue
        m.glosses = list(glosses.get(s.bci_av_id) or m.glosses)
        if m.targets:
            m.targets = [t for t in m.targets if any(g.split()[0].casefold() == t.casefold() for g in m.glosses)] \
                or None
        ready.append((s, m))
    return ready, failed


def draft_batch(symbols: list, glosses: dict, model, tokenizer, draft_config: DraftConfig, config: ManyConfig,
                seed: int, writer=None, writer_tokenizer=None, model_name: str = "",
                generic: list[str] | None = None) -> list[dict]:
    """Draft one batch of lexicon symbols (see the module docstring): one record per symbol, in
    order, ``{"symbol_id", "token", "gloss", "pos", "status": "drafted" | "failed", "reason",
    "spec", "counts"}``. Pure: reads no file and writes none (``generic``: the generic sentences,
    default ``generic_sentences()``)."""
    ready, failed = _materials(symbols, glosses, tokenizer)
    requests = [(m.glosses, m.pos, m.meaning) for _, m in ready]
    written = sources.sample_many(writer or model, writer_tokenizer or tokenizer, requests, config.generate,
                                  batch_seed(seed, [s.bci_av_id for s in symbols]), MAX_NEW_TOKENS)
    for (s, m), sampled in zip(ready, written):
        texts = [*(("lexicon", x) for x in templates.definition_sentences(m.glosses[0], m.meaning, s.part_glosses)),
                 *(("templates", x) for x in templates.template_sentences(m.glosses[0], m.pos)),
                 *(("model", x) for x in sampled if x)]
        # One list in this order, so a short context gets the line before it (the symbol's own material).
        m.lines = [Line(source, x, texts[i - 1][1] if i else "") for i, (source, x) in enumerate(texts)]
    generic_cut = _generic_negatives(generic if generic is not None else generic_sentences(), seed)
    others = _others(ready, seed, symbols)
    cache = RankCache()
    shared = generic_cut + [c for pool in others.values() for c in pool]
    cache.prepare(model, tokenizer, shared, [t for _, m in ready for t in (m.targets or [])])
    records = {r["symbol_id"]: r for r in failed}
    for s, m in ready:
        finder = GlossFinder(m.glosses)
        picked = _pick(others, s.bci_av_id, config.negatives_from_others, seed)
        m.negatives = generic_cut + [c for c in picked if not finder.uses(c)]
        try:
            result = draft(m, draft_config, model, tokenizer, model_name, screener=cache)
        except InputError as exc:
            records[str(s.bci_av_id)] = _record(s, "failed", _reason(exc))
            continue
        records[str(s.bci_av_id)] = _record(s, "drafted", "", result)
    return [records[str(s.bci_av_id)] for s in symbols]


def _generic_negatives(sentences: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    return list(dict.fromkeys(cut_at_word(s, rng) for s in sentences))


def _others(ready: list, seed: int, symbols: list) -> dict[int, list[str]]:
    """Each symbol's sentences (written and templated), cut after its own gloss: the pool that the
    batch's other symbols draw their negatives from."""
    rng = random.Random(batch_seed(seed, [s.bci_av_id for s in symbols]) + 1)
    pools = {}
    for s, m in ready:
        finder = GlossFinder(m.glosses)
        cuts = [_cut_after(ln.text, finder, rng) for ln in m.lines]
        pools[s.bci_av_id] = [c for c in dict.fromkeys(cuts) if c and len(c) <= limits.TEXT_CHARS]
    return pools


def _pick(pools: dict[int, list[str]], own: int, n: int, seed: int) -> list[str]:
    """``n`` negatives drawn (seeded by the symbol) from the other symbols' pools."""
    candidates = [c for sid, pool in pools.items() if sid != own for c in pool]
    rng = random.Random(batch_seed(seed, [own]))
    return rng.sample(candidates, min(n, len(candidates)))
