"""Snippets for Token Distillation: texts that hold a gloss, and where the gloss sits in them.

A ``Snippet`` is the teacher's reading of a text: its token ids with the gloss's sub-tokens written
out, the positions where the gloss (the *phrase*) starts, and the phrase's length ``k``. The
student reads the same ids with each occurrence of the phrase collapsed into ONE position, which
holds the new token's vector; every position after an occurrence shifts left by ``k − 1``.
``Snippet.aligned()`` gives both readings' positions side by side: the phrase's last sub-token
(teacher) ↔ the new token (student), and every later position ↔ its shifted twin. Those are the
positions Token Distillation compares; the positions before the first occurrence are the same
tokens in both readings and are left out.

Every snippet starts with the tokenizer's beginning-of-sequence token when it has one, as the
published method's snippets do; a tokenizer without one gives snippets without it.

Where snippets come from:

* **sentences** (``sentence_snippets``): every fine-tuning sentence with the gloss written back in
  place of the new token. The sentence is cut at the token and each piece tokenized on its own,
  with the gloss's ids (leading space included) between them. The new token absorbs the spaces
  before it (``lstrip``), so the pieces are exactly what the tokenizer gives for the sentence with
  the token: the teacher reads the sentence as it would be without the token, and the student's
  ids, with the token in place, are exactly the tokenization of the fine-tuning sentence (the
  tests check this).
* **generated** (``generated_snippets``): the beginning-of-sequence token and the gloss, continued
  by the loaded model by sampling (temperature 1, top-k 50, top-p 1: transformers' classic
  sampling defaults, fixed here so that the model's own generation settings do not change them)
  up to ``length`` tokens in all, and cut at the first end-of-sequence token. The draw is seeded:
  ``torch.manual_seed(seed)`` inside ``torch.random.fork_rng``, so the caller's random state is
  the same afterwards. A model that has the new token already never samples it (its logit is
  suppressed). Its snippets still differ from the base model's for the same seed: the sampler
  draws one random number per vocabulary entry, so a longer vocabulary shifts the stream. Material
  meant to be the same before and after adding the token is built once, from the base model.
* **texts** (``text_snippets``): any texts with a gloss written out (a corpus): each is searched,
  in token ids, for a gloss's sub-tokens; a text without any gloss is an error naming it.

Several glosses: each snippet holds ONE gloss and is compared against that gloss's own sub-tokens.
Sentence ``i`` gets gloss ``i mod G``, and the ``count`` generated snippets are shared out the same
way (gloss ``g`` gets those numbered ``g, g + G, …``), so the glosses share the material equally
and the number of snippets per symbol does not grow with its glosses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from core.embedding.contexts import encode, eval_mode, gloss_token_ids, pad_id_of
from core.spec.errors import fail

SAMPLING = {"do_sample": True, "temperature": 1.0, "top_k": 50, "top_p": 1.0}


@dataclass(frozen=True)
class Alignment:
    """One snippet read both ways: the student's ids (a placeholder id where the token stands), the
    token's positions in the student, and the compared positions in the teacher and the student."""

    student_ids: tuple[int, ...]
    token_positions: tuple[int, ...]
    teacher_positions: tuple[int, ...]
    student_positions: tuple[int, ...]


@dataclass(frozen=True)
class Snippet:
    """The teacher's token ids, where the phrase starts (increasing, not overlapping), its length,
    which gloss it is, and where the snippet came from."""

    ids: tuple[int, ...]
    starts: tuple[int, ...]
    width: int
    gloss: int = 0
    source: str = "text"

    def __post_init__(self) -> None:
        if not self.starts or self.width < 1:
            raise ValueError("a snippet holds its phrase at least once")
        ends = [s + self.width for s in self.starts]
        if any(b < a for a, b in zip(ends, self.starts[1:])) or ends[-1] > len(self.ids) or self.starts[0] < 0:
            raise ValueError("the phrase's occurrences must be inside the snippet and must not overlap")

    @cached_property
    def aligned(self) -> Alignment:
        student: list[int] = []
        tokens: list[int] = []
        teacher_of: list[int] = []  # the teacher position each student position is compared with
        starts = set(self.starts)
        i = 0
        while i < len(self.ids):
            if i in starts:
                last = i + self.width - 1
                tokens.append(len(student))
                student.append(self.ids[last])  # a placeholder: the vector replaces its row
                teacher_of.append(last)
                i += self.width
            else:
                student.append(self.ids[i])
                teacher_of.append(i)
                i += 1
        first = tokens[0]
        return Alignment(tuple(student), tuple(tokens), tuple(teacher_of[first:]),
                         tuple(range(first, len(student))))

    @property
    def compared(self) -> int:
        """How many positions the loss compares (the phrase's last one and every later one)."""
        return len(self.aligned.student_positions)


def bos_ids(tokenizer) -> list[int]:
    """``[bos]`` when the tokenizer has a beginning-of-sequence token, else ``[]``."""
    bos = tokenizer.bos_token_id
    return [int(bos)] if bos is not None else []


def sentence_snippets(tokenizer, spec) -> list[Snippet]:
    """Every fine-tuning sentence with gloss ``i mod G`` written back in place of the new token."""
    glosses = gloss_token_ids(tokenizer, spec)
    bos = bos_ids(tokenizer)
    out = []
    for i, sentence in enumerate(spec.fine_tuning_sentences):
        g = i % len(glosses)
        pieces = sentence.split(spec.new_token)
        ids, starts = list(bos), []
        for j, piece in enumerate(pieces):
            before_token = j < len(pieces) - 1
            if before_token:
                piece = piece.rstrip()  # the token absorbs the spaces before it
            if piece:
                ids += tokenizer.encode(piece, add_special_tokens=False)
            if before_token:
                starts.append(len(ids))
                ids += glosses[g]
        if not starts:
            raise fail("fine_tuning_sentences", f"a sentence does not contain the new token {spec.new_token}",
                       f"use {spec.new_token} where the gloss would stand")
        out.append(Snippet(tuple(ids), tuple(starts), len(glosses[g]), g, "sentence"))
    return out


def check_length(tokenizer, spec, length: int) -> None:
    """Every gloss, after the beginning-of-sequence token, must leave room in ``length`` tokens."""
    room = length - len(bos_ids(tokenizer))
    for gloss, ids in zip(spec.glosses, gloss_token_ids(tokenizer, spec)):
        if len(ids) >= room:
            raise fail("distill_length", f"{length} tokens cannot hold the gloss {gloss!r} ({len(ids)} tokens"
                       f"{' after the beginning-of-sequence token' if room < length else ''}) and a continuation",
                       f"give at least {len(ids) + length - room + 1} tokens (default 50)")


def _stops(model, tokenizer) -> set[int]:
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    return set([eos] if isinstance(eos, int) else eos or [])


@torch.no_grad()
def generated_snippets(model, tokenizer, spec, *, count: int, length: int, seed: int) -> list[Snippet]:
    """``count`` snippets the model samples after the beginning-of-sequence token and a gloss."""
    from transformers import GenerationConfig

    check_length(tokenizer, spec, length)
    glosses = gloss_token_ids(tokenizer, spec)
    bos, stops = bos_ids(tokenizer), _stops(model, tokenizer)
    # A model that has new tokens already (this symbol's, or a vocabulary's) samples as the base model
    # would: never one of them (tokens added as ordinary words; the base model's own are special).
    vocab = tokenizer.get_vocab()
    added = {i for i, t in tokenizer.added_tokens_decoder.items() if not t.special}
    suppress = sorted(added | ({vocab[spec.new_token]} if spec.new_token in vocab else set())) or None
    device = model.get_input_embeddings().weight.device
    out: list[Snippet] = []
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), eval_mode(model):
        torch.manual_seed(int(seed))
        for g, ids in enumerate(glosses):
            n = len(range(g, count, len(glosses)))
            if n == 0:
                continue
            prompt = bos + ids
            config = GenerationConfig(max_new_tokens=length - len(prompt), num_return_sequences=n,
                                      eos_token_id=sorted(stops) or None, pad_token_id=pad_id_of(tokenizer),
                                      suppress_tokens=suppress, **SAMPLING)
            sampled = model.generate(torch.tensor([prompt], device=device), attention_mask=torch.ones(
                1, len(prompt), dtype=torch.long, device=device), generation_config=config)
            for row in sampled[:, len(prompt):].tolist():
                cut = next((j for j, t in enumerate(row) if t in stops), len(row))
                out.append(Snippet(tuple(prompt + row[:cut]), (len(bos),), len(ids), g, "generated"))
    return out


def _find(ids: list[int], phrase: list[int]) -> list[int]:
    """Starts of ``phrase`` in ``ids``, left to right, without overlaps."""
    starts, i, k = [], 0, len(phrase)
    while i + k <= len(ids):
        if ids[i:i + k] == phrase:
            starts.append(i)
            i += k
        else:
            i += 1
    return starts


def text_snippets(tokenizer, spec, texts: list[str], field: str = "distill_texts") -> list[Snippet]:
    """Snippets from texts that contain a gloss written out; each takes the first gloss found in it."""
    if not texts:
        raise fail(field, "has no texts", "give texts that use the gloss, or leave the field out")
    glosses = gloss_token_ids(tokenizer, spec)
    bos = bos_ids(tokenizer)
    out = []
    for i, text in enumerate(texts, 1):
        ids = bos + (tokenizer.encode(text, add_special_tokens=False) if isinstance(text, str) else [])
        found = next(((g, starts) for g, phrase in enumerate(glosses) if (starts := _find(ids, phrase))), None)
        if found is None:
            raise fail(f"{field} (item {i})", f"{text!r:.60} does not contain the gloss "
                       + " or ".join(repr(g) for g in spec.glosses),
                       "write the gloss after a word, in lower case as in the spec (e.g. 'at the "
                       f"{spec.glosses[0]}'), or remove the text")
        g, starts = found
        out.append(Snippet(tuple(ids), tuple(starts), len(glosses[g]), g, "text"))
    return out


def build_snippets(model, tokenizer, spec, *, snippets: int, length: int, seed: int,
                   texts: list[str] | None = None) -> list[Snippet]:
    """The training material: the fine-tuning sentences, ``snippets`` generated ones, and ``texts``."""
    out = sentence_snippets(tokenizer, spec)
    out += generated_snippets(model, tokenizer, spec, count=snippets, length=length, seed=seed)
    if texts is not None:
        out += text_snippets(tokenizer, spec, texts)
    return out
