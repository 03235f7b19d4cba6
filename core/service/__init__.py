"""The page's single door into the engine: plain Python in, JSON-able values out.

``glossui`` talks to the engine only through this package: it passes widget values (strings,
numbers, dicts) and gets back dicts, lists and strings, never tensors or models. Everything that
imports torch is imported lazily inside methods, so importing this package (and so ``glossui``)
stays torch-free. One ``Service`` lives per process and is shared by every browser tab.

A ``Service`` is composed of parts, each with the parts it depends on given explicitly:

    models     the process's base model (``models``)
    settings   every setting, strategy and metric described; configs from widget values (``settings``)
    specs      gloss specs: examples, checks, warnings, uploads, downloads, limits (``specs``)
    jobs       initializing; starting, stopping and watching jobs (``jobs``)
    results    the run store and trained models: generations, exports, downloads (``results``)
    authoring  the Bliss lexicon and drafting (``authoring``)

and what they share lives in ``common``. The page formats results with the report room's
``tables`` and ``text`` (one escaper, one way to write numbers, one palette), and reads a job's
status by ``ACTIVE`` and ``FINISHED``, all exported here.

Owns: ``Service`` (this module), ``common``, ``models``, ``settings``, ``specs``, ``jobs``,
``results``, ``authoring``.

May import: every room of ``core`` but ``cli``.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.report import tables, text
from core.runs.store import ACTIVE, FINISHED
from core.service.authoring import Authoring
from core.service.common import Downloads, problems_of
from core.service.jobs import Jobs
from core.service.models import TINY_MODEL, Models
from core.service.results import Results
from core.service.settings import Settings
from core.service.specs import Specs
from core.spec.errors import InputError
from core.spec.fields import LIST_FIELDS, SPEC_FIELDS
from core.spec.token_names import other_tokens


class Service:
    """Everything the page can ask of the engine, by part (see the module docstring)."""

    def __init__(self, model: str | None = None, runs_dir: str | os.PathLike = "runs",
                 exports_dir: str | os.PathLike | None = None, tiny: bool = False) -> None:
        runs = Path(runs_dir).expanduser().resolve()
        exports = Path(exports_dir).expanduser().resolve() if exports_dir else runs.parent / "exports"
        self.downloads = Downloads()
        self.models = Models(TINY_MODEL if tiny else (model or ""))
        self.settings = Settings()
        self.specs = Specs(self.models, self.downloads)
        self.jobs = Jobs(self.models, self.specs, self.settings, runs)
        self.results = Results(self.jobs, self.models, self.downloads, exports)
        self.authoring = Authoring(self.models)

    def shutdown(self) -> None:
        self.jobs.shutdown()


__all__ = ["Service", "InputError", "problems_of", "tables", "text", "LIST_FIELDS", "SPEC_FIELDS", "ACTIVE",
           "FINISHED", "other_tokens"]
