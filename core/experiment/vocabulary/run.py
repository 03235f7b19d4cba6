"""A vocabulary end to end: initialize every symbol together, evaluate, fine-tune together, evaluate again.

Events go to ``emit`` as the job log's dicts: ``{"type": "phase", "phase", "message"}`` for each
phase (and symbol, while evaluating), the initialization's stages as ``{"type": "init", ...}``
(``optimize`` epochs as ``{"type": "init_epoch", ...}``), and the training's step events with
``eval_loss_by`` (each symbol's validation loss) from ``core.train.together``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from core.embedding.strategies import InitConfig
from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS
from core.experiment.vocabulary.evaluate import before_after_table, evaluate_vocabulary
from core.experiment.vocabulary.init import VocabInit, initialize_vocabulary
from core.experiment.vocabulary.load import Vocabulary
from core.jsonsafe import jsonable
from core.train.events import StopRequested
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
        last_by = {}
        if self.trained is not None:
            evals = [e for e in self.trained.result.history if e.get("eval_loss_by")]
            best = [e for e in evals if e["step"] == self.trained.result.best_step]
            last_by = (best or evals[-1:] or [{}])[0].get("eval_loss_by", {})
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
                "eval_loss_at_best": last_by.get(token),
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

    def on_init(event: dict) -> None:
        if event.get("stage") == "optimize":
            emit({"type": "init_epoch", **{k: v for k, v in event.items() if k != "stage"}})
        else:
            emit({"type": "phase", "phase": f"init:{event.get('stage')}", "message": event.get("message", "")})

    init = initialize_vocabulary(vocab, init_config, base, contrast=contrast, on_event=on_init)
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
