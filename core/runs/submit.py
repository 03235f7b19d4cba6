"""Comparisons and single fine-tunings as jobs of a ``JobRunner``: everything is checked before a
job is queued, and each trained adapter is saved with its run (``adapters/<strategy>-s<seed>``
for a comparison's members). A comparison runs on the backend its ``BackendConfig`` names
(``core.execution``: local by default), chosen and checked here before the job is queued."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import torch

from core.experiment.single.compare import CompareConfig, check_symbols, member_name, run_comparison
from core.experiment.single.member import Member, run_member
from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS
from core.experiment.single.pipeline import InitResult
from core.embedding.strategies import InitConfig
from core.execution import BackendConfig, backend_for
from core.experiment.single.members import MemberTask, Outcome
from core.jsonsafe import jsonable
from core.report.document import with_markdown
from core.runs.export import save_adapter
from core.spec.settings import check_max_new_tokens
from core.spec.gloss import check_spec
from core.train.finetune import FinetuneConfig


def write_member_adapter(member: Member, folder: Path, base_name: str) -> None:
    """Save a member's adapter to ``folder`` (module level: a comparison's worker process runs it)."""
    metadata = {"token": member.init.token, "token_id": member.init.token_id, "base_model": base_name,
                "strategy": member.strategy, "seed": member.seed,
                "spec": member.init.spec.title if member.init.spec else "",
                "compute_dtype": member.trained.result.compute_dtype}
    save_adapter(member.trained.model, member.trained.tokenizer, folder, metadata)


def _save(ctx, member: Member, base, name: str | None) -> None:
    ctx.save_folder(lambda folder: write_member_adapter(member, folder, base.name), member=name)


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


def member_record(outcome: Outcome) -> dict:
    """A finished member as JSON (``members/<name>.json``): its task, row, details and starting rows."""
    task = outcome.task
    return jsonable({"task": {"index": task.index, "symbol": task.symbol, "strategy": task.strategy,
                              "seed": task.seed},
                     "row": outcome.row, "detail": outcome.detail,
                     "starts": {side: outcome.starts[side].float().tolist() for side in ("input", "output")}})


def outcome_of(record: dict) -> Outcome:
    """A member kept by ``member_record`` (float32 rows survive the JSON round trip exactly)."""
    starts = {side: torch.tensor(record["starts"][side], dtype=torch.float32) for side in ("input", "output")}
    return Outcome(MemberTask(**record["task"]), record["row"], record["detail"], starts)


def comparison_job(specs: list, base, config: CompareConfig, backend, resume: bool = False):
    """A job function: the comparison on ``backend`` (``core.execution``), each member's adapter saved
    under ``adapters/<strategy>-s<seed>`` (``adapters/<token>-<strategy>-s<seed>`` over several symbols)
    and its numbers under ``members/`` as it finishes. ``resume``: the members kept in the run's
    folder are not run again."""

    def fn(ctx) -> dict:
        several = len(specs) > 1

        def keep(task, folder: Path) -> None:
            name = member_name(specs[task.symbol], task.name, several)
            ctx.save_folder(lambda dest: shutil.copytree(folder, dest, dirs_exist_ok=True), member=name)

        def keep_member(outcome: Outcome) -> None:
            if ctx.store is not None and ctx.run_id:
                name = member_name(specs[outcome.task.symbol], outcome.task.name, several)
                ctx.store.save_member(ctx.run_id, name, member_record(outcome))

        done = [outcome_of(r) for r in ctx.store.members(ctx.run_id).values()] if resume and ctx.store else []
        if resume:
            ctx.emit(type="resume", step=-1, message=f"Resuming: {len(done)} member(s) had finished",
                     keep=[{"strategy": o.task.strategy, "seed": o.task.seed, "symbol": specs[o.task.symbol].new_token}
                           for o in done])
        result = run_comparison(specs if several else specs[0], base, config, emit=ctx.emit,
                                should_stop=lambda: ctx.stop_requested, keep_adapter=keep,
                                write_adapter=partial(write_member_adapter, base_name=base.name), backend=backend,
                                done=done, keep=keep_member)
        return with_markdown(result.to_dict())

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


def seeds_text(seeds: int) -> str:
    return f"{seeds} seed" + ("" if seeds == 1 else "s")


def submit_comparison(runner, spec, base, config: CompareConfig, where: BackendConfig | None = None,
                      estimate: dict | None = None, also: list[str] | None = None):
    """Check everything, then queue a comparison job (``spec``: one spec, or a list of specs to
    compare over several symbols) on the backend ``where`` names; returns the runner's ``Ticket``.
    Kept in the run's config: ``estimate``, how long it should take
    (``core.runs.estimate.comparison``), and ``also``, the names of the built-in symbols compared
    besides the first spec."""
    specs = [check_spec(s, base.tokenizer) for s in (spec if isinstance(spec, (list, tuple)) else [spec])]
    check_symbols(specs, config, base.tokenizer)
    # An unreachable cluster, or one too small, is refused before the run folder exists.
    backend = backend_for(where).connect()
    settings = {"kind": "compare", "model": base.name, **config.to_dict(), **backend.settings,
                "where": backend.label, **({"estimate": estimate} if estimate else {}),
                **({"also": list(also)} if also else {})}
    what = specs[0].title if len(specs) == 1 else f"{len(specs)} symbols"
    stored = specs[0].to_dict() if len(specs) == 1 else {"title": what, "specs": [s.to_dict() for s in specs]}
    return runner.submit(comparison_job(specs, base, config, backend), kind="compare",
                         title=f"{what}: {', '.join(config.strategies)} × {seeds_text(config.seeds)}",
                         spec=stored, config=settings)
