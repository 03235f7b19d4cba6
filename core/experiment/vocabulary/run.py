"""A vocabulary end to end: initialize every symbol together, evaluate, fine-tune together, evaluate again.

Events go to ``emit`` as the job log's dicts: ``{"type": "phase", "phase", "message"}`` for each
phase (and symbol, while evaluating), the initialization's stages as phases ``init:<stage>``
(``optimize`` epochs as ``{"type": "init_epoch", ...}``; ``core.train.events.stage_events``), and
the training's step events with ``eval_loss_by`` (each symbol's validation loss) from
``core.train.together``. Each symbol of the result carries its own validation loss at the run's
best step (``eval_loss_at_best``) and before the first step (``initial_eval_loss``).

``VocabWork`` is one vocabulary run as a backend runs it (``core.execution``: in this process, in a
worker process or a Ray task beside other runs, or with its fine-tuning on Ray Train): a picklable
object of this module that returns a ``VocabOutcome`` without models (the run's ``to_dict()``, the
folder its adapter was written to, and what a data-parallel fine-tuning reported).
``run_vocabulary_on`` runs one vocabulary run on a backend.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable

from core.embedding.strategies import InitConfig
from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS
from core.experiment.single.members import Members, MemberTask
from core.experiment.vocabulary.evaluate import before_after_table, evaluate_vocabulary
from core.experiment.vocabulary.init import VocabInit, initialize_vocabulary
from core.experiment.vocabulary.load import Vocabulary
from core.jsonsafe import jsonable
from core.train.events import StopRequested, best_evaluation, evaluations, stage_events
from core.train.finetune import FinetuneConfig
from core.train.together import Sentences, TrainedTokens, finetune_tokens

Emit = Callable[[dict], Any]


@dataclass
class VocabRun:
    init: VocabInit
    before: dict
    trained: TrainedTokens | None = None
    after: dict | None = None
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON result: per symbol before → after, the confusion matrices, training numbers."""
        after_by = {s["token"]: s for s in (self.after or {}).get("symbols", [])}
        per_token = {p["token"]: p for p in (self.trained.per_token() if self.trained else [])}
        best_by, first_by = {}, {}
        if self.trained is not None:
            history = self.trained.result.history
            best_by = best_evaluation(history, self.trained.result.best_step, "eval_loss_by").get("eval_loss_by") or {}
            first_by = (evaluations(history, "eval_loss_by")[:1] or [{}])[0].get("eval_loss_by") or {}
        symbols = []
        for info, before in zip(self.init.symbols(), self.before["symbols"]):
            token = info["token"]
            after = after_by.get(token)
            symbols.append({
                **{k: info[k] for k in ("token", "token_id", "symbol_id", "gloss")},
                "output_fit_residual": (info["output_fit"] or {}).get("residual"),
                "quality_before": before["quality"],
                "quality_after": after["quality"] if after else None,
                "ranks": [{"context": r["context"], "kind": r["kind"], "before": r["rank_new_token"],
                           "after": (after["testing"][i]["rank_new_token"] if after else None)}
                          for i, r in enumerate(before["testing"])],
                "testing_before": before["testing"], "testing_after": after["testing"] if after else None,
                "generations_before": before["generations"],
                "generations_after": after["generations"] if after else None,
                "eval_loss_at_best": best_by.get(token), "initial_eval_loss": first_by.get(token),
                **({k: v for k, v in per_token[token].items() if k not in ("token", "token_id")}
                   if token in per_token else {}),
            })
        data = {
            "kind": "vocab", "model": self.init.model_name, "symbols_count": len(symbols),
            "strategy": self.init.config.strategy, "contrast": self.init.contrast,
            "init": self.init.to_dict(), "symbols": symbols,
            "table": before_after_table(self.before, self.after),
            "confusion_before": self.before["confusion"], "confusion_after": (self.after or {}).get("confusion"),
            "confusion_summary_before": self.before["confusion_summary"],
            "confusion_summary_after": (self.after or {}).get("confusion_summary"),
            "finetune": self.trained.result.to_dict() if self.trained else None,
            "seconds": round(self.seconds, 3), "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
        return jsonable(data)


def run_vocabulary(vocab: Vocabulary, base, init_config: InitConfig | None = None,
                   config: FinetuneConfig | None = None, *, contrast: bool = False, finetune: bool = True,
                   emit: Emit | None = None, should_stop: Callable[[], bool] | None = None,
                   max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, finetune_with: Callable | None = None) -> VocabRun:
    """Initialize, evaluate, and (with ``finetune``) fine-tune and evaluate again; see the module doc.
    ``finetune_with``: in place of ``finetune_tokens`` (same arguments), e.g. data-parallel on Ray
    (``core.execution.ray_train``)."""
    start = time.perf_counter()
    emit = emit or (lambda event: None)
    should_stop = should_stop or (lambda: False)
    timings: dict[str, float] = {}

    init = initialize_vocabulary(vocab, init_config, base, contrast=contrast,
                                 on_event=stage_events(emit, should_stop))
    timings["initialization"] = init.seconds
    if should_stop():
        raise StopRequested()
    emit({"type": "phase", "phase": "evaluate_before", "message": "Evaluating before fine-tuning",
          "fraction": 0.0})
    started = time.perf_counter()
    before = evaluate_vocabulary(init.model, init.tokenizer, vocab, init.token_ids, max_new_tokens,
                                 on_event=lambda e: emit({"type": "phase", "phase": "evaluate_before", **e}))
    timings["evaluation_before"] = time.perf_counter() - started
    run = VocabRun(init=init, before=before, timings=timings)
    if finetune:
        if should_stop():
            raise StopRequested()
        started = time.perf_counter()
        run.trained = (finetune_with or finetune_tokens)(init.model, init.tokenizer, init.token_ids, vocab.tokens,
                                                         Sentences.of(vocab.specs), config, on_event=emit,
                                                         should_stop=should_stop)
        timings["training"] = time.perf_counter() - started
        emit({"type": "phase", "phase": "evaluate_after", "message": "Evaluating after fine-tuning",
              "fraction": 0.0})
        started = time.perf_counter()
        run.after = evaluate_vocabulary(run.trained.model, run.trained.tokenizer, vocab, init.token_ids,
                                        max_new_tokens,
                                        on_event=lambda e: emit({"type": "phase", "phase": "evaluate_after", **e}))
        timings["evaluation_after"] = time.perf_counter() - started
    run.seconds = time.perf_counter() - start
    return run


# -- one run as a backend runs it --------------------------------------------------------------------------

@dataclass
class VocabOutcome:
    """A finished vocabulary run, without its models."""

    task: Any
    data: dict                          # ``VocabRun.to_dict()``
    adapter: Path | None = None         # where its adapter was written (with ``write_adapter``)
    data_parallel: dict | None = None   # what a data-parallel fine-tuning reported (``core.execution.ray_train``)

    @property
    def stopped(self) -> bool:
        return bool((self.data.get("finetune") or {}).get("stopped"))


@dataclass(frozen=True)
class VocabWork:
    """One vocabulary run wherever a backend puts it. ``per_member``: each task sets the strategy
    and seed of both configs (a comparison's members); else the configs are run as given.
    ``write_adapter(run, folder)`` (a function of a module) writes a fine-tuned run's adapter."""

    vocab: Vocabulary
    init: InitConfig
    finetune: FinetuneConfig | None
    contrast: bool = False
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    per_member: bool = False
    write_adapter: Callable[["VocabRun", Path], None] | None = None
    checkpoints: Any = None  # where the fine-tuning keeps its checkpoint here (``core.train.checkpoint``)

    def configs(self, task) -> tuple[InitConfig, FinetuneConfig | None]:
        if not self.per_member:
            return self.init, self.finetune
        finetune = replace(self.finetune, seed=task.seed) if self.finetune is not None else None
        return replace(self.init, strategy=task.strategy, seed=task.seed), finetune

    def __call__(self, task, base, site) -> VocabOutcome:
        init_config, config = self.configs(task)
        report: dict = {}
        finetune_with = partial(finetune_tokens, checkpoints=self.checkpoints) if self.checkpoints else None
        if site.finetune_tokens is not None:
            def finetune_with(*args, **kw):
                trained, got = site.finetune_tokens(*args, **kw)
                report.update(got)
                return trained

        run = run_vocabulary(self.vocab, base, init_config, config, contrast=self.contrast, finetune=config is not None,
                             emit=site.emit, should_stop=site.should_stop, max_new_tokens=self.max_new_tokens,
                             finetune_with=finetune_with)
        adapter = None
        if self.write_adapter is not None and run.trained is not None and site.scratch is not None:
            adapter = Path(tempfile.mkdtemp(prefix=f"{task.index:03d}-vocab-", dir=site.scratch))
            self.write_adapter(run, adapter)
        return VocabOutcome(task, run.to_dict(), adapter, report or None)


class _Alone(Members):
    """A single run: its events as the run emits them, without a member's tags or start."""

    def tags(self, task) -> dict:
        return {}

    def start_message(self, task, total: int) -> None:
        return None


def run_vocabulary_on(backend, work: VocabWork, base, *, emit: Emit | None = None,
                      should_stop: Callable[[], bool] | None = None,
                      keep_adapter: Callable[[Path], Any] | None = None) -> VocabOutcome:
    """One vocabulary run (``work``) on ``backend`` (``core.execution``, for its ``training`` use);
    ``keep_adapter(folder)`` is called with the adapter's folder as the run finishes (the folder is
    removed after the run). Raises ``StopRequested`` if a stop ended the run before it had a result."""
    outcomes: list[VocabOutcome] = []

    def finished(outcome: VocabOutcome) -> None:
        outcomes.append(outcome)
        if keep_adapter is not None and outcome.adapter is not None:
            keep_adapter(outcome.adapter)

    def failed(task, reason: str) -> None:
        raise RuntimeError(f"the vocabulary run failed: {reason}")

    task = MemberTask(0, 0, work.init.strategy, work.init.seed)
    backend.run(_Alone([task], work), base, emit=emit, should_stop=should_stop, on_outcome=finished,
                on_failure=failed)
    if not outcomes:
        raise StopRequested()
    return outcomes[0]
