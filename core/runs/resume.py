"""Resuming an interrupted run in its own folder: ``python -m core runs resume RUN_ID`` (and the page).

A run is ``interrupted`` when the process running it was killed (``core.runs.store``). Three kinds
continue from what they kept:

* a vocabulary's fine-tuning (kind ``vocab``, action ``finetune``): from its last checkpoint
  (``checkpoint/``, written every N steps or T minutes: ``core.train.checkpoint``), so at most one
  interval of training is done again. The initialization and the evaluation before fine-tuning
  are computed again (they are deterministic: the same rows, the same numbers); the training then
  goes on from the checkpoint's step with the weights, optimizer, schedule, random generators,
  data order, step events and best step it had, and ends as the run never interrupted would
  (the tests check it, within float tolerance, after a SIGKILL).
* a comparison (kind ``compare``: of one symbol, several, or a vocabulary): the members that
  finished are read back from ``members/`` (their adapters are in ``adapters/`` already), and only
  the others run, from their start.
* a vocabulary draft (kind ``vocab_draft``), interrupted or stopped: its ``vocab.jsonl`` goes on with
  the symbols not yet handled (``core.runs.draft_jobs``), and ends as an uninterrupted run would.

``check_resume`` checks everything without a model (the run exists and is interrupted, is of a
kind that resumes, its checkpoint is complete, undamaged and its own); ``resume_run`` checks it
again with the loaded base and queues the job in the run's folder: its status goes back to
``queued``, its events go on (a ``resume`` event says which step events are done again:
``core.train.events.step_events``), and nothing the run wrote is removed. Any problem is one
``InputError`` naming ``run_id``, ``checkpoint`` or ``model`` with the fix, raised before anything
is written.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.embedding.strategies import InitConfig
from core.execution import MEMBERS, BackendConfig, backend_for
from core.experiment.single.compare import CompareConfig
from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS
from core.experiment.vocabulary.load import Vocabulary
from core.runs.draft_jobs import KIND as DRAFT, resume_draft, symbols_done
from core.spec.errors import fail
from core.spec.gloss import GlossSpec
from core.train.checkpoint import CheckpointConfig, describe, inspect
from core.train.finetune import FinetuneConfig



@dataclass
class ResumePlan:
    """What ``resume_run`` will do with an interrupted run (JSON-able through ``to_dict``)."""

    run_id: str
    kind: str            # "vocab" (a vocabulary's fine-tuning) or "compare"
    title: str
    model: str           # the base model the run was made with (load it, then call ``resume_run``)
    checkpoint: dict | None = None                      # vocab: its step, when saved, its size
    members_done: list[str] = field(default_factory=list)  # compare: the members kept
    members_total: int = 0
    symbols_done: int = 0                               # vocab_draft: the symbols handled so far
    symbols_total: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def check_resume(store, run_id: str) -> ResumePlan:
    """Everything that can be checked before the model loads (see the module docstring)."""
    status = store.status(run_id)  # raises on a bad or unknown id; marks a killed run interrupted
    state, kind = status.get("status"), status.get("kind")
    # A drafting run's file grows symbol by symbol, so a stopped one continues as a killed one does.
    resumable = ("interrupted", "stopped") if kind == DRAFT else ("interrupted",)
    if state not in resumable:
        fix = ("wait for it to finish, or stop it" if state in ("queued", "running", "stopping") else
               "only a run whose process was killed can be resumed; start a new run for more")
        raise fail("run_id", f"run {run_id!r} is {state}, not {' or '.join(resumable)}", fix)
    config = store.config(run_id) or {}
    base = dict(run_id=run_id, kind=kind, title=status.get("title", ""), model=str(config.get("model") or ""))
    if kind == DRAFT:
        done, total = symbols_done(store, run_id), int(config.get("symbols") or 0)
        if done >= total:
            raise fail("run_id", f"run {run_id!r} has handled all its {total} symbols", "start a new draft for more")
        return ResumePlan(**base, symbols_done=done, symbols_total=total)
    if kind == "vocab":
        if config.get("action") != "finetune":
            raise fail("run_id", f"run {run_id!r} initialized a vocabulary without training: there is no "
                       "checkpoint to resume from", "run `python -m core vocab init` again")
        if config.get("data_parallel"):
            raise fail("run_id", f"run {run_id!r} was fine-tuned data-parallel on Ray Train, which writes no "
                       "checkpoint", "start it again")
        folder = store.checkpoint_path(run_id)
        manifest = inspect(folder, {"run_id": run_id, "fingerprint": store.fingerprint(run_id)})
        return ResumePlan(**base, checkpoint={**describe(manifest), "path": str(folder)})
    if kind == "compare":
        spec = store.spec(run_id) or {}
        # Over several symbols a member is one strategy × seed on one symbol; on a vocabulary, on all of them.
        symbols = len(spec["specs"]) if "specs" in spec and not config.get("vocabulary") else 1
        total = len(config.get("strategies") or []) * int(config.get("seeds") or 0) * symbols
        return ResumePlan(**base, members_done=sorted(store.members(run_id)), members_total=total)
    raise fail("run_id", f"run {run_id!r} is a {kind} run, which does not resume",
               "vocabulary fine-tunings, comparisons and vocabulary drafts resume; start this one again")


def resume_run(store, runner, run_id: str, base):
    """Check (``check_resume``) with the loaded ``base``, then queue the run again in its own folder;
    returns the runner's ``Ticket`` (its job id is the run id). ``runner`` must use ``store``."""
    plan = check_resume(store, run_id)
    if base.name != plan.model:
        raise fail("model", f"run {run_id!r} was made with {plan.model!r}, not {base.name!r}",
                   f"load {plan.model!r} to resume it")
    spec, config = store.spec(run_id) or {}, store.config(run_id) or {}
    if plan.kind == DRAFT:
        return resume_draft(runner, run_id, plan.title, config, base)
    if plan.kind == "vocab":
        return _resume_vocab(runner, run_id, plan, spec, config, base)
    if config.get("vocabulary"):
        from core.runs.vocab_jobs import check_vocab_run, vocab_comparison_job

        vocab = Vocabulary.from_dict(spec)
        compare = _compare_config(config)
        check_vocab_run(vocab, base, compare.finetune, compare.max_new_tokens)
        backend = backend_for(_where(config), MEMBERS).connect()
        fn = vocab_comparison_job(vocab, base, compare, bool(config.get("contrast")), backend, resume=True)
        return runner.submit(fn, kind="compare", title=plan.title, into=run_id)
    return _resume_comparison(runner, run_id, plan, spec, config, base)


def _where(config: dict) -> BackendConfig:
    """Where the run's members ran, from its stored settings."""
    from core.spec.settings import settings_of

    return BackendConfig.from_dict({k: config[k] for k in settings_of(BackendConfig) if k in config})


def _compare_config(config: dict) -> CompareConfig:
    names = {f.name for f in dataclasses.fields(CompareConfig)}
    values = {k: v for k, v in config.items() if k in names}
    return CompareConfig.from_dict({**values, "finetune": FinetuneConfig.from_dict(values.get("finetune") or {}),
                                    "init": InitConfig.from_dict(values.get("init") or {})})


def _resume_vocab(runner, run_id: str, plan: ResumePlan, spec: dict, config: dict, base):
    from core.runs.vocab_jobs import check_vocab_run, vocab_job

    vocab = Vocabulary.from_dict(spec)
    init_config = InitConfig.from_dict(config["init"])
    ft = FinetuneConfig.from_dict(config["finetune"])
    checkpoint = CheckpointConfig.from_dict(config.get("checkpoint") or {})
    max_new = check_vocab_run(vocab, base, ft, config.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS))
    fn = vocab_job(vocab, base, init_config, ft, bool(config.get("contrast")), max_new, checkpoint=checkpoint,
                   resume=True)
    return runner.submit(fn, kind="vocab", title=plan.title, into=run_id)


def _resume_comparison(runner, run_id: str, plan: ResumePlan, spec: dict, config: dict, base):
    from core.experiment.single.compare import check_symbols
    from core.runs.submit import comparison_job
    from core.spec.gloss import check_spec

    compare = _compare_config(config)
    raw = spec["specs"] if "specs" in spec else [spec]
    specs = [check_spec(GlossSpec.from_dict(s), base.tokenizer) for s in raw]
    check_symbols(specs, compare)
    backend = backend_for(_where(config), MEMBERS).connect()  # an unreachable cluster is refused here
    return runner.submit(comparison_job(specs, base, compare, backend, resume=True), kind="compare",
                         title=plan.title, into=run_id)
