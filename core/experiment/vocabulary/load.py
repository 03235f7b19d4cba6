"""A vocabulary: many gloss specs that are initialized, fine-tuned and evaluated together.

Sources (``load_vocabulary``):

* ``"builtin"``: every built-in spec (``data/*.json``);
* a folder of spec files (``*.json``, in name order), or a folder written by
  ``datasets.Dataset.save_to_disk``;
* a JSONL file, one spec (a JSON object) per line;
* a ``datasets.Dataset`` whose columns are the spec's fields, or a list of dicts or ``GlossSpec``.

``load_parts`` joins built-in specs (by name) and uploaded files (a JSONL file, a zip of spec
files, spec ``.json`` files) into one vocabulary, as the page's Vocabulary tab does.

It is validated as a whole and nothing starts while any problem stands: ``check_vocabulary``
raises ONE ``InputError`` holding every problem of every spec, each field prefixed with the
symbol's token (``[BLISS_29111] positive_contexts (item 3)``; a spec too broken to have a token is
named by its place, ``line 4`` or ``wool.json``), plus the problems across symbols: the same token
or symbol ID twice, two symbols sharing a gloss, and one symbol's fine-tuning sentence beginning
with another's testing context (the fine-tuning would teach the first token right where the second
one is tested). Its size is bounded by ``core.spec.limits`` (``VOCAB_*``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from core.spec import limits
from core.spec.errors import Collector, InputError, Problem, fail
from core.spec.gloss import DATA_DIR, GlossSpec, default_token, validate_for_tokenizer

BUILTIN = "builtin"


@dataclass
class Vocabulary:
    """Gloss specs in a fixed order (symbol ``k`` is ``specs[k]``) and where they came from."""

    specs: list[GlossSpec]
    source: str = ""
    places: list[str] = field(default_factory=list)  # where each spec was read ("line 3", "wool.json")

    @property
    def tokens(self) -> list[str]:
        return [s.new_token for s in self.specs]

    @property
    def title(self) -> str:
        names = ", ".join(s.glosses[0] for s in self.specs[:4]) + (", …" if len(self.specs) > 4 else "")
        return f"{len(self.specs)} symbols ({names})"

    def __len__(self) -> int:
        return len(self.specs)

    def to_dict(self) -> dict:
        return {"source": self.source, "specs": [s.to_dict() for s in self.specs]}

    @classmethod
    def from_dict(cls, data: dict) -> "Vocabulary":
        return load_vocabulary(list(data.get("specs") or []), name=str(data.get("source") or ""))


# -- reading -----------------------------------------------------------------------------------

def _label(data: Any, place: str) -> str:
    """The symbol's token when the raw data names one (or a symbol ID), else its place."""
    if isinstance(data, dict):
        token = data.get("new_token")
        if isinstance(token, str) and token.strip():
            return token.strip()
        sid = data.get("symbol_id")
        if isinstance(sid, (str, int)) and not isinstance(sid, bool) and str(sid).strip():
            return default_token(str(sid).strip())
    return place


def _prefixed(label: str, problems: Iterable[Problem]) -> list[Problem]:
    return [Problem(f"{label} {p.field}", p.problem, p.fix) for p in problems]


def _raw_items(source: Any) -> tuple[list[tuple[Any, str]], str]:
    """(raw spec, place) pairs and a name for the source, before any spec is built."""
    if isinstance(source, (list, tuple)):
        return [(item, f"item {i}") for i, item in enumerate(source, 1)], "list"
    if hasattr(source, "column_names") and hasattr(source, "to_list"):  # a datasets.Dataset
        return [(row, f"row {i}") for i, row in enumerate(source.to_list(), 1)], "dataset"
    if not isinstance(source, (str, Path)):
        raise fail("vocabulary", f"cannot read a vocabulary from {type(source).__name__}",
                   "give a folder of spec files, a JSONL file or 'builtin'")
    if str(source) == BUILTIN:
        return _folder(DATA_DIR), BUILTIN
    path = Path(source).expanduser()
    if path.is_dir():
        if (path / "dataset_info.json").is_file() or (path / "state.json").is_file():
            import datasets

            return _raw_items(datasets.load_from_disk(str(path)))[0], str(path)
        return _folder(path), str(path)
    if path.is_file():
        return _jsonl(path), str(path)
    raise fail("vocabulary", f"{str(source)!r} is neither a folder, a file nor 'builtin'",
               "give a folder of spec files, a JSONL file (one spec per line) or 'builtin'")


def _check_bytes(total: int) -> None:
    if total > limits.VOCAB_FILE_BYTES:
        raise fail("vocabulary", f"is {total:,} bytes, over the limit of {limits.VOCAB_FILE_BYTES:,}",
                   "split it into several vocabularies")


def _folder(folder: Path) -> list[tuple[Any, str]]:
    files = sorted(p for p in folder.glob("*.json") if p.is_file())
    if not files:
        raise fail("vocabulary", f"the folder {str(folder)!r} has no spec files (*.json)",
                   "put one gloss spec per .json file in it")
    _check_count(len(files))
    _check_bytes(sum(p.stat().st_size for p in files))
    return [_spec_file(p.read_bytes(), p.name) for p in files]


def _spec_file(content: bytes, place: str) -> tuple[Any, str]:
    """(the JSON of one spec file, or the InputError saying why it cannot be read, place)."""
    try:
        return json.loads(content.decode("utf-8")), place
    except (ValueError, UnicodeDecodeError) as exc:
        return InputError([Problem("spec file", f"is not valid JSON ({exc})", "fix the JSON")]), place


def _jsonl(path: Path) -> list[tuple[Any, str]]:
    _check_bytes(path.stat().st_size)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise fail("vocabulary", f"{path.name} is not UTF-8 text (byte {exc.start})", "save it as UTF-8") from None
    numbered = [(i, line) for i, line in enumerate(lines, 1) if line.strip()]
    _check_count(len(numbered))
    items = []
    for i, line in numbered:
        try:
            items.append((json.loads(line), f"line {i}"))
        except ValueError as exc:
            items.append((InputError([Problem("line", f"is not valid JSON ({exc})",
                                              "write one JSON object per line")]), f"line {i}"))
    return items


def _check_count(n: int) -> None:
    lo, hi = limits.VOCAB_SYMBOLS
    if n > hi:
        raise fail("vocabulary", f"has {n:,} symbols, over the limit of {hi}", f"keep at most {hi} per vocabulary")
    if n < lo:
        raise fail("vocabulary", "has no symbols", "give at least one gloss spec")


def load_vocabulary(source: Any, tokenizer=None, name: str | None = None) -> Vocabulary:
    """Read and check a vocabulary (see the module docstring); ``tokenizer``: also check every spec
    against it. Raises one ``InputError`` with every problem found."""
    items, source_name = _raw_items(source)
    return _build(items, name or source_name, tokenizer)


def _build(items: list[tuple[Any, str]], source_name: str, tokenizer=None) -> Vocabulary:
    _check_count(len(items))
    c = Collector()
    specs, places = [], []
    for raw, place in items:
        label = _label(raw, place)
        if isinstance(raw, InputError):
            c.problems += _prefixed(label, raw.problems)
            continue
        try:
            spec = raw if isinstance(raw, GlossSpec) else GlossSpec.from_dict(raw)
        except InputError as exc:
            c.problems += _prefixed(label, exc.problems)
            continue
        specs.append(spec)
        places.append(place)
    vocab = Vocabulary(specs, source=source_name, places=places)
    c.problems += across_symbols(vocab)
    if tokenizer is not None:
        c.problems += tokenizer_problems(vocab, tokenizer)
    c.raise_if_any()
    return vocab


def load_parts(builtins: Iterable[str] = (), uploads: Iterable[str | Path] = (), tokenizer=None) -> Vocabulary:
    """One vocabulary of built-in specs (by name) and uploaded files, checked as a whole (see
    ``load_vocabulary``). An upload is a JSONL file (one spec a line), a zip of spec files (``*.json``
    at any depth) or one spec file (``.json``); together they are bounded as a folder is."""
    from core.spec.gloss import builtin_examples

    known, builtins, uploads = builtin_examples(), list(builtins), [Path(p) for p in uploads]
    c = Collector()
    for name in builtins:
        if name not in known:
            c.add("built-in specs", f"{name!r} is not a built-in spec", f"choose from {', '.join(known)}")
    if not builtins and not uploads:
        c.add("vocabulary", "has no symbols", "tick built-in specs or upload a JSONL file, a zip or spec files")
    c.raise_if_any()
    _check_bytes(sum(p.stat().st_size for p in uploads))
    items = [_spec_file(known[name].read_bytes(), f"{name}.json") for name in builtins]
    for path in uploads:
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            items += [(raw, f"{path.name} {place}") for raw, place in _jsonl(path)]
        elif suffix == ".zip":
            items += _zip(path)
        elif suffix == ".json":
            items.append(_spec_file(path.read_bytes(), path.name))
        else:
            raise fail("upload", f"{path.name!r} is neither a JSONL file, a zip nor a spec file",
                       "upload a .jsonl file (one spec a line), a .zip of spec files or .json spec files")
    source = ", ".join(["built-in: " + " ".join(builtins)] * bool(builtins) + [p.name for p in uploads])
    return _build(items, source, tokenizer)


def _zip(path: Path) -> list[tuple[Any, str]]:
    """The spec files (``*.json``) of a zip archive, sizes declared in it checked before reading."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted((m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(".json")
                              and not Path(m.filename).name.startswith(".") and "__MACOSX" not in m.filename),
                             key=lambda m: m.filename)
            if not members:
                raise fail("upload", f"{path.name} holds no spec files (*.json)", "zip one gloss spec per .json file")
            _check_count(len(members))
            _check_bytes(sum(m.file_size for m in members))
            return [_spec_file(archive.read(m), f"{path.name}: {m.filename}") for m in members]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError) as exc:
        raise fail("upload", f"{path.name} is not a zip archive that can be read ({exc})",
                   "zip the spec files again (plain zip, no password)") from None


def check_vocabulary(vocab: Vocabulary, tokenizer=None) -> Vocabulary:
    """Check an already built vocabulary again (across symbols, and against ``tokenizer``)."""
    _check_count(len(vocab))
    problems = across_symbols(vocab) + (tokenizer_problems(vocab, tokenizer) if tokenizer is not None else [])
    if problems:
        raise InputError(problems)
    return vocab


def tokenizer_problems(vocab: Vocabulary, tokenizer) -> list[Problem]:
    """Every spec's problems with this tokenizer, named by symbol."""
    problems: list[Problem] = []
    known = tokenizer.get_vocab()
    for spec in vocab.specs:
        problems += _prefixed(spec.new_token, validate_for_tokenizer(spec, tokenizer, known))
    return problems


# -- across symbols ----------------------------------------------------------------------------

def _short(text: str, n: int = 40) -> str:
    return repr(text if len(text) <= n else text[: n - 1] + "…")


def across_symbols(vocab: Vocabulary) -> list[Problem]:
    """Problems no single spec has: shared tokens, IDs or glosses, and fine-tuning sentences that
    begin with another symbol's testing context; plus the vocabulary's total size."""
    c = Collector()
    seen_token: dict[str, str] = {}
    seen_id: dict[str, str] = {}
    seen_gloss: dict[str, str] = {}
    for spec in vocab.specs:
        tok = spec.new_token
        if tok in seen_token:
            c.add(f"{tok} new_token", f"{tok} is the token of two symbols", "give every symbol its own token")
        seen_token.setdefault(tok, tok)
        if spec.symbol_id in seen_id and seen_id[spec.symbol_id] != tok:
            c.add(f"{tok} symbol_id", f"{spec.symbol_id} is also the ID of {seen_id[spec.symbol_id]}",
                  "give every symbol its own ID (or merge the two specs)")
        seen_id.setdefault(spec.symbol_id, tok)
        for i, gloss in enumerate(spec.glosses, 1):
            key = " ".join(gloss.casefold().split())
            other = seen_gloss.get(key)
            if other is not None and other != tok:
                c.add(f"{tok} glosses (item {i})", f"{_short(gloss)} is also a gloss of {other}",
                      "two symbols with one gloss cannot be told apart: keep it for one of them")
            seen_gloss.setdefault(key, tok)
    testing: dict[str, str] = {}
    for spec in vocab.specs:
        for context in spec.testing_positive_contexts + spec.testing_negative_contexts:
            testing.setdefault(context.rstrip(), spec.new_token)
    for spec in vocab.specs:
        for i, sentence in enumerate(spec.fine_tuning_sentences, 1):
            for owner, context in _testing_prefixes(sentence, testing):
                if owner != spec.new_token:
                    c.add(f"{spec.new_token} fine_tuning_sentences (item {i})",
                          f"begins with {_short(context)}, a testing context of {owner}",
                          f"change the sentence or that testing context: {owner} would be tested where "
                          f"{spec.new_token} was trained")
    total = sum(len(s.fine_tuning_sentences) for s in vocab.specs)
    if total > limits.VOCAB_FINE_TUNING_SENTENCES:
        c.add("vocabulary", f"has {total:,} fine-tuning sentences, over the limit of "
              f"{limits.VOCAB_FINE_TUNING_SENTENCES:,}", "split it into several vocabularies")
    return c.problems


def _testing_prefixes(sentence: str, testing: dict[str, str]) -> list[tuple[str, str]]:
    """(owner, context) for every testing context that the sentence begins with (at a word end)."""
    found = []
    for end in [i for i, ch in enumerate(sentence) if ch == " "] + [len(sentence)]:
        prefix = sentence[:end].rstrip()
        if prefix in testing:
            found.append((testing[prefix], prefix))
    return found
