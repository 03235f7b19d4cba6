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
one data point. The members run on the backend the caller gives (``core.execution``: one after
another in this process, side by side in worker processes, or as Ray tasks), with the events, stop
and failures of a comparison's members (``core.experiment.single.members``); each holds every token.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from core.experiment.analysis import results
from core.experiment.analysis.aggregate import aggregate
from core.experiment.single.compare import CompareConfig, ComparisonResult, summarize
from core.experiment.single.members import MemberTask, Members, Tally
from core.experiment.single.member import identity
from core.embedding.strategies import strategy_label
from core.experiment.analysis.verdict import judge
from core.experiment.vocabulary.run import VocabOutcome, VocabWork
from core.experiment.vocabulary.load import Vocabulary

Emit = Callable[[dict], Any]


def symbol_rows(data: dict, strategy: str, seed: int) -> list[dict]:
    """One row per symbol of a finished vocabulary run (``VocabRun.to_dict()``), read by the results
    schema exactly as a one-symbol member's row is (``results.vocabulary_records``, ``results.row_of``)."""
    return [{**identity(strategy, seed), "symbol": record.token, **results.row_of(record)}
            for record in results.vocabulary_records(data)]


class VocabMembers(Members):
    """A vocabulary comparison's members: strategy × seed, each over every symbol."""

    def start_message(self, task: MemberTask, total: int) -> str:
        return (f"{strategy_label(task.strategy)} (seed {task.seed}) on {len(self.work.vocab)} symbols: "
                f"{task.index + 1} of {total}")


def _detail(outcome: VocabOutcome) -> dict:
    data, task = outcome.data, outcome.task
    return {"name": task.name, "strategy": task.strategy, "seed": task.seed,
            "table": data["table"], "confusion_after": data["confusion_after"],
            "confusion_summary_after": data["confusion_summary_after"],
            "finetune": {k: v for k, v in (data["finetune"] or {}).items() if k != "history"},
            "seconds": data["seconds"]}


def compare_vocabulary(vocab: Vocabulary, base, config: CompareConfig | None = None, *, backend,
                       contrast: bool = False, emit: Emit | None = None,
                       should_stop: Callable[[], bool] | None = None, done: dict[str, dict] | None = None,
                       keep: Callable[[str, dict], None] | None = None) -> ComparisonResult:
    """Every strategy × seed over the whole vocabulary, the members run on ``backend``
    (``core.execution``, chosen by the caller); per-symbol verdicts and the verdict across symbols.

    ``keep(name, member)`` is called as each member finishes with ``{"rows", "detail"}`` (its rows per
    symbol and its details); ``done``: such members by name (``average-s0``) that finished before (a
    resumed comparison), which are not run again."""
    config = config or CompareConfig()
    emit = emit or (lambda event: None)
    start = time.perf_counter()
    done = done or {}
    tasks = [MemberTask(i, 0, strategy, seed) for i, (strategy, seed) in enumerate(config.members)]
    workers, where = backend.place(len(tasks), base)
    members = VocabMembers([t for t in tasks if t.name not in done],
                           VocabWork(vocab, config.init, config.finetune, contrast, config.max_new_tokens,
                                     per_member=True))

    def kept(outcome: VocabOutcome) -> None:
        if keep is not None and not (outcome.data.get("finetune") or {}).get("stopped"):
            keep(outcome.task.name, {"rows": symbol_rows(outcome.data, outcome.task.strategy, outcome.task.seed),
                                     "detail": _detail(outcome)})

    tally = Tally(emit, len(tasks), members.tags, after=kept)
    stopped = backend.run(members, base, emit=emit, should_stop=should_stop, on_outcome=tally.finished,
                          on_failure=tally.failure)
    tally.check()
    outcomes: list[VocabOutcome] = sorted(tally.outcomes, key=lambda o: o.task.index)
    rows_by_symbol: dict[str, list[dict]] = {spec.new_token: [] for spec in vocab.specs}
    for member in done.values():
        for row in member["rows"]:
            rows_by_symbol[row["symbol"]].append(row)
    for outcome in outcomes:
        for row in symbol_rows(outcome.data, outcome.task.strategy, outcome.task.seed):
            rows_by_symbol[row["symbol"]].append(row)
    settings = dict(backend.settings)
    per_symbol = []
    for spec in vocab.specs:
        member_rows = rows_by_symbol[spec.new_token]
        rows = summarize(member_rows, {})
        verdict = judge(rows, member_rows, leak_rank=config.leak_rank)
        per_symbol.append(ComparisonResult(config, rows, [{"row": r, "name": f"{r['strategy']}-s{r['seed']}"}
                                                          for r in member_rows],
                                           base.name, spec.title, 0.0, stopped, verdict, workers=workers, where=where,
                                           backend_settings=settings))
    rows, verdict = aggregate([r.to_dict() for r in per_symbol])
    title = f"vocabulary of {len(vocab)} symbols: " + ", ".join(s.title for s in vocab.specs)
    details = [m["detail"] for m in done.values()] + [_detail(o) for o in outcomes]
    return ComparisonResult(config, rows, details, base.name, title,
                            time.perf_counter() - start, stopped, verdict, per_symbol, workers, where, tally.failed,
                            settings)
