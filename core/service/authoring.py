"""The Bliss lexicon and drafting specs, for the Gloss tab, and the lexicon's parts of speech for the
Vocabulary tab's drafting from the lexicon (``core.authoring``; the drafting job itself is started by ``jobs``).

Like the rest of the service it takes plain values and returns plain dicts, and imports the
engine lazily so that the page stays torch-free.
"""

from __future__ import annotations

from core.service.models import Models
from core.spec.errors import InputError

# How long a lookup waits for a model that is still loading before it answers without targets.
MODEL_WAIT_S = 60


class Authoring:
    """Lexicon lookups and drafting on the loaded model (``models``)."""

    def __init__(self, models: Models) -> None:
        self.models = models

    def bliss_symbol(self, query: str) -> dict:
        """A symbol by BCI-AV ID, or ranked matches for words (``core.authoring.lexicon.lookup``).
        Target words are proposed for the loaded model's tokenizer (waiting for one still loading);
        with no model, ``targets`` is None."""
        from core.authoring.lexicon import lookup

        try:
            base = self.models.get(wait_s=MODEL_WAIT_S)
        except InputError:
            base = None
        return lookup(query, base.tokenizer if base else None, base.name if base else None)

    def draft(self, values: dict) -> dict:
        """A spec drafted on the loaded model from the page's symbol fields, pasted sentences and
        negatives, optional corpus and settings: ``DraftResult.to_dict()`` (the spec, every item
        with its ranks, kept or dropped, and the counts); see ``core.authoring.draft.draft_values``."""
        from core.authoring.draft import draft_values

        base = self.models.get()
        return draft_values(values, base.model, base.tokenizer, base.name)

    @staticmethod
    def parts_of_speech() -> list[str]:
        """The lexicon's parts of speech, sorted (what a vocabulary draft may be narrowed to)."""
        from core.authoring.lexicon import load_lexicon

        return sorted({s.pos for s in load_lexicon() if s.pos})

    @staticmethod
    def prompts(glosses: list[str], symbol_id: str = "") -> dict:
        """The requests to paste into a chat assistant: {"positive": str, "negative": str}."""
        from core.authoring.draft import chat_prompts

        return chat_prompts(glosses, symbol_id)
