"""Where drafting material comes from: lines a user gives (pasted, or a file), a corpus, the
loaded model, or a chat assistant's pasted answer.

* ``read_lines``: a UTF-8 text file, one sentence a line.
* ``mine_corpus``: a text file, or a ``datasets`` dataset (a folder saved with ``save_to_disk``, a
  folder or file ``load_dataset`` reads, or a hub id where there is a network) with a text column;
  its text is split into sentences and those that use a gloss are kept, once each
  (``mine_corpus_pairs``: each with the sentence before it, which can lengthen a short context).
* ``sample_sentences``: candidate sentences sampled from the loaded model (seeded), asked with the
  part of speech's instruction (``templates.model_prompt``), through the chat template when the
  tokenizer has one; ``sample_many``: the same for several symbols in one batch.
* ``chat_prompt`` / ``parse_answer``: a ready-made request to paste into any chat assistant, and
  its numbered or bulleted answer read back as one sentence a line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from core.authoring import templates
from core.authoring.sentences import GlossFinder, clean_line, split_lines
from core.spec import limits
from core.spec.errors import InputError, fail

# Sentence ends: . ! ? … (and a closing quote), then spaces, then something that starts a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")


def _too_many(field: str, n: int) -> InputError:
    return fail(field, f"has {n:,} lines, over the limit of {limits.DRAFT_LINES:,}",
                f"give at most {limits.DRAFT_LINES:,} lines")


def parse_answer(text: str, field: str = "sentences") -> list[str]:
    """Pasted lines (a chat assistant's numbered or bulleted answer, or plain lines): one item each."""
    items = split_lines(text)
    if len(items) > limits.DRAFT_LINES:
        raise _too_many(field, len(items))
    return items


def read_lines(path: str | Path, field: str, allow_empty: bool = False) -> list[str]:
    """The lines of a UTF-8 text file (numbering and bullets removed), or an InputError naming
    ``field``; a file with no line of text is refused unless ``allow_empty``."""
    p = Path(path)
    if not p.is_file():
        raise fail(field, f"{str(p)!r} does not exist or is not a file", "give the path of a text file, one sentence a line")
    if p.stat().st_size > limits.CORPUS_BYTES:
        raise fail(field, f"is {p.stat().st_size:,} bytes, over the limit of {limits.CORPUS_BYTES:,}", "split it")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise fail(field, f"{p.name} is not UTF-8 text (byte {exc.start})", "save it as UTF-8 text, one sentence a line") from None
    if "\x00" in text:
        raise fail(field, f"{p.name} is not a text file", "give a UTF-8 text file, one sentence a line")
    items = parse_answer(text, field)
    if not items and not allow_empty:
        raise fail(field, f"{p.name} is empty (no line of text)", "write one sentence a line in it, or leave the option out")
    return items


def split_sentences(text: str) -> list[str]:
    """Sentences of running text (paragraphs and lines first, then sentence ends)."""
    out = []
    for block in re.split(r"\n\s*\n|\r?\n", text):
        out += [" ".join(s.split()) for s in _SENTENCE_END.split(block) if s.strip()]
    return out


_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def _corpus_texts(path: str, column: str) -> list:
    """The texts of a corpus: the whole text of a text file, else a dataset's column."""
    if not path or not str(path).strip():
        raise fail("corpus", "is empty", "give a text file or a dataset")
    p = Path(path).expanduser()
    if p.is_file() and p.suffix.lower() not in _BUILDERS:
        return [read_text_file(p)]
    if not p.exists() and (not _HUB_ID.fullmatch(path) or p.suffix.lower() in (".txt", ".text", *_BUILDERS)):
        raise fail("corpus", f"{path!r} does not exist", "give the path of a text file or a dataset folder")
    import datasets

    try:
        if p.is_dir() and any((p / name).is_file() for name in ("dataset_info.json", "state.json", "dataset_dict.json")):
            data = datasets.load_from_disk(str(p))
        elif p.is_file():
            kwargs = {"delimiter": "\t"} if p.suffix.lower() == ".tsv" else {}
            data = datasets.load_dataset(_BUILDERS[p.suffix.lower()], data_files=str(p), split="train", **kwargs)
        else:
            data = datasets.load_dataset(str(p) if p.exists() else path, split="train")
    except Exception as exc:  # noqa: BLE001 - any failure to read it is the user's to fix
        raise fail("corpus", f"{path!r} could not be read as a corpus ({type(exc).__name__}: {str(exc)[:160]})",
                   f"give a UTF-8 text file, or a dataset (a folder or id) with a {column!r} column") from None
    if isinstance(data, datasets.DatasetDict):
        data = data["train"] if "train" in data else next(iter(data.values()))
    if column not in data.column_names:
        raise fail("corpus", f"has no column {column!r} (it has {', '.join(data.column_names)})",
                   "name its text column (--corpus-column)")
    return data[column]


def _text_of(item, column: str) -> str:
    if not isinstance(item, str):
        raise fail("corpus", f"column {column!r} does not hold text", "name a text column with --corpus-column")
    return item


def check_corpus(path: str, column: str = "text") -> None:
    """Raise the corpus's problem, if any, without the model: a missing path, a file over the limit
    or not text, a dataset that cannot be read or lacks ``column``. Reading it here is the same read
    mining does (a dataset file is cached by ``datasets``, a text file is bounded by the limit)."""
    texts = _corpus_texts(path, column)
    if len(texts):
        _text_of(texts[0], column)


def read_text_file(p: Path) -> str:
    if p.stat().st_size > limits.CORPUS_BYTES:
        raise fail("corpus", f"is {p.stat().st_size:,} bytes, over the limit of {limits.CORPUS_BYTES:,}", "use a smaller part")
    raw = p.read_bytes()
    if b"\x00" in raw[:65536]:
        raise fail("corpus", f"{p.name} is not text", "give a UTF-8 text file or a dataset with a text column")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail("corpus", f"{p.name} is not UTF-8 text (byte {exc.start})", "save it as UTF-8 text") from None


def mine_corpus_pairs(path: str, finder: GlossFinder, column: str = "text",
                      limit: int = limits.DRAFT_CORPUS_SENTENCES[1]) -> list[tuple[str, str]]:
    """(sentence before it, sentence) for the corpus's sentences that use a gloss, each once, in
    corpus order, at most ``limit``; the sentence before is '' at the start of a text or paragraph."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for text in _corpus_texts(path, column):
        for block in re.split(r"\n\s*\n|\r?\n", _text_of(text, column)):
            before = ""
            for sentence in split_sentences(block):
                key = sentence.casefold()
                if key not in seen and finder.uses(sentence) and len(sentence) <= limits.TEXT_CHARS:
                    seen.add(key)
                    found.append((before if len(before) <= limits.TEXT_CHARS else "", sentence))
                    if len(found) >= limit:
                        return found
                before = sentence
    return found


def mine_corpus(path: str, finder: GlossFinder, column: str = "text",
                limit: int = limits.DRAFT_CORPUS_SENTENCES[1]) -> list[str]:
    """Sentences of the corpus that use a gloss, each once, in corpus order, at most ``limit``."""
    return [sentence for _, sentence in mine_corpus_pairs(path, finder, column, limit)]


def chat_prompt(glosses: list[str], pos: str | None, n_positive: int = 100, n_negative: int = 40,
                meaning: str = "") -> dict[str, str]:
    """Two requests to paste into a chat assistant: positive sentences and negative sentences."""
    return {"positive": templates.sentence_request(glosses, pos, n_positive, meaning),
            "negative": templates.negative_request(glosses, pos, n_negative)}


def _chat_text(tokenizer, request: str) -> str:
    """The request as the model reads it: through the chat template when the tokenizer has one."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": request}], tokenize=False,
                                             add_generation_prompt=True)
    return request + "\n"


def _first_lines(texts: list[str]) -> list[str]:
    out = []
    for t in texts:
        first = next((clean_line(line) for line in t.splitlines() if clean_line(line)), "")
        out.append(first[: limits.TEXT_CHARS])
    return out


def _ids_of(model, tokenizer) -> tuple:
    eos = model.generation_config.eos_token_id if model.generation_config.eos_token_id is not None \
        else tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos if isinstance(eos, int) else eos[0])
    return eos, pad


def sample_sentences(model, tokenizer, glosses: list[str], pos: str | None, n: int, seed: int,
                     meaning: str = "", max_new_tokens: int = 40,
                     on_event: Callable[[dict], None] | None = None) -> list[str]:
    """``n`` candidate sentences sampled from the model (seeded): the first line of each answer."""
    import torch
    from transformers import GenerationConfig

    from core.embedding.contexts import eval_mode

    if n <= 0:
        return []
    ids = tokenizer(_chat_text(tokenizer, templates.model_prompt(glosses, pos, meaning)), return_tensors="pt",
                    add_special_tokens=False)
    device = next(model.parameters()).device
    eos, pad = _ids_of(model, tokenizer)
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=True, temperature=0.9, top_p=0.95,
                              top_k=0, num_return_sequences=n, eos_token_id=eos, pad_token_id=pad)
    if on_event:
        on_event({"stage": "generate", "message": f"Sampling {n} candidate sentences from the model"})
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        with eval_mode(model), torch.no_grad():
            out = model.generate(**ids.to(device), generation_config=config)
    finally:
        torch.random.set_rng_state(generator_state)
    return _first_lines(tokenizer.batch_decode(out[:, ids["input_ids"].shape[1]:], skip_special_tokens=True))


def sample_many(model, tokenizer, requests: list[tuple[list[str], str | None, str]], n: int, seed: int,
                max_new_tokens: int = 32) -> list[list[str]]:
    """For each ``(glosses, pos, meaning)`` request, ``n`` candidate sentences, all sampled in one
    batch (prompts padded on the left; seeded; each answer stops at its first line break).

    Sampling several symbols at once costs about a third per symbol of sampling them one by one on
    two CPU cores (the model reads one wide batch per step instead of several narrow ones). The
    result depends on the whole batch: the same requests in the same order give the same sentences.
    """
    import torch
    from transformers import GenerationConfig

    from core.embedding.contexts import eval_mode

    if n <= 0 or not requests:
        return [[] for _ in requests]
    texts = [_chat_text(tokenizer, templates.model_prompt(g, pos, meaning)) for g, pos, meaning in requests]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        ids = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    eos, pad = _ids_of(model, tokenizer)
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=True, temperature=0.9, top_p=0.95,
                              top_k=0, num_return_sequences=n, eos_token_id=eos, pad_token_id=pad,
                              stop_strings=["\n"])
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        with eval_mode(model), torch.no_grad():
            out = model.generate(**ids.to(next(model.parameters()).device), generation_config=config,
                                 tokenizer=tokenizer)
    finally:
        torch.random.set_rng_state(generator_state)
    lines = _first_lines(tokenizer.batch_decode(out[:, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return [lines[i * n:(i + 1) * n] for i in range(len(requests))]
