"""Comparing strategies on a vocabulary: every symbol initialized by the strategy, all fine-tuned together.

A member here is one strategy with one seed over the whole vocabulary (``core.experiment.vocabulary.run``):
every token gets its rows from that strategy, the tokens are fine-tuned together in one QLoRA run,
and each symbol is evaluated before and after. Each symbol then has, per strategy and seed, a row
of the results schema read from its ``results.SymbolRecord`` exactly as a one-symbol member's row
is: its own validation loss at the run's best step and before the first step, its quality numbers
before → after, how far training turned its rows; and the run's numbers that its symbols share
(best step and epoch, training loss, time per epoch, initialization time: the metrics marked
``shared``).

Numbers a vocabulary run does not measure (generation agreement) are None. Each
symbol's rows are summarized and judged exactly as a one-symbol comparison's
(``core.experiment.single.compare.summarize``, ``core.experiment.analysis.verdict.judge``), and the symbols are
aggregated as in a comparison over several symbols (``core.experiment.analysis.aggregate``): each symbol is
one data point. The members run one after another in this process (each one holds every token).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

from core.experiment.analysis import results
from core.experiment.analysis.aggregate import aggregate
from core.experiment.single.compare import CompareConfig, ComparisonResult, summarize
from core.experiment.single.member import identity
from core.embedding.strategies import strategy_label
from core.experiment.analysis.verdict import judge
from core.experiment.vocabulary.run import run_vocabulary
from core.experiment.vocabulary.load import Vocabulary
from core.train.events import StopRequested

Emit = Callable[[dict], Any]


def symbol_rows(data: dict, strategy: str, seed: int) -> list[dict]:
    """One row per symbol of a finished vocabulary run (``VocabRun.to_dict()``), read by the results
    schema exactly as a one-symbol member's row is (``results.vocabulary_records``, ``results.row_of``)."""
    return [{**identity(strategy, seed), "symbol": record.token, **results.row_of(record)}
            for record in results.vocabulary_records(data)]


def compare_vocabulary(vocab: Vocabulary, base, config: CompareConfig | None = None, *, contrast: bool = False,
                       emit: Emit | None = None, should_stop: Callable[[], bool] | None = None) -> ComparisonResult:
    """Every strategy × seed over the whole vocabulary; per-symbol verdicts and the verdict across symbols."""
    config = config or CompareConfig()
    emit = emit or (lambda event: None)
    start = time.perf_counter()
    members = config.members
    rows_by_symbol: dict[str, list[dict]] = {spec.new_token: [] for spec in vocab.specs}
    details: list[dict] = []
    stopped = False
    for index, (strategy, seed) in enumerate(members):
        if should_stop is not None and should_stop():
            stopped = True
            break
        tags = {"strategy": strategy, "seed": seed}
        emit({"type": "member", "status": "start", "index": index, "total": len(members), **tags,
              "message": f"{strategy_label(strategy)} (seed {seed}) on {len(vocab)} symbols: "
                         f"{index + 1} of {len(members)}"})
        try:
            run = run_vocabulary(vocab, base, replace(config.init, strategy=strategy, seed=seed),
                                 replace(config.finetune, seed=seed), contrast=contrast,
                                 emit=lambda event, tags=tags: emit({**event, **tags}), should_stop=should_stop,
                                 max_new_tokens=config.max_new_tokens)
        except StopRequested:
            stopped = True
            break
        data = run.to_dict()
        for row in symbol_rows(data, strategy, seed):
            rows_by_symbol[row["symbol"]].append(row)
        details.append({"name": f"{strategy}-s{seed}", "strategy": strategy, "seed": seed,
                        "table": data["table"], "confusion_after": data["confusion_after"],
                        "confusion_summary_after": data["confusion_summary_after"],
                        "finetune": {k: v for k, v in (data["finetune"] or {}).items() if k != "history"},
                        "seconds": data["seconds"]})
        emit({"type": "member", "status": "done", "index": index, "total": len(members), **tags})
        if (data.get("finetune") or {}).get("stopped"):
            stopped = True
            break
    per_symbol = []
    for spec in vocab.specs:
        member_rows = rows_by_symbol[spec.new_token]
        rows = summarize(member_rows, {})
        verdict = judge(rows, member_rows, leak_rank=config.leak_rank)
        per_symbol.append(ComparisonResult(config, rows, [{"row": r, "name": f"{r['strategy']}-s{r['seed']}"}
                                                          for r in member_rows],
                                           base.name, spec.title, 0.0, stopped, verdict))
    rows, verdict = aggregate([r.to_dict() for r in per_symbol])
    title = f"vocabulary of {len(vocab)} symbols: " + ", ".join(s.title for s in vocab.specs)
    return ComparisonResult(config, rows, details, base.name, title, time.perf_counter() - start, stopped, verdict,
                            per_symbol)
