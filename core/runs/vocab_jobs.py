"""Vocabulary runs as jobs of a ``JobRunner``: everything is checked before the job is queued; the
run (kind ``vocab``) stores the vocabulary as its spec, the settings, the events, the result, and
for a fine-tuning ONE adapter holding every token's rows (``adapter/``, exported like any run's)
and, while it trains, its last checkpoint (``checkpoint/``: ``core.runs.resume`` continues from it).
A comparison on a vocabulary keeps each finished member in ``members/``.

A run goes through the backend its ``BackendConfig`` names (``core.execution``): for one run, in
this process (``local``) or with its fine-tuning data-parallel on Ray Train (``ray``: the result also
holds ``where`` and ``data_parallel``; no checkpoints there); for a comparison, its members as a
comparison's are."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

from core.embedding.strategies import InitConfig, check_strategies
from core.execution import MEMBERS, TRAINING, BackendConfig, backend_for
from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS
from core.experiment.vocabulary.run import VocabRun, VocabWork, run_vocabulary_on
from core.experiment.vocabulary.load import Vocabulary, check_vocabulary
from core.report.document import with_markdown
from core.runs.export import save_adapter
from core.runs.submit import seeds_text
from core.spec.errors import InputError
from core.spec.settings import check_max_new_tokens
from core.train.checkpoint import CheckpointConfig, Checkpoints, inspect
from core.train.finetune import FinetuneConfig
from core.train.together import Sentences


def adapter_metadata(run: VocabRun, base_name: str) -> dict:
    """``glosslab.json`` of a vocabulary's adapter: every token and id (``token``: the first, so that
    tools written for one token still find one)."""
    return {"kind": "vocab", "token": run.init.vocab.tokens[0], "tokens": run.init.vocab.tokens,
            "token_ids": run.init.token_ids, "base_model": base_name, "strategy": run.init.config.strategy,
            "seed": run.init.config.seed, "spec": run.init.vocab.title,
            "compute_dtype": run.trained.result.compute_dtype if run.trained else None}


def checkpoints_of(ctx, checkpoint: CheckpointConfig, resume: bool = False) -> Checkpoints | None:
    """Where the job's fine-tuning keeps its checkpoint (the run's ``checkpoint/``), checked against the
    run's spec and settings; None without a run store. ``resume``: continue from it (an event says from
    which step; step events after it are done again)."""
    if ctx.store is None or not ctx.run_id:
        return None
    identity = {"run_id": ctx.run_id, "fingerprint": ctx.store.fingerprint(ctx.run_id)}
    checkpoints = Checkpoints(ctx.store.checkpoint_path(ctx.run_id), checkpoint, identity, resume)
    if resume:
        step = inspect(checkpoints.folder, identity)["step"]
        ctx.emit(type="resume", step=step, message=f"Resuming from the checkpoint of step {step}")
    return checkpoints


def write_vocab_adapter(run: VocabRun, folder: Path, base_name: str) -> None:
    """Save the run's one adapter with every token's rows to ``folder`` (module level: the run may be
    in another process)."""
    save_adapter(run.trained.model, run.trained.tokenizer, folder, adapter_metadata(run, base_name))


def vocab_job(vocab: Vocabulary, base, init_config: InitConfig, config: FinetuneConfig | None, contrast: bool,
              max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, backend=None,
              checkpoint: CheckpointConfig | None = None, resume: bool = False):
    """A job function: the vocabulary initialized (and fine-tuned when ``config`` is given) and
    evaluated, on ``backend`` (default: this process). In this process the fine-tuning writes a
    checkpoint at ``checkpoint``'s interval and, with ``resume``, continues from the run's last one
    (initialization and the evaluation before are done again: the same numbers)."""
    backend = backend if backend is not None else backend_for(None, TRAINING)

    def fn(ctx) -> dict:
        checkpoints = None
        if config is not None and (resume or (checkpoint is not None and checkpoint.enabled)):
            checkpoints = checkpoints_of(ctx, checkpoint or CheckpointConfig(), resume)
        work = VocabWork(vocab, init_config, config, contrast, max_new_tokens,
                         write_adapter=partial(write_vocab_adapter, base_name=base.name), checkpoints=checkpoints)
        saved: dict = {}

        def keep(folder: Path) -> None:
            ctx.emit(type="phase", phase="save", message="Saving the adapter (every token's rows)")
            stored = ctx.save_folder(lambda dest: shutil.copytree(folder, dest, dirs_exist_ok=True))
            saved["adapter"] = str(stored) if stored is not None else None

        outcome = run_vocabulary_on(backend, work, base, emit=ctx.emit, should_stop=lambda: ctx.stop_requested,
                                    keep_adapter=keep)
        result = dict(outcome.data)
        if outcome.data_parallel is not None:
            result.update(where=backend.label, data_parallel=outcome.data_parallel)
        return {**result, **saved}

    return fn


def check_vocab_run(vocab: Vocabulary, base, config: FinetuneConfig | None, max_new_tokens: int,
                    strategies: list[str] = (), init: InitConfig | None = None) -> int:
    """Every check before a job is queued (raises one ``InputError``), what each of ``strategies``
    needs of every symbol included; returns ``max_new_tokens``."""
    check_vocabulary(vocab, base.tokenizer)
    problems = check_strategies(list(vocab.specs), strategies, init or InitConfig(), base.tokenizer)
    if problems:
        raise InputError(problems)
    if config is not None:
        sentences = Sentences.of(vocab.specs)
        config.check_data(len(sentences.fine_tuning_sentences), len(sentences.validation_sentences))
    return check_max_new_tokens(max_new_tokens)


def submit_vocab(runner, vocab: Vocabulary, base, init_config: InitConfig, config: FinetuneConfig | None,
                 contrast: bool = False, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                 where: BackendConfig | None = None, checkpoint: CheckpointConfig | None = None):
    """Check everything (on Ray Train also the batch split and the cluster's room), then queue a
    vocabulary job (``config`` None: initialize and evaluate only; a fine-tuning in this process
    writes checkpoints at ``checkpoint``'s interval, by default every 50 steps or 10 minutes)."""
    max_new_tokens = check_vocab_run(vocab, base, config, max_new_tokens, [init_config.strategy], init_config)
    where = where or BackendConfig()
    backend = backend_for(where, TRAINING).connect(config)
    action = "finetune" if config is not None else "init"
    checkpoint = (checkpoint or CheckpointConfig()) if config is not None else None
    settings = {"kind": "vocab", "action": action, "model": base.name, "init": init_config.to_dict(),
                "finetune": config.to_dict() if config is not None else None, "contrast": contrast,
                "max_new_tokens": max_new_tokens, "source": vocab.source,
                "checkpoint": checkpoint.to_dict() if checkpoint is not None and where.backend == "local" else None}
    if where.backend != "local":
        settings.update(data_parallel=backend.settings, where=backend.label)
    workers = f", {where.ray_workers} Ray Train workers" if where.backend != "local" else ""
    return runner.submit(vocab_job(vocab, base, init_config, config, contrast, max_new_tokens, backend, checkpoint),
                         kind="vocab", title=f"vocabulary {action}: {vocab.title} ({init_config.strategy}{workers})",
                         spec=vocab.to_dict(), config=settings)


def vocab_comparison_job(vocab: Vocabulary, base, config, contrast: bool, backend, resume: bool = False):
    """A job function: the comparison on a vocabulary, its members on ``backend``, each finished member
    kept in ``members/``; ``resume``: the members kept in the run's folder are not run again."""
    from core.experiment.vocabulary.compare import compare_vocabulary

    def fn(ctx) -> dict:
        done = ctx.store.members(ctx.run_id) if resume and ctx.store is not None else {}
        if resume:
            ctx.emit(type="resume", step=-1, message=f"Resuming: {len(done)} member(s) had finished",
                     keep=[{"strategy": m["detail"]["strategy"], "seed": m["detail"]["seed"]} for m in done.values()])

        def keep(name: str, member: dict) -> None:
            if ctx.store is not None and ctx.run_id:
                ctx.store.save_member(ctx.run_id, name, member)

        result = compare_vocabulary(vocab, base, config, backend=backend, contrast=contrast, emit=ctx.emit,
                                    should_stop=lambda: ctx.stop_requested, done=done, keep=keep)
        return {**with_markdown(result.to_dict()), "vocabulary": True, "contrast": contrast}

    return fn


def submit_vocab_comparison(runner, vocab: Vocabulary, base, config, contrast: bool = False,
                            where: BackendConfig | None = None):
    """Check everything, then queue a comparison of strategies on a vocabulary (kind ``compare``:
    its result has the shape of a comparison over several symbols; ``core.experiment.vocabulary.compare``),
    its members on the backend ``where`` names."""
    check_vocab_run(vocab, base, config.finetune, config.max_new_tokens, config.strategies, config.init)
    backend = backend_for(where, MEMBERS).connect()
    settings = {"kind": "compare", "vocabulary": True, "model": base.name, "contrast": contrast,
                "source": vocab.source, **config.to_dict(), **backend.settings, "where": backend.label}
    fn = vocab_comparison_job(vocab, base, config, contrast, backend)
    return runner.submit(fn, kind="compare",
                         title=f"vocabulary comparison: {vocab.title}: {', '.join(config.strategies)} × "
                               f"{seeds_text(config.seeds)}", spec=vocab.to_dict(), config=settings)
