"""Work the page starts and watches: initializations (kept, so that a training with the same spec
and settings starts from one), fine-tunings, comparisons, vocabulary runs and vocabularies drafted
from the lexicon queued on the process's job runner, resuming an interrupted run, and where each stands.

One runner and one run store per process, shared by every browser tab: reloading the page finds
the running job again.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

from core.runs import progress
from core.service.common import raise_all
from core.service.models import Models
from core.service.settings import Settings
from core.service.specs import Specs
from core.spec.errors import InputError, Problem, fail
from core.spec.gloss import GlossSpec, load_example
from core.train.events import step_events

KEPT_INITS = 2  # each holds a whole model copy


class Jobs:
    """Starting, stopping and watching jobs (``runner``, ``store``: created on first use)."""

    def __init__(self, models: Models, specs: Specs, settings: Settings, runs_dir: Path) -> None:
        self.models, self.specs, self.settings = models, specs, settings
        self.runs_dir = runs_dir
        self._lock = threading.Lock()
        # The last initializations (each holds a model copy): a training with the same spec,
        # settings and base model starts from it instead of initializing again.
        self._inits: OrderedDict[str, Any] = OrderedDict()
        self._runner = None
        self._store = None
        self._probes: dict[str, Any] = {}  # measured rates by model name (``core.runs.estimate.probe``)
        self._rates: dict[tuple, Any] = {}  # the stored runs' rates, by model and run list

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

    # -- initializing (in the calling thread) --------------------------------------------------
    def initialize(self, spec_data: dict, config: dict, on_event: Callable[[dict], None] | None = None) -> dict:
        """Add the token to a copy of the base model with one strategy and evaluate it.

        Returns ``InitResult.to_dict()``; the model itself stays here (the last two are kept, so
        that a training with the same spec and settings starts from it) and nothing with tensors
        crosses into the page.
        """
        from core.experiment.single.pipeline import initialize

        cfg = self.settings.init_config(config)
        spec = self.specs.spec(spec_data)
        base = self.models.get()
        result = initialize(spec, cfg, base, on_event=on_event)
        out = result.to_dict()
        with self._lock:
            self._inits[_fingerprint(spec, cfg, base.name)] = result
            while len(self._inits) > KEPT_INITS:
                self._inits.popitem(last=False)
        return out

    def _take_init(self, spec: GlossSpec, config, model_name: str):
        """The kept initialization for exactly this spec, config and model (handed over once:
        fine-tuning consumes its model), or None."""
        with self._lock:
            return self._inits.pop(_fingerprint(spec, config, model_name), None)

    # -- starting jobs -------------------------------------------------------------------------
    def _configs(self, spec_data: dict, init: dict, finetune: dict):
        """(spec, InitConfig, FinetuneConfig), or one InputError listing every problem of all three."""
        out: dict[str, Any] = {}
        problems = [Problem(**p) for p in self.specs.check(spec_data)]
        try:
            raise_all(lambda: out.__setitem__("init", self.settings.init_config(init)),
                      lambda: out.__setitem__("ft", self.settings.finetune_config(finetune)))
        except InputError as exc:
            problems += exc.problems
        if problems:
            raise InputError(problems)
        spec = GlossSpec.from_dict(spec_data)
        out["ft"].check_data(len(spec.fine_tuning_sentences), len(spec.validation_sentences))
        return spec, out["init"], out["ft"]

    def start_training(self, spec_data: dict, init: dict, finetune: dict) -> dict:
        """Queue a fine-tuning job (one strategy); returns the job as ``get()`` shows it."""
        from core.runs.submit import submit_finetune

        spec, init_cfg, ft_cfg = self._configs(spec_data, init, finetune)
        base = self.models.get()
        ticket = submit_finetune(self.runner, spec, base, init_cfg, ft_cfg,
                                 init_result=self._take_init(spec, init_cfg, base.name))
        return self.get(ticket.job_id)

    def _comparison(self, spec_data: dict, compare: dict, init: dict, finetune: dict, also: list[str] | None):
        """(specs, CompareConfig, BackendConfig, names): the spec first, then each built-in of ``also``
        with another token (``names``: those built-ins)."""
        spec, init_cfg, ft_cfg = self._configs(spec_data, init, finetune)
        out: dict[str, Any] = {}
        raise_all(lambda: out.__setitem__("config", self.settings.compare_config(
                      {**compare, "finetune": ft_cfg, "init": init_cfg})),
                  lambda: out.__setitem__("where", self.settings.backend_config(compare)))
        config, where = out["config"], out["where"]
        specs, names = [spec], []
        for name in also or []:
            extra = load_example(name)
            if extra.new_token not in {s.new_token for s in specs}:
                specs.append(extra)
                names.append(name)
        return specs, config, where, names

    def start_comparison(self, spec_data: dict, compare: dict, init: dict, finetune: dict,
                         also: list[str] | None = None) -> dict:
        """Queue a comparison: ``compare`` holds its own settings (strategies, seeds, …) by name;
        ``also`` names built-in examples to compare on besides the spec (each symbol one data point;
        a built-in with the spec's own token is the spec itself and is not added twice). Its
        estimated time (``estimate_comparison``, without a new probe) is kept in its config."""
        from core.runs.submit import submit_comparison

        specs, config, where, names = self._comparison(spec_data, compare, init, finetune, also)
        base = self.models.get()
        estimate = self._estimate(specs, config, base, measure=False)
        return self.get(submit_comparison(self.runner, specs if len(specs) > 1 else specs[0], base, config, where,
                                          estimate=estimate, also=names).job_id)

    def estimate_comparison(self, spec_data: dict, compare: dict, init: dict, finetune: dict,
                            also: list[str] | None = None, measure: bool = False) -> dict | None:
        """How long this comparison should take here (``core.runs.estimate.comparison``): from the
        stored runs of the loaded model, else from a probe measured once (``measure``: measure now
        when none is kept); None when neither is there. An ``InputError`` when the settings are wrong."""
        specs, config, _, _ = self._comparison(spec_data, compare, init, finetune, also)
        return self._estimate(specs, config, self.models.get(), measure)

    def _estimate(self, specs: list, config, base, measure: bool) -> dict | None:
        from core.runs import estimate

        device = str(next(base.model.parameters()).device.type)
        # The stored runs' rates, read again only when the run list changed.
        key = (base.name, device, tuple((r["run_id"], r.get("status")) for r in self.store.list()))
        if key not in self._rates:
            self._rates = {key: estimate.stored_rates(self.store, base.name, device)}
        rates = self._rates[key] or self._probes.get(base.name)
        if rates is None and measure:
            rates = self._probes[base.name] = estimate.probe(base, specs[0], config.finetune)
        if rates is None:
            return None
        return estimate.comparison(rates, specs, base.tokenizer, config, config.max_new_tokens)

    def vocabulary(self, builtins: list[str] | None = None, files: list[str] | None = None) -> dict:
        """The chosen built-in specs and uploaded files as one vocabulary, checked as a whole (and
        against the loaded model's tokenizer): its source and symbols, or one InputError."""
        from core.experiment.vocabulary.load import load_parts

        vocab = load_parts(builtins or [], files or [], self.models.tokenizer())
        return {"source": vocab.source, "title": vocab.title, "symbols": [
            {"token": s.new_token, "gloss": s.glosses[0], "from": place} for s, place in zip(vocab.specs, vocab.places)]}

    def start_vocabulary(self, builtins: list[str] | None, files: list[str] | None, init: dict, finetune: dict,
                         contrast: bool = False, finetune_too: bool = True) -> dict:
        """Queue a vocabulary job: every symbol initialized together (``contrast``: the other symbols'
        positive contexts join each one's negatives), then, with ``finetune_too``, fine-tuned together."""
        from core.experiment.vocabulary.load import load_parts
        from core.runs.vocab_jobs import submit_vocab

        out: dict[str, Any] = {}
        raise_all(lambda: out.__setitem__("vocab", load_parts(builtins or [], files or [])),
                  lambda: out.__setitem__("init", self.settings.init_config(init)),
                  lambda: out.__setitem__("ft", self.settings.finetune_config(finetune) if finetune_too else None))
        base = self.models.get()
        ticket = submit_vocab(self.runner, out["vocab"], base, out["init"], out["ft"], contrast=bool(contrast))
        return self.get(ticket.job_id)

    def start_vocab_draft(self, which: str, ids: str = "", pos: str | None = None, limit=None,
                          settings: dict | None = None) -> dict:
        """Queue a vocabulary drafted from the Bliss lexicon on the loaded model, as ``python -m core
        vocab draft`` does (``core.runs.draft_jobs``): ``which`` is "ids" (``ids``: BCI-AV IDs separated
        by commas, spaces or lines) or a part of the lexicon ("multi-token", "single-token", "all");
        ``pos`` narrows it to one part of speech, ``limit`` to the first N; ``settings`` by name are those
        ``settings.describe("vocab_draft")`` lists. Every problem of all of them in one ``InputError``,
        raised before anything is queued; unknown IDs are left out and named in the job's config
        (``unknown_ids``). Returns the job as ``get()`` shows it."""
        from core.authoring.lexicon import load_lexicon
        from core.authoring.many import check_request
        from core.runs.draft_jobs import submit_vocab_draft

        selection = _draft_selection(which, ids, pos, limit)
        out: dict[str, Any] = {}
        raise_all(lambda: check_request(load_lexicon(), selection["ids"], selection["lexicon"], selection["pos"],
                                        selection["limit"]),
                  lambda: out.__setitem__("configs", self.settings.vocab_draft_configs(dict(settings or {}))))
        base = self.models.get()
        return self.get(submit_vocab_draft(self.runner, base, selection, *out["configs"]).job_id)

    # -- resuming an interrupted run (``core.runs.resume``) -----------------------------------------
    def resume_plan(self, run_id: str) -> dict:
        """What resuming this run would do (``ResumePlan.to_dict()``: its kind, model, the checkpoint
        of a vocabulary's fine-tuning, the members a comparison kept), checked without a model; an
        ``InputError`` naming ``run`` when it cannot be resumed."""
        from core.runs.resume import check_resume

        with _as_run():
            if not isinstance(run_id, str) or not run_id:
                raise fail("run", "no run was chosen", "choose an interrupted run")
            return check_resume(self.store, run_id).to_dict()

    def resume(self, run_id: str) -> dict:
        """Continue an interrupted run in its own folder as a job of this process, as ``python -m core
        runs resume`` does: a vocabulary's fine-tuning from its last checkpoint, a comparison with the
        members it had not finished. Returns the job as ``get()`` shows it (its id is the run's); an
        ``InputError`` naming ``run`` when it cannot be resumed (not interrupted, no checkpoint, another
        model loaded, …), raised before anything is written."""
        from core.runs.resume import resume_run

        plan = self.resume_plan(run_id)
        with _as_run():
            try:
                base = self.models.get()
            except InputError:
                raise fail("run", f"run {run_id!r} was made with {plan['model']!r} and no model is loaded",
                           f"load {plan['model']!r} on the Model tab to resume it") from None
            ticket = resume_run(self.store, self.runner, run_id, base)
        return self.get(ticket.job_id)

    def stop(self, job_id: str) -> dict:
        self.runner.stop(job_id)
        return self.get(job_id)

    # -- watching jobs -------------------------------------------------------------------------
    def get(self, job_id: str) -> dict:
        """Where a job (or a stored run) stands: status, queue position, creation time, its stored
        ``config`` (every setting it runs with), step events, progress (``core.runs.progress``),
        best step, per-member curves of a comparison, and its result once finished."""
        snap = self.runner.get(job_id)
        events = self.runner.events(job_id)
        steps = step_events(events)
        config = self.store.config(job_id) or {}
        plan = (progress.VOCAB_PLAN if config.get("action") == "finetune" else progress.VOCAB_PLAN[:2]) \
            if snap["kind"] == "vocab" else None
        estimate = (config.get("estimate") or {}).get("seconds")
        job = {"id": job_id, "kind": snap["kind"], "title": snap.get("title", ""), "status": snap["status"],
               "position": snap.get("position"), "error": snap.get("error"), "created": snap.get("created"),
               "config": config, "events": steps, "best": progress.best(steps),
               "progress": progress.progress(events, steps, plan=plan, estimate=estimate), "result": None}
        if snap["kind"] == "compare":
            job["series"] = progress.series(steps)
        if snap["status"] not in progress.ACTIVE:
            result = self.runner.result(job_id)
            job["result"] = result
            if snap["kind"] == "compare" and result:
                job["rows"] = result.get("rows") or []
        return job

    def latest(self, kind: str) -> dict | None:
        """The running or queued job of this kind ("finetune" or "compare"), else the latest one,
        of this process or (after a restart) from the store ("vocab": a vocabulary job)."""
        kind = "finetune" if kind == "train" else kind
        mine = [j for j in self.runner.list() if j["kind"] == kind]
        active = [j for j in mine if j["status"] in progress.ACTIVE]
        if active or mine:
            return self.get((active or mine)[-1]["job_id"])
        stored = [r for r in self.store.list() if r.get("kind") == kind]
        return self.get(stored[0]["run_id"]) if stored else None


def _draft_selection(which: str, ids: str, pos: str | None, limit) -> dict:
    """The symbols a vocabulary draft asks for, as the engine takes them (``ids``, ``lexicon``, ``pos``,
    ``limit``; a blank part of speech or limit: none), from the page's values."""
    from core.authoring.many import KINDS, parse_ids

    if which not in ("ids", *KINDS):
        raise fail("which", f"{str(which)[:40]!r} is not a way of choosing symbols",
                   f"choose ids or a part of the lexicon: {', '.join(KINDS)}")
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    return {"ids": parse_ids(ids or "") if which == "ids" else None, "lexicon": None if which == "ids" else which,
            "pos": str(pos or "").strip() or None, "limit": None if limit in (None, "") else limit}


@contextmanager
def _as_run():
    """Every input problem of the block as a problem of the chosen run (field ``run``): on the page
    the run is the one thing to change."""
    try:
        yield
    except InputError as exc:
        raise InputError([Problem("run", p.problem, p.fix) for p in exc.problems], exc.details) from None


def _fingerprint(spec: GlossSpec, config, model_name: str) -> str:
    return json.dumps([spec.to_dict(), config.to_dict(), model_name], sort_keys=True)
