"""Finding a gloss in a sentence, cutting sentences into contexts, and putting the token in.

A gloss matches as whole words, in any case, with any run of spaces between its words: ``Wool
Shop`` matches ``wool shop``, ``wool shops`` and ``woolshop`` do not. When synonyms overlap
(``shop`` and ``wool shop``), the longer one wins where both match.

* A positive context is the sentence cut right before the **last** occurrence of a gloss, as the
  research cut them (``She bought yarn at the local`` from ``…at the local wool shop.``).
* A fine-tuning or validation sentence has every occurrence replaced by the token, keeping the
  space before it, as ``data/wool_shop.json`` writes them (``at the [BLISS_29111] on Elm Street``);
  the token absorbs that space when it is registered (method, "Spacing around the new token").
* A negative is either a context already (kept as it is) or a full sentence, which is cut at a
  word boundary chosen with a seeded generator.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

# A full sentence ends with terminal punctuation (and maybe a closing quote or bracket).
_FULL_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*$")
# Numbering and bullets a chat assistant or a user puts before each line.
_BULLET = re.compile(r"^\s*(?:[-*•·–—]+|\(?\d{1,4}[.):]|\(?[a-zA-Z][.)])\s+")
_QUOTES = "\"“”'‘’"


@dataclass(frozen=True)
class Match:
    """One occurrence of a gloss in a sentence: where it is and which gloss it is."""

    start: int
    end: int
    gloss: str


def gloss_pattern(glosses: list[str]) -> re.Pattern:
    """A regex matching any gloss as whole words, case-insensitively; the longest gloss first."""
    words = [g.split() for g in glosses if g and g.strip()]
    if not words:
        raise ValueError("no gloss to look for")
    alternatives = sorted({r"\s+".join(re.escape(w) for w in ws) for ws in words}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


class GlossFinder:
    """Finds a symbol's glosses in text and makes contexts and token sentences from it."""

    def __init__(self, glosses: list[str]):
        self.glosses = [g.strip() for g in glosses if g and g.strip()]
        self.pattern = gloss_pattern(self.glosses)
        self._by_key = {" ".join(g.casefold().split()): g for g in self.glosses}

    def matches(self, sentence: str) -> list[Match]:
        return [Match(m.start(), m.end(), self._by_key.get(" ".join(m.group(0).casefold().split()), m.group(0)))
                for m in self.pattern.finditer(sentence)]

    def uses(self, sentence: str) -> bool:
        return self.pattern.search(sentence) is not None

    def context(self, sentence: str) -> str:
        """The sentence cut right before the last occurrence of a gloss ('' if there is none or
        nothing comes before it)."""
        found = self.matches(sentence)
        return sentence[: found[-1].start].rstrip() if found else ""

    def with_token(self, sentence: str, token: str) -> str:
        """Every occurrence replaced by ``token``; the space before each one stays."""
        return self.pattern.sub(token, sentence)

    def with_gloss(self, sentence: str, token: str, gloss: str | None = None) -> str:
        """The reverse: ``token`` replaced by a gloss (the first one unless told), for testing."""
        return sentence.replace(token, gloss if gloss is not None else self.glosses[0])


def is_full_sentence(text: str) -> bool:
    """Whether a line reads as a whole sentence (ends with . ! ? …) rather than a context."""
    return bool(_FULL_SENTENCE.search(text.strip()))


def cut_at_word(sentence: str, rng: random.Random, min_words: int = 3) -> str:
    """A full sentence cut after a word chosen by ``rng``: at least ``min_words`` words (when it
    has them) and at least one word left out; trailing punctuation of the kept part goes."""
    words = sentence.split()
    if len(words) < 2:
        return sentence.rstrip(".!?… ")
    low = min(min_words, len(words) - 1)
    keep = rng.randint(low, len(words) - 1)
    return " ".join(words[:keep]).rstrip(",;:–—-")


def negative_context(line: str, rng: random.Random) -> str:
    """A negative as the spec holds it: a context stays as it is, a full sentence is cut."""
    line = line.strip()
    return cut_at_word(line, rng) if is_full_sentence(line) else line


def clean_line(line: str) -> str:
    """One pasted line without its numbering, bullet or surrounding quotes and spaces."""
    text = _BULLET.sub("", line.strip(), count=1).strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return " ".join(text.split())


def split_lines(text: str) -> list[str]:
    """Pasted text (or a file's), one item a line: numbering and bullets removed, blank lines and
    headings (a line that ends with ':') skipped, duplicates dropped in order."""
    out: list[str] = []
    seen: set[str] = set()
    for line in (text or "").splitlines():
        item = clean_line(line)
        if not item or item.endswith(":") or item in seen:
            continue
        seen.add(item)
        out.append(item)
    return out
