"""The web app's single door into the engine: plain Python in, JSON-able values out.

``glossui`` talks to the engine only through a ``Service``: it passes widget values (strings,
numbers, dicts) and gets back dicts, lists and strings, never tensors or models. Everything that
imports torch is imported lazily inside methods, so importing this module (and so ``glossui``)
stays torch-free.

One ``Service`` lives per process and is shared by every browser tab: the base model, the job
runner and the run store are process-wide, so reloading the page finds the running job again.
What the page calls a *target* is one trained model in the store: a fine-tuning run
(``"<run_id>"``) or one member of a comparison (``"<run_id>:<strategy>-s<seed>"``; ``:`` never
occurs in a run id).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

from core.model.slot import ModelSlot
from core.runs import progress
from core.service_authoring import AuthoringService
from core.service_results import ResultsService, _collect
from core.spec import limits
from core.spec.errors import InputError, Problem, fail
from core.spec.gloss import LIST_FIELDS, GlossSpec, builtin_examples, field_limits, load_example, readable_fields
from core.train.events import step_events

log = logging.getLogger(__name__)

TINY_MODEL = "tiny-random"

# Spec fields in the order the page shows them.
SPEC_FIELDS = (
    "symbol_id", "glosses", "new_token", "target_tokens",
    "positive_contexts", "negative_contexts", "validation_contexts",
    "testing_positive_contexts", "testing_negative_contexts",
    "fine_tuning_sentences", "validation_sentences", "generation_prompts", "notes",
)


def _warm_imports() -> None:
    """Import the engine in the calling thread before a worker thread needs it (``transformers``
    resolves names lazily, and two threads doing so at once can see a half-initialised module)."""
    import core.experiment.pipeline  # noqa: F401
    from core.model.slot import _warm_imports as warm_model

    warm_model()


def problems_of(exc: InputError) -> list[dict]:
    return [p.to_dict() for p in exc.problems]


def _config_class(kind: str):
    if kind == "init":
        from core.embedding.strategies import InitConfig

        return InitConfig
    if kind == "finetune":
        from core.train.finetune import FinetuneConfig

        return FinetuneConfig
    if kind == "compare":
        from core.experiment.compare import CompareConfig

        return CompareConfig
    raise fail("settings", f"{kind!r} is not a kind of settings", "ask for 'init', 'finetune' or 'compare'")


class Service(AuthoringService, ResultsService):
    """Everything the page can ask of the engine (see the module docstring and ``core.service_authoring``)."""

    def __init__(self, model: str | None = None, runs_dir: str | os.PathLike = "runs",
                 exports_dir: str | os.PathLike | None = None, tiny: bool = False) -> None:
        self.default_request = TINY_MODEL if tiny else (model or "")
        self.runs_dir = Path(runs_dir).expanduser().resolve()
        self.exports_dir = Path(exports_dir).expanduser().resolve() if exports_dir else self.runs_dir.parent / "exports"
        # Files offered for download live under the system temp dir, where Gradio may serve them.
        self.downloads_dir = Path(tempfile.mkdtemp(prefix="glosslab-downloads-"))
        self.model = ModelSlot()
        self._lock = threading.Lock()
        # The last initializations (each holds a model copy): a training with the same spec,
        # settings and base model starts from it instead of initializing again.
        self._inits: OrderedDict[str, Any] = OrderedDict()
        self._runner = None
        self._store = None
        self._models_cache: dict = {}
        self._cache_lock = threading.Lock()

    # -- limits and help ---------------------------------------------------------------------
    @staticmethod
    def limits() -> list[list[str]]:
        return [[what, limit] for what, limit in limits.describe()]

    @staticmethod
    def field_limits() -> dict[str, dict]:
        """Per spec field: item counts and characters per item, for the counters beside each field."""
        return field_limits(SPEC_FIELDS)

    # -- specs -------------------------------------------------------------------------------
    @staticmethod
    def examples() -> list[str]:
        return list(builtin_examples())

    @staticmethod
    def example(name: str) -> dict:
        return load_example(name).to_dict()

    @staticmethod
    def blank_spec() -> dict:
        return {name: ([] if name in LIST_FIELDS else "") for name in SPEC_FIELDS}

    def _tokenizer(self):
        try:
            return self.model.get().tokenizer
        except InputError:
            return None

    def check_spec(self, data: dict, with_tokenizer: bool = True) -> list[dict]:
        """Every problem with a spec (an empty list when it is fine), tokenizer checks included
        when a model is loaded."""
        try:
            spec = GlossSpec.from_dict(data)
        except InputError as exc:
            return problems_of(exc)
        if with_tokenizer:
            tokenizer = self._tokenizer()
            if tokenizer is not None:
                from core.spec.gloss import validate_for_tokenizer

                return [p.to_dict() for p in validate_for_tokenizer(spec, tokenizer)]
        return []

    def spec(self, data: dict) -> GlossSpec:
        """A validated spec (structure and tokenizer), or an InputError listing every problem."""
        problems = self.check_spec(data)
        if problems:
            raise InputError([Problem(**p) for p in problems])
        return GlossSpec.from_dict(data)

    @staticmethod
    def parse_spec_file(content: bytes | str) -> tuple[dict, list[dict]]:
        """Read an uploaded spec: (the fields that could be read, every problem).

        JSON only (never pickle or code). When the JSON is an object, the fields whose type is
        right are returned even if others are wrong, so the user can fix them in the page.
        """
        try:
            spec = GlossSpec.from_json(content)
            return spec.to_dict(), []
        except InputError as exc:
            problems = problems_of(exc)
        return readable_fields(content), problems

    def spec_download(self, data: dict) -> str:
        """Write the spec as JSON for download (validated structurally first); return the path."""
        spec = GlossSpec.from_dict(data)
        name = f"gloss_{spec.symbol_id}.json"
        return str(spec.save(self._download_dir() / name))

    def _download_dir(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.downloads_dir))

    # -- model -------------------------------------------------------------------------------
    def load_model(self, name: str | None = None, wait: bool = False) -> dict:
        request = (name or "").strip() or self.default_request
        _warm_imports()
        return self.model.load(request, wait=wait)

    def model_status(self) -> dict:
        return self.model.status()

    # -- initialization ----------------------------------------------------------------------
    @staticmethod
    def strategies() -> list[dict]:
        """Every strategy: name, label, one-line help, whether its output row is calculated."""
        from core.embedding.strategies import RESEARCH_STRATEGIES, STRATEGIES

        return [{"name": s.name, "label": s.label, "help": s.help, "calculated_output": s.calculated_output,
                 "research": s.name in RESEARCH_STRATEGIES} for s in STRATEGIES.values()]

    @staticmethod
    def init_defaults() -> dict:
        return {f["name"]: f["default"] for f in Service.settings("init")}

    @staticmethod
    def init_config(values: dict):
        """An ``InitConfig`` from widget values (whole numbers may arrive as floats)."""
        from core.embedding.strategies import InitConfig

        return InitConfig.from_dict(dict(values))

    def initialize(self, spec_data: dict, config: dict, on_event: Callable[[dict], None] | None = None) -> dict:
        """Add the token to a copy of the base model with one strategy and evaluate it.

        Returns ``InitResult.to_dict()``; the model itself stays here (the last two are kept, so
        that a training with the same spec and settings starts from it) and nothing with tensors
        crosses into the page.
        """
        from core.experiment.pipeline import initialize

        cfg = self.init_config(config)
        spec = self.spec(spec_data)
        base = self.model.get(wait_s=120)
        result = initialize(spec, cfg, base, on_event=on_event)
        out = result.to_dict()
        with self._lock:
            self._inits[_fingerprint(spec, cfg, base.name)] = result
            while len(self._inits) > 2:   # each holds a whole model copy
                self._inits.popitem(last=False)
        return out

    def _take_init(self, spec: GlossSpec, config, model_name: str):
        """The kept initialization for exactly this spec, config and model (handed over once:
        fine-tuning consumes its model), or None."""
        with self._lock:
            return self._inits.pop(_fingerprint(spec, config, model_name), None)

    # -- settings and results ----------------------------------------------------------------
    @staticmethod
    def settings(kind: str) -> list[dict]:
        """Every setting of the initialization ("init"), the fine-tuning ("finetune") or a comparison
        ("compare") for the page: name, kind, default, choices, min, max, label, help, advanced
        (``core.spec.settings``)."""
        from core.spec import settings

        return settings.describe(_config_class(kind))

    @staticmethod
    def setting_labels() -> dict[str, str]:
        """{field: label} of every setting, to name fields in messages as the page labels them."""
        from core.spec import settings

        return settings.labels(_config_class("compare"), _config_class("finetune"), _config_class("init"))

    @staticmethod
    def metrics() -> list[dict]:
        """The results schema (``core.experiment.results``): every metric's keys, label and meaning."""
        from core.experiment import results

        return results.describe()

    @staticmethod
    def finetune_config(values: dict):
        from core.train.finetune import FinetuneConfig

        return FinetuneConfig.from_dict(dict(values))

    # -- the process-wide runner and store -----------------------------------------------------
    @property
    def store(self):
        from core.runs.store import RunStore

        if self._store is None:
            self._store = RunStore(self.runs_dir)
        return self._store

    @property
    def runner(self):
        from core.runs.jobs import JobRunner

        if self._runner is None:
            self._runner = JobRunner(self.store)
        return self._runner

    def shutdown(self) -> None:
        if self._runner is not None:
            self._runner.shutdown(wait=True)

    # -- starting jobs -------------------------------------------------------------------------
    def _configs(self, spec_data: dict, init: dict, finetune: dict):
        """(spec, InitConfig, FinetuneConfig), or one InputError listing every problem of all three."""
        out: dict[str, Any] = {}
        problems = [Problem(**p) for p in self.check_spec(spec_data)]
        problems += _collect(lambda: out.__setitem__("init", self.init_config(init)),
                             lambda: out.__setitem__("ft", self.finetune_config(finetune)))
        if not problems:
            spec = GlossSpec.from_dict(spec_data)
            problems += _collect(lambda: out["ft"].check_data(len(spec.fine_tuning_sentences),
                                                              len(spec.validation_sentences)))
        if problems:
            raise InputError(problems)
        return spec, out["init"], out["ft"]

    def start_training(self, spec_data: dict, init: dict, finetune: dict) -> dict:
        """Queue a fine-tuning job (one strategy); returns the job as ``job()`` shows it."""
        from core.runs.submit import submit_finetune

        spec, init_cfg, ft_cfg = self._configs(spec_data, init, finetune)
        base = self.model.get(wait_s=120)
        ticket = submit_finetune(self.runner, spec, base, init_cfg, ft_cfg,
                                 init_result=self._take_init(spec, init_cfg, base.name))
        return self.job(ticket.job_id)

    def start_comparison(self, spec_data: dict, compare: dict, init: dict, finetune: dict,
                         also: list[str] | None = None) -> dict:
        """Queue a comparison: ``compare`` holds its own settings (strategies, seeds, …) by name;
        ``also`` names built-in examples to compare on besides the spec (each symbol one data point;
        a built-in with the spec's own token is the spec itself and is not added twice)."""
        from core.experiment.compare import CompareConfig
        from core.runs.submit import submit_comparison

        spec, init_cfg, ft_cfg = self._configs(spec_data, init, finetune)
        config = CompareConfig.from_dict({**compare, "finetune": ft_cfg, "init": init_cfg})
        specs = [spec]
        for name in also or []:
            extra = load_example(name)
            if extra.new_token not in {s.new_token for s in specs}:
                specs.append(extra)
        base = self.model.get(wait_s=120)
        return self.job(submit_comparison(self.runner, specs if len(specs) > 1 else spec, base, config).job_id)

    # -- vocabularies: many symbols together (core.experiment.vocabulary, core.runs.vocab_jobs) ---
    def vocabulary(self, builtins: list[str] | None = None, files: list[str] | None = None) -> dict:
        """The chosen built-in specs and uploaded files as one vocabulary, checked as a whole (and
        against the loaded model's tokenizer): its source and symbols, or one InputError."""
        from core.experiment.vocabulary import load_parts

        vocab = load_parts(builtins or [], files or [], self._tokenizer())
        return {"source": vocab.source, "title": vocab.title, "symbols": [
            {"token": s.new_token, "gloss": s.glosses[0], "from": place} for s, place in zip(vocab.specs, vocab.places)]}

    def start_vocabulary(self, builtins: list[str] | None, files: list[str] | None, init: dict, finetune: dict,
                         contrast: bool = False, finetune_too: bool = True) -> dict:
        """Queue a vocabulary job: every symbol initialized together (``contrast``: the other symbols'
        positive contexts join each one's negatives), then, with ``finetune_too``, fine-tuned together."""
        from core.experiment.vocabulary import load_parts
        from core.runs.vocab_jobs import submit_vocab

        out: dict[str, Any] = {}
        problems = _collect(lambda: out.__setitem__("vocab", load_parts(builtins or [], files or [])),
                            lambda: out.__setitem__("init", self.init_config(init)),
                            lambda: out.__setitem__("ft", self.finetune_config(finetune) if finetune_too else None))
        if problems:
            raise InputError(problems)
        base = self.model.get(wait_s=120)
        ticket = submit_vocab(self.runner, out["vocab"], base, out["init"], out["ft"], contrast=bool(contrast))
        return self.job(ticket.job_id)

    def stop_job(self, job_id: str) -> dict:
        self.runner.stop(job_id)
        return self.job(job_id)

    # -- watching jobs -------------------------------------------------------------------------
    def job(self, job_id: str) -> dict:
        """Where a job (or a stored run) stands: status, queue position, step events, progress,
        best step, per-member curves of a comparison, and its result once finished."""
        snap = self.runner.get(job_id)
        events = self.runner.events(job_id)
        steps = step_events(events)
        job = {"id": job_id, "kind": snap["kind"], "title": snap.get("title", ""), "status": snap["status"],
               "position": snap.get("position"), "error": snap.get("error"), "events": steps,
               "best": progress.best(steps), "progress": progress.progress(events, steps), "result": None}
        if snap["kind"] == "compare":
            job["series"] = progress.series(steps)
        if snap["status"] not in progress.ACTIVE:
            result = self.runner.result(job_id)
            job["result"] = result
            if snap["kind"] == "compare" and result:
                job["rows"] = result.get("rows") or []
        return job

    def latest_job(self, kind: str) -> dict | None:
        """The running or queued job of this kind ("finetune" or "compare"), else the latest one,
        of this process or (after a restart) from the store ("vocab": a vocabulary job)."""
        kind = "finetune" if kind == "train" else kind
        mine = [j for j in self.runner.list() if j["kind"] == kind]
        active = [j for j in mine if j["status"] in progress.ACTIVE]
        if active or mine:
            return self.job((active or mine)[-1]["job_id"])
        stored = [r for r in self.store.list() if r.get("kind") == kind]
        return self.job(stored[0]["run_id"]) if stored else None

    # -- the run store -------------------------------------------------------------------------
    def runs(self) -> list[dict]:
        """Every run, newest first: id, kind, title, status, times, error, and its trained targets."""
        rows = []
        for r in self.store.list():
            run_id = r["run_id"]
            adapters = self.store.adapters(run_id)
            rows.append({"id": run_id, "kind": r.get("kind"), "title": r.get("title", ""), "status": r.get("status"),
                         "created": r.get("created"), "finished": r.get("finished"), "error": r.get("error"),
                         "has_result": r.get("has_result", False),
                         "targets": [run_id if a == "" else f"{run_id}:{a}" for a in adapters]})
        return rows

    def run(self, run_id: str) -> dict:
        """One run as it was: spec, config, status, step events, curves, result."""
        data = self.store.open(run_id)
        status = data["status"]
        steps = step_events(data["events"])
        result = data.get("result") or {}
        out = {"id": run_id, "kind": status.get("kind"), "title": status.get("title", ""),
               "status": status.get("status"), "error": status.get("error"), "created": status.get("created"),
               "finished": status.get("finished"), "spec": data["spec"], "config": data["config"],
               "result": result, "events": steps, "best": progress.best(steps), "path": data["path"],
               "targets": [run_id if a == "" else f"{run_id}:{a}" for a in data["adapters"]]}
        if out["kind"] == "compare":
            out["series"] = progress.series(steps)
        return out

    def delete_run(self, run_id: str) -> None:
        self.store.delete(run_id)
        with self._cache_lock:
            for key in [k for k in self._models_cache if k.split(":")[0] == run_id]:
                del self._models_cache[key]


def _fingerprint(spec: GlossSpec, config, model_name: str) -> str:
    return json.dumps([spec.to_dict(), config.to_dict(), model_name], sort_keys=True)
