"""Reading a Bliss lexicon gloss: synonyms, qualifiers, markers and optional endings.

A gloss in the lexicon is one line such as ``lowness, shortness (height)``, ``zero (digit), 0``,
``what (thing) - (question)``, ``curtain(s), drape(s)`` or ``church ruin, wreck (church, temple,
mosque) (2)``. ``parse_gloss`` turns it into:

* ``glosses``: the synonyms, in order, as a person would write them in a sentence. Commas split
  synonyms only outside parentheses and never inside a number (``1,000``). A parenthesized ending
  glued to a word (``curtain(s)``, ``obvious(ly)``) gives both forms (``curtain``, ``curtains``).
  Verbs stay as written (``to brush teeth``); ``bare_gloss`` drops the infinitive ``to`` where a
  single word is wanted.
* ``qualifiers``: the other parenthesized notes (``height``, ``digit``, ``question``, the variant
  numbers ``1`` and ``2``, ``N.A.``), kept as notes rather than gloss text.
* ``markers``: parenthesized tags in capitals (``OLD``, ``SYN``) that are not the initials of the
  words before them (``short message system (SMS)`` keeps ``SMS`` as a qualifier).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A glued lower-case ending: "curtain(s)", "obvious(ly)".
_OPTIONAL_ENDING = re.compile(r"(?<=[A-Za-z])\(([a-z]{1,3})\)")
_MARKER = re.compile(r"[A-Z]{2,}")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ParsedGloss:
    glosses: tuple[str, ...]
    qualifiers: tuple[str, ...]
    markers: tuple[str, ...]


def split_synonyms(raw: str) -> list[str]:
    """The comma-separated parts of ``raw``, splitting only outside parentheses and numbers."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(raw):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            in_number = i > 0 and raw[i - 1].isdigit() and re.match(r"\d{3}(?!\d)", raw[i + 1:])
            if not in_number:
                parts.append(raw[start:i])
                start = i + 1
    parts.append(raw[start:])
    return [p.strip() for p in parts if p.strip()]


def _parentheticals(text: str) -> tuple[str, list[str]]:
    """(text with its top-level parenthesized groups removed, the groups' contents in order)."""
    kept: list[str] = []
    groups: list[str] = []
    depth, current = 0, ""
    for ch in text:
        if ch == "(":
            if depth:
                current += ch
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth:
                current += ch
            else:
                groups.append(current.strip())
                current = ""
                kept.append(" ")
        elif depth:
            current += ch
        else:
            kept.append(ch)
    if depth:  # an unclosed group: keep what followed it as text
        kept.append(" " + current)
    return "".join(kept), [g for g in groups if g]


def _is_initials(marker: str, before: str) -> bool:
    words = re.findall(r"[A-Za-z]+", before)
    return len(words) >= len(marker) and "".join(w[0] for w in words[-len(marker):]).upper() == marker


def _clean(text: str) -> str:
    text = _SPACES.sub(" ", text).strip()
    # "what (thing) - (question)" leaves a dangling dash once the notes are gone.
    return re.sub(r"(\s+-)+$", "", text).strip()


def _forms(piece: str) -> list[str]:
    """The piece without and with its glued endings (``pea(s)`` → ``pea``, ``peas``)."""
    if not _OPTIONAL_ENDING.search(piece):
        return [piece]
    return [_OPTIONAL_ENDING.sub("", piece), _OPTIONAL_ENDING.sub(lambda m: m.group(1), piece)]


def parse_gloss(raw: str) -> ParsedGloss:
    """Glosses, qualifiers and markers of one lexicon gloss (see the module docstring)."""
    glosses: list[str] = []
    qualifiers: list[str] = []
    markers: list[str] = []
    for piece in split_synonyms(raw or ""):
        for form in _forms(piece):
            text, groups = _parentheticals(form)
            for group in groups:
                before = form[: form.find("(" + group)]
                if _MARKER.fullmatch(group) and not _is_initials(group, before):
                    markers.append(group)
                else:
                    qualifiers.append(_SPACES.sub(" ", group))
            text = _clean(text)
            if text:
                glosses.append(text)
    return ParsedGloss(_unique(glosses), _unique(qualifiers), _unique(markers))


def _unique(items: list[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    return tuple(out)


def bare_gloss(gloss: str) -> str:
    """A verb gloss without its infinitive ``to`` (``to brush teeth`` → ``brush teeth``)."""
    words = gloss.split(" ", 1)
    return words[1].strip() if len(words) == 2 and words[0].lower() == "to" and words[1].strip() else gloss


def first_word(gloss: str) -> str:
    return gloss.split()[0] if gloss.split() else ""
