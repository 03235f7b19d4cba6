"""The page's door into ``core.authoring`` (the Bliss lexicon; drafting specs), mixed into ``Service``.

Split from ``core/service.py`` by role. Like the rest of the service it takes plain values and
returns plain dicts, and imports the engine lazily so that the page stays torch-free.
"""

from __future__ import annotations

from core.spec.errors import InputError

# How long a lookup waits for a model that is still loading before it answers without targets.
MODEL_WAIT_S = 60


class AuthoringService:
    """Lexicon lookups for the Gloss tab; uses ``Service.model`` (the process's base model slot)."""

    def bliss_symbol(self, query: str) -> dict:
        """A symbol by BCI-AV ID, or ranked matches for words (``core.authoring.lexicon.lookup``).
        Target words are proposed for the loaded model's tokenizer (waiting for one still loading);
        with no model, ``targets`` is None."""
        from core.authoring.lexicon import lookup

        try:
            base = self.model.get(wait_s=MODEL_WAIT_S)
        except InputError:
            base = None
        return lookup(query, base.tokenizer if base else None, base.name if base else None)

    def draft_spec(self, values: dict) -> dict:
        """A spec drafted on the loaded model from the page's symbol fields, pasted sentences and
        negatives, optional corpus and settings: ``DraftResult.to_dict()`` (the spec, every item
        with its ranks, kept or dropped, and the counts); see ``core.authoring.draft.draft_values``."""
        from core.authoring.draft import draft_values

        base = self.model.get(wait_s=120)
        return draft_values(values, base.model, base.tokenizer, base.name)

    @staticmethod
    def draft_prompts(glosses: list[str], symbol_id: str = "") -> dict:
        """The requests to paste into a chat assistant: {"positive": str, "negative": str}."""
        from core.authoring.draft import chat_prompts

        return chat_prompts(glosses, symbol_id)

    @staticmethod
    def draft_settings() -> list[dict]:
        """The drafting settings for the page's widgets (``core.spec.settings.describe``)."""
        from core.authoring.draft import DraftConfig
        from core.spec import settings

        return settings.describe(DraftConfig)

    @staticmethod
    def spec_warnings(data: dict) -> list[dict]:
        """What a valid spec holds but probably does not mean (``core.spec.gloss.spec_warnings``); [] if invalid."""
        from core.spec.gloss import GlossSpec, spec_warnings

        try:
            return [w.to_dict() for w in spec_warnings(GlossSpec.from_dict(data))]
        except InputError:
            return []
