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
