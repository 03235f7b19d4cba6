"""Vocabulary runs as jobs of a ``JobRunner``: everything is checked before the job is queued; the
run (kind ``vocab``) stores the vocabulary as its spec, the settings, the events, the result, and
for a fine-tuning ONE adapter holding every token's rows (``adapter/``, exported like any run's)."""

from __future__ import annotations

from core.embedding.strategies import InitConfig
from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS
from core.experiment.vocabulary.run import VocabRun, run_vocabulary
from core.experiment.vocabulary.load import Vocabulary, check_vocabulary
from core.report.document import with_markdown
from core.runs.export import save_adapter
from core.spec.settings import check_max_new_tokens
from core.train.finetune import FinetuneConfig
from core.train.together import Sentences


def adapter_metadata(run: VocabRun, base) -> dict:
    """``glosslab.json`` of a vocabulary's adapter: every token and id (``token``: the first, so that
    tools written for one token still find one)."""
    return {"kind": "vocab", "token": run.init.vocab.tokens[0], "tokens": run.init.vocab.tokens,
            "token_ids": run.init.token_ids, "base_model": base.name, "strategy": run.init.config.strategy,
            "seed": run.init.config.seed, "spec": run.init.vocab.title,
            "compute_dtype": run.trained.result.compute_dtype if run.trained else None}


def vocab_job(vocab: Vocabulary, base, init_config: InitConfig, config: FinetuneConfig | None, contrast: bool,
              max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS):
    """A job function: the vocabulary initialized (and fine-tuned when ``config`` is given), evaluated."""

    def fn(ctx) -> dict:
        run = run_vocabulary(vocab, base, init_config, config, contrast=contrast, finetune=config is not None,
                             emit=ctx.emit, should_stop=lambda: ctx.stop_requested, max_new_tokens=max_new_tokens)
        result = run.to_dict()
        if run.trained is not None:
            result["adapter"] = save_vocab_adapter(ctx, run, base)
        return result

    return fn


def save_vocab_adapter(ctx, run: VocabRun, base) -> str | None:
    """Store the run's one adapter with every token's rows; its folder (None without a store)."""
    ctx.emit(type="phase", phase="save", message="Saving the adapter (every token's rows)")
    folder = ctx.save_folder(lambda f: save_adapter(run.trained.model, run.trained.tokenizer, f,
                                                    adapter_metadata(run, base)))
    return str(folder) if folder is not None else None


def check_vocab_run(vocab: Vocabulary, base, config: FinetuneConfig | None, max_new_tokens: int) -> int:
    """Every check before a job is queued (raises one ``InputError``); returns ``max_new_tokens``."""
    check_vocabulary(vocab, base.tokenizer)
    if config is not None:
        sentences = Sentences.of(vocab.specs)
        config.check_data(len(sentences.fine_tuning_sentences), len(sentences.validation_sentences))
    return check_max_new_tokens(max_new_tokens)


def submit_vocab(runner, vocab: Vocabulary, base, init_config: InitConfig, config: FinetuneConfig | None,
                 contrast: bool = False, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS):
    """Check everything, then queue a vocabulary job (``config`` None: initialize and evaluate only)."""
    max_new_tokens = check_vocab_run(vocab, base, config, max_new_tokens)
    action = "finetune" if config is not None else "init"
    settings = {"kind": "vocab", "action": action, "model": base.name, "init": init_config.to_dict(),
                "finetune": config.to_dict() if config is not None else None, "contrast": contrast,
                "max_new_tokens": max_new_tokens, "source": vocab.source}
    return runner.submit(vocab_job(vocab, base, init_config, config, contrast, max_new_tokens), kind="vocab",
                         title=f"vocabulary {action}: {vocab.title} ({init_config.strategy})",
                         spec=vocab.to_dict(), config=settings)


def submit_vocab_comparison(runner, vocab: Vocabulary, base, config, contrast: bool = False):
    """Check everything, then queue a comparison of strategies on a vocabulary (kind ``compare``:
    its result has the shape of a comparison over several symbols; ``core.experiment.vocabulary.compare``)."""
    from core.experiment.vocabulary.compare import compare_vocabulary
    from core.runs.submit import seeds_text

    check_vocab_run(vocab, base, config.finetune, config.max_new_tokens)
    settings = {"kind": "compare", "vocabulary": True, "model": base.name, "contrast": contrast,
                "source": vocab.source, **config.to_dict()}

    def fn(ctx) -> dict:
        result = compare_vocabulary(vocab, base, config, contrast=contrast, emit=ctx.emit,
                                    should_stop=lambda: ctx.stop_requested)
        return {**with_markdown(result.to_dict()), "vocabulary": True, "contrast": contrast}

    return runner.submit(fn, kind="compare",
                         title=f"vocabulary comparison: {vocab.title}: {', '.join(config.strategies)} × "
                               f"{seeds_text(config.seeds)}", spec=vocab.to_dict(), config=settings)
