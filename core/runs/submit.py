"""Comparisons and single fine-tunings as jobs of a ``JobRunner``: everything is checked before a
job is queued, and each trained adapter is saved with its run (``adapters/<strategy>-s<seed>``
for a comparison's members)."""

from __future__ import annotations

from core.experiment.compare import CompareConfig, Member, run_comparison, run_member
from core.experiment.evaluate import DEFAULT_MAX_NEW_TOKENS
from core.experiment.pipeline import InitResult
from core.embedding.strategies import InitConfig
from core.runs.export import save_adapter
from core.spec.settings import check_max_new_tokens
from core.spec.gloss import check_spec
from core.train.finetune import FinetuneConfig


def adapter_metadata(member: Member, base) -> dict:
    return {"token": member.init.token, "token_id": member.init.token_id, "base_model": base.name,
            "strategy": member.strategy, "seed": member.seed, "spec": member.init.spec.title if member.init.spec else "",
            "compute_dtype": member.trained.result.compute_dtype}


def _save(ctx, member: Member, base, name: str | None) -> None:
    ctx.save_folder(lambda folder: save_adapter(member.trained.model, member.trained.tokenizer, folder,
                                                adapter_metadata(member, base)), member=name)


def finetune_job(spec, base, init_config: InitConfig, config: FinetuneConfig,
                 max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, init_result: InitResult | None = None):
    """A job function (for ``JobRunner.submit``): one strategy, its adapter saved with the run."""

    def fn(ctx) -> dict:
        member = run_member(spec, base, init_config, config, emit=ctx.emit, should_stop=lambda: ctx.stop_requested,
                            max_new_tokens=max_new_tokens, init_result=init_result)
        ctx.emit(type="phase", phase="save", message="Saving the adapter")
        _save(ctx, member, base, None)
        result = {"kind": "finetune", "model": base.name, **member.detail()}
        member.release()
        return result

    return fn


def comparison_job(spec, base, config: CompareConfig):
    """A job function: the comparison, each member's adapter saved under ``adapters/<strategy>-s<seed>``."""

    def fn(ctx) -> dict:
        result = run_comparison(spec, base, config, emit=ctx.emit, should_stop=lambda: ctx.stop_requested,
                                save_member=lambda member: _save(ctx, member, base, member.name))
        return result.to_dict()

    return fn


def submit_finetune(runner, spec, base, init_config: InitConfig, config: FinetuneConfig,
                    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, init_result: InitResult | None = None):
    """Check everything, then queue a fine-tuning job; returns the runner's ``Ticket``."""
    spec = check_spec(spec, base.tokenizer)
    config.check_data(len(spec.fine_tuning_sentences), len(spec.validation_sentences))
    max_new_tokens = check_max_new_tokens(max_new_tokens)
    if init_result is not None:
        init_config = init_result.config or init_config
    settings = {"kind": "finetune", "model": base.name, "init": init_config.to_dict(),
                "finetune": config.to_dict(), "max_new_tokens": max_new_tokens}
    return runner.submit(finetune_job(spec, base, init_config, config, max_new_tokens, init_result),
                         kind="finetune", title=f"{spec.title}: {init_config.strategy}",
                         spec=spec.to_dict(), config=settings)


def submit_comparison(runner, spec, base, config: CompareConfig):
    """Check everything, then queue a comparison job; returns the runner's ``Ticket``."""
    spec = check_spec(spec, base.tokenizer)
    config.finetune.check_data(len(spec.fine_tuning_sentences), len(spec.validation_sentences))
    settings = {"kind": "compare", "model": base.name, **config.to_dict()}
    return runner.submit(comparison_job(spec, base, config), kind="compare",
                         title=f"{spec.title}: {', '.join(config.strategies)} × {config.seeds} seed(s)",
                         spec=spec.to_dict(), config=settings)
