"""Vocabulary runs as jobs of a ``JobRunner``: everything is checked before the job is queued; the
run (kind ``vocab``) stores the vocabulary as its spec, the settings, the events, the result, and
for a fine-tuning ONE adapter holding every token's rows (``adapter/``, exported like any run's).

A run goes through the backend its ``BackendConfig`` names (``core.execution``): for one run, in
this process (``local``) or with its fine-tuning data-parallel on Ray Train (``ray``: the result also
holds ``where`` and ``data_parallel``); for a comparison, its members as a comparison's are."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

from core.embedding.strategies import InitConfig
from core.execution import MEMBERS, TRAINING, BackendConfig, backend_for
from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS
from core.experiment.vocabulary.run import VocabRun, VocabWork, run_vocabulary_on
from core.experiment.vocabulary.load import Vocabulary, check_vocabulary
from core.report.document import with_markdown
from core.runs.export import save_adapter
from core.spec.settings import check_max_new_tokens
from core.train.finetune import FinetuneConfig
from core.train.together import Sentences


def adapter_metadata(run: VocabRun, base_name: str) -> dict:
    """``glosslab.json`` of a vocabulary's adapter: every token and id (``token``: the first, so that
    tools written for one token still find one)."""
    return {"kind": "vocab", "token": run.init.vocab.tokens[0], "tokens": run.init.vocab.tokens,
            "token_ids": run.init.token_ids, "base_model": base_name, "strategy": run.init.config.strategy,
            "seed": run.init.config.seed, "spec": run.init.vocab.title,
            "compute_dtype": run.trained.result.compute_dtype if run.trained else None}


def write_vocab_adapter(run: VocabRun, folder: Path, base_name: str) -> None:
    """Save the run's one adapter with every token's rows to ``folder`` (module level: the run may be
    in another process)."""
    save_adapter(run.trained.model, run.trained.tokenizer, folder, adapter_metadata(run, base_name))


def vocab_job(vocab: Vocabulary, base, init_config: InitConfig, config: FinetuneConfig | None, contrast: bool,
              max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, backend=None):
    """A job function: the vocabulary initialized (and fine-tuned when ``config`` is given) and
    evaluated, on ``backend`` (default: this process)."""
    backend = backend if backend is not None else backend_for(None, TRAINING)

    def fn(ctx) -> dict:
        work = VocabWork(vocab, init_config, config, contrast, max_new_tokens,
                         write_adapter=partial(write_vocab_adapter, base_name=base.name))
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


def check_vocab_run(vocab: Vocabulary, base, config: FinetuneConfig | None, max_new_tokens: int) -> int:
    """Every check before a job is queued (raises one ``InputError``); returns ``max_new_tokens``."""
    check_vocabulary(vocab, base.tokenizer)
    if config is not None:
        sentences = Sentences.of(vocab.specs)
        config.check_data(len(sentences.fine_tuning_sentences), len(sentences.validation_sentences))
    return check_max_new_tokens(max_new_tokens)


def submit_vocab(runner, vocab: Vocabulary, base, init_config: InitConfig, config: FinetuneConfig | None,
                 contrast: bool = False, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                 where: BackendConfig | None = None):
    """Check everything (on Ray Train also the batch split and the cluster's room), then queue a
    vocabulary job (``config`` None: initialize and evaluate only)."""
    max_new_tokens = check_vocab_run(vocab, base, config, max_new_tokens)
    where = where or BackendConfig()
    backend = backend_for(where, TRAINING).connect(config)
    action = "finetune" if config is not None else "init"
    settings = {"kind": "vocab", "action": action, "model": base.name, "init": init_config.to_dict(),
                "finetune": config.to_dict() if config is not None else None, "contrast": contrast,
                "max_new_tokens": max_new_tokens, "source": vocab.source}
    if where.backend != "local":
        settings.update(data_parallel=backend.settings, where=backend.label)
    workers = f", {where.ray_workers} Ray Train workers" if where.backend != "local" else ""
    return runner.submit(vocab_job(vocab, base, init_config, config, contrast, max_new_tokens, backend), kind="vocab",
                         title=f"vocabulary {action}: {vocab.title} ({init_config.strategy}{workers})",
                         spec=vocab.to_dict(), config=settings)


def submit_vocab_comparison(runner, vocab: Vocabulary, base, config, contrast: bool = False,
                            where: BackendConfig | None = None):
    """Check everything, then queue a comparison of strategies on a vocabulary (kind ``compare``:
    its result has the shape of a comparison over several symbols; ``core.experiment.vocabulary.compare``),
    its members on the backend ``where`` names."""
    from core.experiment.vocabulary.compare import compare_vocabulary

    check_vocab_run(vocab, base, config.finetune, config.max_new_tokens)
    backend = backend_for(where, MEMBERS).connect()
    settings = {"kind": "compare", "vocabulary": True, "model": base.name, "contrast": contrast,
                "source": vocab.source, **config.to_dict(), **backend.settings, "where": backend.label}

    def fn(ctx) -> dict:
        result = compare_vocabulary(vocab, base, config, backend=backend, contrast=contrast, emit=ctx.emit,
                                    should_stop=lambda: ctx.stop_requested)
        return {**with_markdown(result.to_dict()), "vocabulary": True, "contrast": contrast}

    return runner.submit(fn, kind="compare",
                         title=f"vocabulary comparison: {vocab.title}: {', '.join(config.strategies)} × "
                               f"{config.seeds} seed(s)", spec=vocab.to_dict(), config=settings)
