"""Prompts chosen by part of speech: the spec's generation prompts, and the instructions that ask
a model or a chat assistant for sentences that use a gloss.

The Bliss lexicon names parts of speech ``noun``, ``person``, ``action``, ``description``,
``expression`` and ``function``; grammar names (``verb``, ``adjective``, ``adverb``) are read as
the same kinds. Every generation prompt holds ``{placeholder}`` after a space, so that the gloss
keeps its leading space and the token absorbs it.
"""

from __future__ import annotations

from core.spec.gloss import PLACEHOLDER

P = PLACEHOLDER

KINDS = ("noun", "person", "action", "description", "other")
_ALIASES = {"noun": "noun", "thing": "noun", "person": "person", "action": "action", "verb": "action",
            "description": "description", "adjective": "description", "adverb": "description",
            "modifier": "description"}

# The spec's generation prompts, by kind: what is said after them shows whether the token
# carries the gloss's meaning.
GENERATION_PROMPTS: dict[str, tuple[str, ...]] = {
    "noun": (f"At the {P} you can", f"I went to the {P} because", f"The {P} was", f"Have you ever seen a {P}? It",
             f"She told me about the {P} and", f"Everyone knows that a {P}"),
    "person": (f"The {P} said that", f"My {P} always", f"Yesterday the {P} came and",
               f"Every {P} needs", f"I asked the {P} whether"),
    "action": (f"Every morning I {P} and then", f"She wanted to {P} because", f"They decided to {P} after",
               f"It is hard to {P} when", f"Do you know how to {P}? First"),
    "description": (f"The weather was {P} and", f"He felt {P} because", f"It looks {P}, so",
                    f"Being {P} means", f"She was very {P} when"),
    "other": (f"The word {P} means", f"She said {P} and", f"In that sentence, {P} shows"),
}

# How a sentence should use the gloss, by kind (for the model and for a chat assistant).
_USE = {
    "noun": "as a noun, naming the thing or place",
    "person": "as a noun, naming the person",
    "action": "as a verb, naming the action",
    "description": "as a describing word",
    "other": "in its usual sense",
}


def kind_of(pos: str | None) -> str:
    """The template kind for a part of speech (``other`` when unknown or missing)."""
    return _ALIASES.get((pos or "").strip().lower(), "other")


def generation_prompts(pos: str | None) -> list[str]:
    return list(GENERATION_PROMPTS[kind_of(pos)])


def _quoted(glosses: list[str]) -> str:
    names = [f'"{g}"' for g in glosses]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def sentence_request(glosses: list[str], pos: str | None, n: int, meaning: str = "") -> str:
    """The instruction for positive sentences: each uses a gloss near its end, in its usual sense."""
    about = f" It means: {meaning.strip()}." if meaning and meaning.strip() else ""
    return (f"Write {n} different, natural English sentences that use {_quoted(glosses)} {_USE[kind_of(pos)]}.{about} "
            "Put it near the end of each sentence, after a few words that make it easy to guess. "
            "Vary the subjects and situations. Write one sentence per line, numbered, and nothing else.")


def negative_request(glosses: list[str], pos: str | None, n: int) -> str:
    """The instruction for negative sentences: similar words and settings, but the gloss would be wrong."""
    return (f"Write {n} different, natural English sentences that do NOT use {_quoted(glosses)}: sentences "
            "about other things, including some similar places, people or situations where it would be the "
            "wrong word. Write one sentence per line, numbered, and nothing else.")


def model_prompt(glosses: list[str], pos: str | None, meaning: str = "") -> str:
    """What the loaded model is asked, once per sampled candidate sentence."""
    return (f"Write one natural English sentence that uses {_quoted(glosses)} {_USE[kind_of(pos)]}."
            + (f" It means: {meaning.strip()}." if meaning and meaning.strip() else "")
            + " Answer with the sentence only.")


# Whole sentences that use a gloss, by kind: positive material when many symbols are drafted
# (``core.authoring.many``). The words before the gloss are everyday ones, so a context is short and
# gets the sentence before it (``DraftConfig.lengthen_contexts``); the sentence itself always trains.
SENTENCE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "noun": (f"Yesterday I walked past the {P} on my way home.", f"We talked about the {P} for a long time.",
             f"My teacher showed us a picture of the {P}.", f"Everyone in the village knows about the {P}.",
             f"I had never heard of the {P} before today.", f"My grandfather told me a story about the {P}."),
    "person": (f"Yesterday the {P} came to our house.", f"I asked the {P} for help.",
               f"My neighbour wants to become a {P}.", f"Everyone was waiting for the {P}.",
               f"The children waved at the {P}.", f"We thanked the {P} before we left."),
    "action": (f"Every morning I {P} before breakfast.", f"It is not easy to {P} when you are tired.",
               f"She taught me how to {P} last summer.", f"We decided to {P} together.",
               f"My little brother wants to {P} too.", f"They asked us to {P} quietly."),
    "description": (f"The old house looked very {P} in the evening light.", f"He felt {P} after the long journey.",
                    f"Nobody expected it to be so {P}.", f"Her story made everyone feel {P}.",
                    f"The whole street seemed {P} that morning.", f"I have never seen anything so {P}."),
    "other": (f"She looked at me and said {P}.", f"In the story, the word {P} comes up twice.",
              f"He wrote {P} at the top of the page.", f"The teacher explained what {P} means.",
              f"My friend always says {P} when she is surprised."),
}


def template_sentences(gloss: str, pos: str | None) -> list[str]:
    """The kind's sentence templates filled with ``gloss``."""
    return [t.replace(P, gloss.strip()) for t in SENTENCE_TEMPLATES[kind_of(pos)]]


def _meaning(explanation: str) -> str:
    """The explanation's meaning: what follows the composition's colon, first sentence only."""
    if ":" not in explanation:
        return ""
    meaning = explanation.split(":", 1)[1].strip()
    meaning = meaning.split(". ")[0].strip().rstrip(".")
    return "" if not meaning or meaning.lower().startswith("note") else meaning


def definition_sentences(gloss: str, explanation: str, parts: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Sentences that give the lexicon's explanation, then the gloss: ``Building where mail is
    processed: post office.``, ``The word for building where mail is processed is post office.``, and
    from the composition's parts ``In Blissymbolics, building and letter together mean post office.``"""
    gloss = gloss.strip()
    out = []
    meaning = _meaning(explanation or "")
    if meaning:
        out.append(f"{meaning[0].upper()}{meaning[1:]}: {gloss}.")
        out.append(f"The word for {meaning[0].lower()}{meaning[1:]} is {gloss}.")
    words = [p.strip() for p in parts if p and p.strip() and p.strip().casefold() != gloss.casefold()]
    if len(words) >= 2:
        out.append(f"In Blissymbolics, {', '.join(words[:-1])} and {words[-1]} together mean {gloss}.")
    return out
