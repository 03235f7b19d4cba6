"""Gloss specs: what a user types or loads, validated once with every problem named.

A spec describes one Bliss symbol: its gloss(es), the new token that will stand for it, the target
tokens whose logits signal "the gloss comes next", and the context and sentence sets that the
method needs (see README, "Context sets").

Two levels of validation:
* structural (types, counts, lengths, duplicates, placeholders, control characters) in
  ``__post_init__``: an invalid ``GlossSpec`` cannot be built;
* per tokenizer (``validate_for_tokenizer``): a spec can be fine for one model and not another
  (a target token that is one token for SmolLM2 may be two for another tokenizer).
``check_spec`` runs both and raises one ``InputError`` holding every problem.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from core import atomic
from core.spec import limits
from core.spec.errors import Collector, InputError, Problem, fail
from core.spec.fields import CONTEXT_FIELDS, FIELD_HELP, LIST_FIELDS, OPTIONAL_FIELDS, SENTENCE_FIELDS
from core.spec.token_names import another_token, other_tokens

PLACEHOLDER = "{placeholder}"

_SYMBOL_ID = re.compile(r"^[A-Za-z0-9_-]+$")
# Bidirectional controls can make text display differently from what it is; line breaks and
# other C0/C1 controls have no place in one-line items.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _bad_character(text: str) -> str | None:
    for ch in text:
        if ch in _BIDI_CONTROLS:
            return f"a bidirectional control character (U+{ord(ch):04X})"
        if unicodedata.category(ch) == "Cs":
            return f"an unpaired surrogate (U+{ord(ch):04X})"
        if unicodedata.category(ch) == "Cc":
            name = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab"}.get(ch)
            return name or f"a control character (U+{ord(ch):04X})"
    return None


def _short(text: str, n: int = 40) -> str:
    text = text if len(text) <= n else text[: n - 1] + "…"
    return repr(text)


def default_token(symbol_id: str) -> str:
    return f"[BLISS_{symbol_id}]"


def target_text(word: str) -> str:
    """A target token as the model sees it after a word: with one leading space."""
    return " " + word.strip()


def gloss_text(gloss: str) -> str:
    """A gloss as it follows a word in a sentence: with one leading space."""
    return " " + gloss.strip()


@dataclass
class GlossSpec:
    """One symbol's gloss(es), new token, targets and context sets. See ``FIELD_HELP``."""

    symbol_id: str
    glosses: list[str]
    target_tokens: list[str]
    positive_contexts: list[str]
    negative_contexts: list[str]
    validation_contexts: list[str]
    testing_positive_contexts: list[str]
    testing_negative_contexts: list[str]
    fine_tuning_sentences: list[str]
    validation_sentences: list[str]
    generation_prompts: list[str]
    new_token: str = ""
    notes: str = ""
    description: str = ""   # optional; written to JSON only when given, so older files stay as they are

    def __post_init__(self) -> None:
        self.symbol_id = str(self.symbol_id).strip() if isinstance(self.symbol_id, (str, int)) else self.symbol_id
        if isinstance(self.new_token, str):
            self.new_token = self.new_token.strip()
        if self.description is None:   # a datasets column holds None where a spec had none
            self.description = ""
        if isinstance(self.description, str):
            self.description = self.description.strip()
        if not self.new_token and isinstance(self.symbol_id, str):
            self.new_token = default_token(self.symbol_id)
        for name in LIST_FIELDS:
            value = getattr(self, name)
            if isinstance(value, list):
                setattr(self, name, [v.strip() if isinstance(v, str) else v for v in value])
        problems = structural_problems(self)
        if problems:
            raise InputError(problems)

    # -- convenience -------------------------------------------------------------------------
    @property
    def title(self) -> str:
        return f"{' / '.join(self.glosses)} (Bliss {self.symbol_id})"

    @property
    def gloss_texts(self) -> list[str]:
        return [gloss_text(g) for g in self.glosses]

    @property
    def target_texts(self) -> list[str]:
        return [target_text(t) for t in self.target_tokens]

    def fill(self, prompt: str, filler: str) -> str:
        """Fill a prompt's placeholder with a gloss or the token.

        Prompts are written naturally ("At the {placeholder} you can buy"), so the gloss keeps the
        space before it and the token absorbs it (it is registered with ``lstrip=True``).
        """
        return prompt.replace(PLACEHOLDER, filler)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["description"]:
            del data["description"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    def save(self, path: str | os.PathLike) -> Path:
        return atomic.write_text(Path(path), self.to_json())

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any) -> "GlossSpec":
        """Build from parsed JSON; raises ``InputError`` naming every wrong or missing field."""
        if not isinstance(data, dict):
            raise fail("spec", f"expected a JSON object with the spec's fields, got {type(data).__name__}",
                       "start from a built-in example's JSON and edit it")
        known = {f.name for f in fields(cls)}
        c = Collector()
        for key in data:
            if key not in known:
                c.add(f"field {_short(str(key))}", "is not a field of a gloss spec",
                      "remove it; known fields: " + ", ".join(sorted(known)))
        required = [f.name for f in fields(cls) if f.name not in OPTIONAL_FIELDS]
        for name in required:
            if name not in data:
                c.add(name, "is missing", f"add it ({FIELD_HELP[name]})")
        for name in known & set(data):
            value = data[name]
            if name in LIST_FIELDS:
                if not isinstance(value, list):
                    c.add(name, f"must be a list of strings, got {type(value).__name__}",
                          "write it as [\"first\", \"second\", …]")
                else:
                    wrong = [i for i, v in enumerate(value) if not isinstance(v, str)]
                    if wrong:
                        c.add(name, f"item {wrong[0] + 1} is not a string",
                              "write every item as text in double quotes")
            elif name == "symbol_id":
                if not isinstance(value, (str, int)) or isinstance(value, bool):
                    c.add(name, f"must be text or a number, got {type(value).__name__}", "write e.g. \"29111\"")
            elif name == "description" and value is None:
                continue
            elif not isinstance(value, str):
                c.add(name, f"must be text, got {type(value).__name__}", "write it in double quotes")
        c.raise_if_any()
        return cls(**{k: data[k] for k in known & set(data)})

    @classmethod
    def from_json(cls, text: str | bytes) -> "GlossSpec":
        if isinstance(text, bytes):
            if len(text) > limits.SPEC_FILE_BYTES:
                raise fail("spec file", f"is {len(text):,} bytes, over the limit of {limits.SPEC_FILE_BYTES:,}",
                           "split the data or shorten it")
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise fail("spec file", f"is not UTF-8 text (byte {exc.start})", "save it as UTF-8 JSON") from None
        if len(text.encode("utf-8", "surrogatepass")) > limits.SPEC_FILE_BYTES:
            raise fail("spec file", f"is over the limit of {limits.SPEC_FILE_BYTES:,} bytes",
                       "split the data or shorten it")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail("spec file", f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                       "fix the JSON there (a missing comma, quote or bracket?)") from None
        except RecursionError:
            raise fail("spec file", "is nested too deeply", "a spec is one flat JSON object") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GlossSpec":
        p = Path(path)
        if not p.is_file():
            raise fail("spec file", f"{str(p)!r} does not exist or is not a file", "give the path of a JSON spec")
        if p.stat().st_size > limits.SPEC_FILE_BYTES:
            raise fail("spec file", f"is {p.stat().st_size:,} bytes, over the limit of {limits.SPEC_FILE_BYTES:,}",
                       "split the data or shorten it")
        return cls.from_json(p.read_bytes())


def structural_problems(spec: GlossSpec) -> list[Problem]:
    """Every problem that does not need a tokenizer."""
    c = Collector()
    _name_problems(spec, c)
    foreign: dict[str, list[str]] = {}   # sentences that use another token instead of the new one
    for name in LIST_FIELDS:
        _list_problems(spec, name, c, foreign)
    tok = spec.new_token
    for name, items in foreign.items():
        c.add(name, another_token(items, len(getattr(spec, name)), tok),
              f"these lists seem to belong to another symbol: start from a blank spec for this one, or write {tok} "
              "where the gloss stands")
    if not c:
        _held_out_problems(spec, c)
    return c.problems


def _name_problems(spec: GlossSpec, c: Collector) -> None:
    """The symbol ID, the token's name, the notes and the description."""
    sid = spec.symbol_id
    if not isinstance(sid, str) or not sid:
        c.add("symbol_id", "is empty", "give the symbol's ID, e.g. 29111")
    elif len(sid) > limits.SYMBOL_ID_CHARS or not _SYMBOL_ID.match(sid):
        c.add("symbol_id", f"{_short(sid)} is not a valid ID",
              f"use up to {limits.SYMBOL_ID_CHARS} letters, digits, '-' or '_', e.g. 29111")
    tok = spec.new_token
    if not isinstance(tok, str) or not tok:
        c.add("new_token", "is empty", "name the token, e.g. [BLISS_29111]")
    else:
        if len(tok) > limits.TOKEN_NAME_CHARS:
            c.add("new_token", f"has {len(tok)} characters, over the limit of {limits.TOKEN_NAME_CHARS}",
                  "use a shorter name, e.g. [BLISS_29111]")
        if any(ch.isspace() for ch in tok) or _bad_character(tok):
            c.add("new_token", f"{_short(tok)} contains spaces or control characters",
                  "use one word without spaces, e.g. [BLISS_29111]")
        if "{" in tok or "}" in tok:
            c.add("new_token", "contains { or }", "braces are reserved for {placeholder}; use [ ] instead")
        if len(tok) < 3:
            c.add("new_token", f"{_short(tok)} is too short to be unambiguous",
                  "use a distinctive name such as [BLISS_29111]")
    for name, cap in (("notes", limits.NOTES_CHARS), ("description", limits.DESCRIPTION_CHARS)):
        value = getattr(spec, name)
        if not isinstance(value, str):
            c.add(name, "must be text", "write it in double quotes")
        elif len(value) > cap:
            c.add(name, f"has {len(value):,} characters, over the limit of {cap:,}", "shorten it")


def _list_problems(spec: GlossSpec, name: str, c: Collector, foreign: dict[str, list[str]]) -> None:
    """One list field: its type, count, and every item (sentences naming another token go to ``foreign``)."""
    items = getattr(spec, name)
    lo, hi = limits.COUNTS[name]
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        c.add(name, "must be a list of strings", "write one item per line")
        return
    if len(items) > hi:
        c.add(name, f"has {len(items):,} items, over the limit of {hi}", f"keep at most {hi}")
        return
    max_chars = limits.GLOSS_CHARS if name == "glosses" else limits.TEXT_CHARS
    tok = spec.new_token if isinstance(spec.new_token, str) else ""
    seen: dict[str, int] = {}
    for i, item in enumerate(items, 1):
        where = f"{name} (item {i})"
        if not item:
            c.add(where, "is empty" if name != "glosses" else "is empty or only spaces",
                  "write text there or remove the line")
            continue
        if len(item) > max_chars:
            c.add(where, f"has {len(item):,} characters, over the limit of {max_chars}",
                  "shorten it or split it into several items")
            continue
        bad = _bad_character(item)
        if bad:
            c.add(where, f"contains {bad}", "retype it as plain text on one line")
            continue
        key = item.casefold() if name in ("glosses", "target_tokens") else item
        if key in seen:
            c.add(where, f"repeats item {seen[key]} ({_short(item)})", "remove the duplicate")
        else:
            seen[key] = i
        if name == "target_tokens" and any(ch.isspace() for ch in item):
            c.add(where, f"{_short(item)} has a space inside", "a target token is a single word, e.g. wool")
        if name in CONTEXT_FIELDS and tok and tok in item:
            c.add(where, f"contains the new token {tok}",
                  "contexts are read by the unmodified model: write them with plain words")
        if name in SENTENCE_FIELDS and tok and tok not in item:
            if other_tokens(item, tok):
                foreign.setdefault(name, []).append(item)
            else:
                c.add(where, f"does not contain the new token {tok}",
                      f"use {tok} in the sentence where the gloss would stand")
        if name == "generation_prompts" and PLACEHOLDER not in item:
            c.add(where, f"has no {PLACEHOLDER}", f"write {PLACEHOLDER} where the gloss or the token should go")
    nonempty = [v for v in items if v]
    if len(nonempty) < lo:
        c.add(name, f"has {len(nonempty)} item{'s' if len(nonempty) != 1 else ''}, needs at least {lo}",
              f"add {lo - len(nonempty)} more ({FIELD_HELP[name]})")


def _held_out_problems(spec: GlossSpec, c: Collector) -> None:
    """Held-out sets must really be held out."""
    trained = set(spec.positive_contexts) | set(spec.negative_contexts)
    for name in ("validation_contexts", "testing_positive_contexts", "testing_negative_contexts"):
        for i, item in enumerate(getattr(spec, name), 1):
            if item in trained:
                c.add(f"{name} (item {i})", f"{_short(item)} is also a training context",
                      "held-out contexts must differ from positive and negative contexts")
    tests = set(spec.testing_positive_contexts) | set(spec.testing_negative_contexts)
    for i, item in enumerate(spec.validation_contexts, 1):
        if item in tests:
            c.add(f"validation_contexts (item {i})", f"{_short(item)} is also a testing context",
                  "keep testing contexts out of validation")
    both = set(spec.fine_tuning_sentences) & set(spec.validation_sentences)
    for item in sorted(both)[:5]:
        c.add("validation_sentences", f"{_short(item)} is also a fine-tuning sentence",
              "validation sentences must be held out from fine-tuning")


# A letter or digit right before {placeholder}: "A{placeholder} is" fills as "Apost office is".
_GLUED = re.compile(r"[^\W_]" + re.escape(PLACEHOLDER))


def spec_warnings(spec: GlossSpec) -> list[Problem]:
    """What is allowed but probably not meant (the spec stays valid): a placeholder glued to a word,
    and items that name another token than the spec's (lists copied from another symbol's spec)."""
    out = []
    for name in CONTEXT_FIELDS + SENTENCE_FIELDS + ("generation_prompts",):
        items = [item for item in getattr(spec, name) if other_tokens(item, spec.new_token)]
        if items:
            out.append(Problem(name, another_token(items, len(getattr(spec, name)), spec.new_token),
                               f"they may belong to another symbol: remove them, or write {spec.new_token} there"))
    for i, prompt in enumerate(spec.generation_prompts, 1):
        if _GLUED.search(prompt):
            filled = spec.fill(prompt, spec.glosses[0]) if spec.glosses else prompt
            out.append(Problem(f"generation_prompts (item {i})", f"{PLACEHOLDER} is glued to the letter before it: "
                               f"it fills as {_short(filled, 60)}", f"put a space before {PLACEHOLDER}"))
    return out


def _token_strings(tokenizer, ids: list[int]) -> str:
    return ", ".join(repr(tokenizer.decode([i])) for i in ids)


def validate_for_tokenizer(spec: GlossSpec, tokenizer, vocab: dict[str, int] | None = None) -> list[Problem]:
    """Problems that depend on the model's tokenizer (an empty list when there are none).

    ``vocab``: ``tokenizer.get_vocab()`` when the caller checks many specs (it builds a new dict of
    the whole vocabulary on every call, 14 ms on the default model)."""
    c = Collector()
    vocab = tokenizer.get_vocab() if vocab is None else vocab
    if spec.new_token in vocab:
        c.add("new_token", f"{spec.new_token} already exists in this model's vocabulary (id {vocab[spec.new_token]})",
              "choose another name, e.g. [BLISS_<id>_NEW]")
    else:
        pieces = tokenizer.encode(spec.new_token, add_special_tokens=False)
        if len(pieces) == 1:
            c.add("new_token", f"{spec.new_token} is already a single token of this model",
                  "choose a name the model does not know, e.g. [BLISS_<id>]")

    def encode(texts: list[str]) -> list[list[int]]:
        return [tokenizer.encode(t, add_special_tokens=False) for t in texts]

    for i, (word, ids) in enumerate(zip(spec.target_tokens, encode(spec.target_texts)), 1):
        if len(ids) != 1:
            c.add(f"target_tokens (item {i})",
                  f"{word!r} is {len(ids)} tokens for this model ({_token_strings(tokenizer, ids)}), not one",
                  "use a word that is a single token, e.g. the gloss's first word, or remove it")
    for i, (gloss, ids) in enumerate(zip(spec.glosses, encode(spec.gloss_texts)), 1):
        if len(ids) > limits.GLOSS_TOKENS:
            c.add(f"glosses (item {i})", f"is {len(ids)} tokens, over the limit of {limits.GLOSS_TOKENS}",
                  "shorten the gloss")
    for name in CONTEXT_FIELDS + SENTENCE_FIELDS + ("generation_prompts",):
        cap = limits.CONTEXT_TOKENS if name in CONTEXT_FIELDS else limits.SENTENCE_TOKENS
        texts = getattr(spec, name)
        if name in SENTENCE_FIELDS:
            texts = [t.replace(spec.new_token, spec.gloss_texts[0]) for t in texts]
        for i, ids in enumerate(encode(texts), 1):
            if len(ids) > cap:
                c.add(f"{name} (item {i})", f"is {len(ids)} tokens, over the limit of {cap}", "shorten it")
    return c.problems


def check_spec(spec: GlossSpec | dict | str | bytes, tokenizer=None) -> GlossSpec:
    """Parse (if needed) and validate; raise one ``InputError`` with every problem."""
    if isinstance(spec, (str, bytes)):
        spec = GlossSpec.from_json(spec)
    elif isinstance(spec, dict):
        spec = GlossSpec.from_dict(spec)
    if tokenizer is not None:
        problems = validate_for_tokenizer(spec, tokenizer)
        if problems:
            raise InputError(problems)
    return spec


def check_prompt(prompt: Any, name: str = "prompt") -> str:
    """A custom generation prompt: one line of text with {placeholder}; returns it stripped."""
    prompt = prompt.strip() if isinstance(prompt, str) else ""
    bad = _bad_character(prompt)
    if not prompt:
        raise fail(name, "is empty", f"write a prompt with {PLACEHOLDER}, e.g. 'I went to the {PLACEHOLDER} to'")
    if PLACEHOLDER not in prompt:
        raise fail(name, f"has no {PLACEHOLDER}", f"write {PLACEHOLDER} where the gloss or the token should go")
    if len(prompt) > limits.TEXT_CHARS:
        raise fail(name, f"has {len(prompt)} characters, over the limit of {limits.TEXT_CHARS}", "shorten it")
    if bad:
        raise fail(name, f"contains {bad}", "retype it as plain text on one line")
    return prompt


def readable_fields(content: bytes | str) -> dict[str, Any]:
    """The fields of a spec file whose type is right, even when others are wrong (so that the page
    can show them for fixing); empty when the file is not a JSON object. JSON only, never code."""
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    readable: dict[str, Any] = {}
    for f in fields(GlossSpec):
        name, value = f.name, data.get(f.name)
        if name in LIST_FIELDS and isinstance(value, list):
            readable[name] = [v for v in value if isinstance(v, str)]
        elif name == "symbol_id" and isinstance(value, (str, int)) and not isinstance(value, bool):
            readable[name] = str(value)
        elif name not in LIST_FIELDS and isinstance(value, str):
            readable[name] = value
    return readable


DATA_DIR = Path(__file__).resolve().parents[2] / "data"


def builtin_examples() -> dict[str, Path]:
    """Built-in specs shipped in data/: {file stem: path}."""
    return {p.stem: p for p in sorted(DATA_DIR.glob("*.json"))}


def load_example(name: str) -> GlossSpec:
    examples = builtin_examples()
    if name not in examples:
        raise fail("example", f"{name!r} is not a built-in example", "choose one of: " + ", ".join(examples))
    return GlossSpec.load(examples[name])
