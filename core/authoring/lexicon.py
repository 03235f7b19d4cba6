"""The open Bliss lexicon: symbols by BCI-AV ID, search by words, targets and statistics per tokenizer.

The lexicon ships as ``data/bliss/bliss_symbol_explanations.json`` (CC BY-SA 4.0; its license and
attribution travel inside the file, see ``data/bliss/README.md``). It is read once per process into
an in-memory ``datasets.Dataset`` (no cache files, no network) and every row becomes a ``Symbol``
with its gloss parsed by ``core.authoring.glosses``.

A composition lists the lexicon's own entry ids (the file's ``id``, not BCI-AV IDs) joined by
operators: ``/`` between parts, ``;`` before an indicator, ``RK:n`` for spacing and ``X…`` for
Latin letters. ``Lexicon.parts`` resolves the ids to symbols.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from core.authoring import templates
from core.authoring.glosses import bare_gloss, first_word, parse_gloss
from core.spec import limits
from core.spec.errors import fail
from core.spec.gloss import DATA_DIR, default_token, target_text

LEXICON_PATH = DATA_DIR / "bliss" / "bliss_symbol_explanations.json"
SEARCH_HINT = "find one by words with `python -m core lexicon search WORDS`, e.g. post office → 16228"


@dataclass(frozen=True)
class Symbol:
    """One lexicon entry with its gloss parsed (see ``core.authoring.glosses``)."""

    bci_av_id: int | None          # None for the few entries not yet in the official BCI-AV set
    glosses: tuple[str, ...]
    qualifiers: tuple[str, ...]
    markers: tuple[str, ...]
    raw_gloss: str
    pos: str
    explanation: str
    is_character: bool
    composition: tuple = ()
    entry_id: int = 0              # the lexicon's own id, which compositions refer to
    part_glosses: tuple[str, ...] = ()  # each composition part's first gloss, in order

    @property
    def token_name(self) -> str:
        return default_token(str(self.bci_av_id))

    def notes(self) -> str:
        """Part of speech, explanation, qualifiers, markers and composition, for a spec's notes."""
        head = f"Bliss symbol {self.bci_av_id}" if self.bci_av_id is not None else "Bliss symbol"
        out = [f"{head}: {self.raw_gloss}.", f"Part of speech: {self.pos}{' (a character)' if self.is_character else ''}."]
        if self.explanation:
            out.append(f"Explanation: {self.explanation.rstrip('.')}.")
        if self.qualifiers:
            out.append("Qualifiers: " + "; ".join(self.qualifiers) + ".")
        if self.markers:
            out.append("Markers: " + ", ".join(self.markers) + ".")
        if self.part_glosses:
            out.append("Composed of: " + " + ".join(self.part_glosses) + ".")
        out.append("Source: the open Bliss lexicon (CC BY-SA 4.0).")
        return " ".join(out)

    def to_dict(self) -> dict:
        return {"bci_av_id": self.bci_av_id, "token_name": self.token_name if self.bci_av_id is not None else None,
                "glosses": list(self.glosses), "qualifiers": list(self.qualifiers), "markers": list(self.markers),
                "raw_gloss": self.raw_gloss, "pos": self.pos, "explanation": self.explanation,
                "is_character": self.is_character, "composition": list(self.composition),
                "parts": list(self.part_glosses), "notes": self.notes()}


def _composition_item(item: str):
    return int(item) if re.fullmatch(r"\d+", item) else item


def _part_name(item, by_entry: dict[int, dict]) -> str | None:
    """A composition item as a reader names it: a part's first gloss, a letter, or None (layout)."""
    if isinstance(item, int):
        row = by_entry.get(item)
        if row is None:
            return f"entry {item}"
        parsed = parse_gloss(row["gloss"])
        return parsed.glosses[0] if parsed.glosses else row["gloss"]
    if item.startswith("X") and len(item) > 1:
        return f"letter {item[1:]!r}"
    return None


class Lexicon:
    """Every symbol of the lexicon; look up by BCI-AV ID, search by words, resolve compositions."""

    def __init__(self, table, license: dict, attribution: dict, path: Path) -> None:
        self.table = table            # the datasets.Dataset, one row per entry
        self.license = license
        self.attribution = attribution
        self.path = path
        rows = table.to_list()
        by_entry = {row["id"]: row for row in rows}
        self._symbols: list[Symbol] = []
        for row in rows:
            parsed = parse_gloss(row["gloss"])
            composition = tuple(_composition_item(x) for x in row["composition"] or [])
            names = tuple(n for n in (_part_name(x, by_entry) for x in composition) if n)
            self._symbols.append(Symbol(
                bci_av_id=row["bciAvId"], glosses=parsed.glosses, qualifiers=parsed.qualifiers,
                markers=parsed.markers, raw_gloss=row["gloss"], pos=row["pos"] or "",
                explanation=row["explanation"] or "", is_character=bool(row["isCharacter"]),
                composition=composition, entry_id=row["id"], part_glosses=names))
        self._by_id = {s.bci_av_id: s for s in self._symbols if s.bci_av_id is not None}
        self._by_entry = {s.entry_id: s for s in self._symbols}
        self._index = [(s, [(g.casefold(), i) for i, g in enumerate(s.glosses)]) for s in self._symbols
                       if s.bci_av_id is not None]

    def __len__(self) -> int:
        return len(self._symbols)

    def __iter__(self):
        return iter(self._symbols)

    def symbol(self, bci_av_id) -> Symbol:
        """The symbol with this BCI-AV ID (an int or its digits); InputError on ``bliss_id`` otherwise."""
        text = str(bci_av_id).strip() if bci_av_id is not None else ""
        if not text:
            raise fail("bliss_id", "is empty", "give a BCI-AV ID such as 16228; " + SEARCH_HINT)
        if not re.fullmatch(r"\d{1,9}", text):
            raise fail("bliss_id", f"{text[:40]!r} is not a BCI-AV ID (a whole number)",
                       "give the number only, e.g. 16228; " + SEARCH_HINT)
        found = self._by_id.get(int(text))
        if found is None:
            raise fail("bliss_id", f"no symbol of the lexicon has the BCI-AV ID {int(text)}",
                       "check the number; " + SEARCH_HINT)
        return found

    def parts(self, symbol: Symbol) -> list[Symbol]:
        """The symbols a composition is made of, in order (indicators included; operators skipped)."""
        return [self._by_entry[x] for x in symbol.composition if isinstance(x, int) and x in self._by_entry]

    def search(self, words: str, limit: int = 20) -> list[tuple[Symbol, float]]:
        """Symbols whose glosses match ``words``, best first, with a score in (0, 1].

        Tiers: the whole gloss (1.0; a verb without its "to" 0.95) > every word a whole word of a
        gloss (0.6-0.8, fewer extra words first) > every word the start of a gloss word (0.4-0.5)
        > the words inside a gloss (0.3) > every word in the explanation (0.15). Within a tier an
        earlier synonym wins, then the shorter gloss, then the lower ID.
        """
        query = " ".join(str(words or "").casefold().split())
        if not query:
            raise fail("words", "is empty", "type one or more words of a gloss, e.g. post office")
        if len(query) > limits.LEXICON_QUERY_CHARS:
            raise fail("words", f"is {len(query)} characters, over the limit of {limits.LEXICON_QUERY_CHARS}",
                       "type a few words of a gloss")
        lo, hi = limits.LEXICON_RESULTS
        if isinstance(limit, bool) or not isinstance(limit, int) or not lo <= limit <= hi:
            raise fail("limit", f"{limit!r} is not a whole number from {lo} to {hi}", "give a number such as 20")
        q_words = query.split()
        hits = []
        for symbol, glosses in self._index:
            best = 0.0
            for gloss, position in glosses:
                score = _gloss_score(query, q_words, gloss, symbol.pos)
                if score:
                    best = max(best, score - 0.002 * min(position, 9))
            if not best and set(q_words) <= set(re.findall(r"[\w'%-]+", symbol.explanation.casefold())):
                best = 0.15
            if best:
                hits.append((symbol, round(best, 4)))
        hits.sort(key=lambda h: (-h[1], len(h[0].glosses[0]) if h[0].glosses else 99, h[0].bci_av_id))
        return hits[:limit]


def _gloss_score(query: str, q_words: list[str], gloss: str, pos: str) -> float:
    if gloss == query:
        return 1.0
    if pos == "action" and bare_gloss(gloss) == query:
        return 0.95
    g_words = re.findall(r"[\w'%.-]+", gloss)
    extra = max(0, len(g_words) - len(q_words))
    if all(w in g_words for w in q_words):
        return 0.8 - 0.04 * min(extra, 5)
    if all(any(g.startswith(w) for g in g_words) for w in q_words):
        return 0.5 - 0.02 * min(extra, 5)
    if query in gloss:
        return 0.3
    return 0.0


@functools.lru_cache(maxsize=2)
def _load(path: str) -> Lexicon:
    from datasets import Dataset, Features, List, Value

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = data["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise fail("lexicon", f"{path} could not be read ({type(exc).__name__})",
                   "restore data/bliss/bliss_symbol_explanations.json from the repository") from None
    features = Features({"id": Value("int32"), "bciAvId": Value("int64"), "gloss": Value("string"),
                         "pos": Value("string"), "explanation": Value("string"), "isCharacter": Value("bool"),
                         "composition": List(Value("string"))})
    # Compositions mix entry ids and operators; as strings they fit one Arrow column.
    table = Dataset.from_list([{"id": r["id"], "bciAvId": r.get("bciAvId"), "gloss": r.get("gloss") or "",
                                "pos": r.get("pos"), "explanation": r.get("explanation"),
                                "isCharacter": r.get("isCharacter", False),
                                "composition": [str(x) for x in r.get("composition") or []]} for r in rows],
                              features=features)
    return Lexicon(table, data.get("license") or {}, data.get("attribution") or {}, Path(path))


def load_lexicon(path=None) -> Lexicon:
    """The lexicon shipped in data/bliss (or the file at ``path``), read once per process."""
    return _load(str(Path(path or LEXICON_PATH).resolve()))


# -- against a tokenizer ----------------------------------------------------------------------------
def _target_word(gloss: str, pos: str) -> str:
    """The word of a gloss whose token would signal it: its first word (a verb's after "to")."""
    return first_word(bare_gloss(gloss) if pos == "action" else gloss)


def proposed_targets(symbol: Symbol, tokenizer) -> tuple[list[str], list[str]]:
    """(target words, glosses without one): a gloss proposes its first word when that word, with a
    leading space, is one token of ``tokenizer`` (``post office`` → ``post``; a verb's ``to`` is
    skipped: ``to brush teeth`` → ``brush``)."""
    targets: list[str] = []
    without: list[str] = []
    for gloss in symbol.glosses:
        word = _target_word(gloss, symbol.pos)
        if word and len(tokenizer.encode(target_text(word), add_special_tokens=False)) == 1:
            if word.casefold() not in {t.casefold() for t in targets}:
                targets.append(word)
        else:
            without.append(gloss)
    return targets, without


def _lengths(tokenizer, texts: list[str]) -> dict[str, int]:
    texts = sorted(set(texts))
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    return {t: len(i) for t, i in zip(texts, ids)}


def stats(lexicon: Lexicon, tokenizer) -> dict:
    """How the lexicon's glosses fall into tokens for ``tokenizer``, counted per symbol.

    Each gloss is measured as it follows a word: with one leading space (``" post office"``), as
    parsed (qualifiers and markers removed, a verb's ``to`` kept). A symbol counts as having a
    single-token gloss when at least one of its glosses is one token, and as multi-token only when
    every gloss is several tokens. ``with_target`` counts the symbols with at least one proposed
    target word (``proposed_targets``).
    """
    symbols = list(lexicon)
    lengths = _lengths(tokenizer, [target_text(g) for s in symbols for g in s.glosses])
    words = _lengths(tokenizer, [target_text(_target_word(g, s.pos)) for s in symbols for g in s.glosses
                                 if _target_word(g, s.pos)])
    single = multi = none = with_target = 0
    n_glosses = single_glosses = 0
    for s in symbols:
        counts = [lengths[target_text(g)] for g in s.glosses]
        n_glosses += len(counts)
        single_glosses += sum(1 for n in counts if n == 1)
        if not counts:
            none += 1
        elif 1 in counts:
            single += 1
        else:
            multi += 1
        if any(words.get(target_text(_target_word(g, s.pos))) == 1 for g in s.glosses if _target_word(g, s.pos)):
            with_target += 1
    return {"symbols": len(symbols), "with_bci_av_id": sum(1 for s in symbols if s.bci_av_id is not None),
            "single_token_gloss": single, "only_multi_token_glosses": multi, "no_gloss": none,
            "glosses": n_glosses, "single_token_glosses": single_glosses,
            "multi_token_glosses": n_glosses - single_glosses,
            "with_target": with_target, "without_target": len(symbols) - with_target}


# -- one answer for the page ----------------------------------------------------------------------
def lookup(query: str, tokenizer=None, model: str | None = None, limit: int = 20) -> dict:
    """A BCI-AV ID → ``{"kind": "symbol", "symbol": …}``; words → ``{"kind": "matches", "matches": […]}``.

    The symbol carries what a spec takes from it: glosses (the spec's first ``glosses`` items), the
    token name, the proposed target words for ``tokenizer`` (None without one) and the glosses
    that have none, the notes, the ``description`` (the explanation, within the spec's limit), the
    ``generation_prompts`` of its part of speech (for a blank spec), and ``cut``: what the spec's
    limits left out.
    """
    text = " ".join(str(query or "").split())
    if not text:
        raise fail("Bliss symbol", "is empty", "type a BCI-AV ID such as 16228, or words such as post office")
    lexicon = load_lexicon()
    if not text.isdigit():
        return {"kind": "matches", "query": text,
                "matches": [{"bci_av_id": s.bci_av_id, "gloss": s.raw_gloss, "pos": s.pos, "score": score}
                            for s, score in lexicon.search(text, limit=limit)]}
    symbol = lexicon.symbol(text)
    data = symbol.to_dict()
    max_glosses, max_targets = limits.COUNTS["glosses"][1], limits.COUNTS["target_tokens"][1]
    data["glosses"] = list(symbol.glosses[:max_glosses])
    data["cut"] = {"glosses": list(symbol.glosses[max_glosses:]), "target_tokens": []}
    data["targets"] = data["without_target"] = None
    data["model"] = model
    data["description"] = symbol.explanation.strip()[: limits.DESCRIPTION_CHARS]
    data["generation_prompts"] = templates.generation_prompts(symbol.pos)
    if tokenizer is not None:
        targets, without = proposed_targets(symbol, tokenizer)
        data["targets"], data["without_target"] = targets[:max_targets], without
        data["cut"]["target_tokens"] = targets[max_targets:]
    return {"kind": "symbol", "query": text, "symbol": data}
