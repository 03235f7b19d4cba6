"""The process's base model, as the page sees it: load one in the background, its status, and the
loaded model for the other parts (``get``) with its tokenizer."""

from __future__ import annotations

from core.model.slot import ModelSlot
from core.spec.errors import InputError

TINY_MODEL = "tiny-random"
WAIT_S = 120  # how long a job start waits for a model that is still loading


def _warm_imports() -> None:
    """Import the engine in the calling thread before a worker thread needs it (``transformers``
    resolves names lazily, and two threads doing so at once can see a half-initialised module)."""
    import core.experiment.single.pipeline  # noqa: F401
    from core.model.slot import _warm_imports as warm_model

    warm_model()


class Models:
    """One base model per process (``ModelSlot``), shared by every browser tab."""

    def __init__(self, default_request: str = "") -> None:
        self.default_request = default_request
        self.slot = ModelSlot()

    def load(self, name: str | None = None, wait: bool = False) -> dict:
        request = (name or "").strip() or self.default_request
        _warm_imports()
        return self.slot.load(request, wait=wait)

    def status(self) -> dict:
        return self.slot.status()

    def get(self, wait_s: float = WAIT_S):
        """The loaded base (``LoadedModel``), waiting for one still loading; an InputError if none."""
        return self.slot.get(wait_s=wait_s)

    def tokenizer(self):
        """The loaded model's tokenizer, or None when no model is loaded (checks then skip it)."""
        try:
            return self.slot.get().tokenizer
        except InputError:
            return None
