"""The process-wide base model, loaded in a background thread with a readable status.

Importing this module stays torch-free (the page imports the service, which holds a slot):
the model stack is imported when a load starts.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from core.spec.errors import InputError, Problem, fail

log = logging.getLogger(__name__)


def _warm_imports() -> None:
    """Import the model stack in the calling thread before the loader thread needs it.

    ``transformers`` resolves names lazily on first use; two threads resolving them at once can
    see a half-initialised module ("cannot import name 'LlamaConfig'"). Importing here, once,
    before the loader thread starts, avoids that race.
    """
    from transformers import (AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig,  # noqa: F401
                              LlamaForCausalLM)

    import core.model.loading  # noqa: F401


class ModelSlot:
    """The process-wide base model, loaded in a background thread with a readable status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded = None          # core.model.loading.LoadedModel once ready
        self._thread: threading.Thread | None = None
        self._status: dict[str, Any] = {"state": "idle", "request": "", "name": "", "message": "",
                                        "progress": 0.0, "info": None, "problems": []}

    def status(self) -> dict:
        with self._lock:
            return json.loads(json.dumps(self._status))

    def _set(self, **kw) -> None:
        with self._lock:
            self._status.update(kw)

    def load(self, name: str | None, wait: bool = False) -> dict:
        """Start loading ``name`` (None or "" = the default) unless it is loading already."""
        request = (name or "").strip()
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                if self._status["request"] == request:
                    thread = self._thread
                else:
                    raise fail("model", f"{self._status['request'] or 'the default model'} is still loading",
                               "wait until it is ready, then load another one")
            else:
                _warm_imports()
                self._status.update(state="loading", request=request, message="Checking the model…",
                                    progress=0.05, problems=[])
                thread = threading.Thread(target=self._load, args=(request,), name="glosslab-model", daemon=True)
                self._thread = thread
                thread.start()
        if wait:
            thread.join()
        return self.status()

    def _load(self, request: str) -> None:
        from core.model import loading as models

        try:
            info = models.check_model(request or None)
            self._set(name=info["name"], progress=0.2,
                      message=f"Loading {info['name']}" + (f" (about {info['bytes_needed'] / 2**30:.1f} GiB)"
                                                           if info.get("bytes_needed") else "") + "…")
            loaded = models.load_model(request or None, progress=lambda m: self._set(message=m, progress=0.5))
            described = models.describe(loaded)
            with self._lock:
                self._loaded = loaded
                self._status.update(state="ready", name=loaded.name, progress=1.0, info=described,
                                    message=f"{loaded.name} is ready.")
        except InputError as exc:
            self._set(state="failed", progress=0.0, problems=[p.to_dict() for p in exc.problems], message=str(exc))
        except Exception as exc:  # a model we could not foresee; keep the app alive and say why
            log.exception("loading model %r failed", request)
            self._set(state="failed", progress=0.0, message=f"{type(exc).__name__}: {exc}"[:400],
                      problems=[Problem("model", f"could not be loaded ({type(exc).__name__}: {str(exc)[:200]})",
                                        "check the name or folder, or leave it empty for the embedded default"
                                        ).to_dict()])

    def get(self, wait_s: float = 0.0):
        """The loaded base model; raise an InputError naming the model field if there is none."""
        thread = self._thread
        if thread is not None and thread.is_alive() and wait_s > 0:
            thread.join(wait_s)
        with self._lock:
            state, loaded = self._status["state"], self._loaded
        if state == "ready" and loaded is not None:
            return loaded
        if state == "loading":
            raise fail("model", "is still loading", "wait a moment and try again (see the Model tab)")
        if state == "failed" and loaded is not None:
            return loaded  # the previous model stays usable after a failed switch
        raise fail("model", "no model is loaded", "load one in the Model tab (leave the field empty for the default)")
