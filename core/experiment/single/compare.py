"""Comparisons: several strategies × seeds (× symbols), from the same base, spec and hyperparameters.

Every member (``core.experiment.single.member``) starts from a fresh copy of the base; a comparison runs
them on the backend its caller gives (``core.execution``: in this process, in worker processes, on
Ray; see ``core.experiment.single.members``), summarizes each strategy over its seeds as the research
table did, with numbers where the research used adjectives (method.md, Step 3), and judges them (``core.experiment.analysis.verdict``). Over several
symbols, each symbol is one data point (``core.experiment.analysis.aggregate``).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from core.spec import limits
from core.spec import settings
from core.spec.errors import Collector, InputError, Problem
from core.spec.settings import MAX_NEW_TOKENS, setting
from core.experiment.analysis import results, stats
from core.experiment.analysis.verdict import LEAK_RANK, judge
from core.experiment.analysis.aggregate import aggregate
from core.experiment.single.evaluate import cosine_matrix
from core.experiment.single.member import Emit, Member
from core.experiment.single.members import CompareMembers, MemberTask, MemberWork, Outcome, Plan, Tally
from core.train.finetune import FinetuneConfig
from core.jsonsafe import jsonable
from core.embedding.strategies import GROUPS, RESEARCH_STRATEGIES, STRATEGIES, InitConfig, check_strategies, group


def expand_groups(names: list) -> list:
    """Strategy names with each group name ('all', 'research', 'field', …) replaced by its strategies
    (each strategy once, in the order first named)."""
    out: list = []
    for name in names:
        found = list(STRATEGIES) if name == "all" else list(group(name)) if name in GROUPS else [name]
        out += [s for s in found if s not in out or found == [name]]
    return out


@dataclass
class CompareConfig(settings.Config):
    """Which strategies, how many seeds, and the settings every member shares."""

    WHAT = "comparison settings"

    strategies: list[str] = setting(list(RESEARCH_STRATEGIES), label="Strategies to compare",
                                    help="Strategy names separated by commas, a group ('research': the research's five, the "
                                         "default; 'field': those five and the field's four), or 'all'.")
    seeds: int = setting(3, label="Seeds per strategy", range=limits.SEEDS,
                         help="Each strategy runs once per seed (0, 1, …); the same seeds for every strategy, "
                              "so differences are paired.")
    leak_rank: int = setting(LEAK_RANK, label="Leak threshold (rank)", range=limits.LEAK_RANK,
                             help="Flag a strategy whose token ranks this well or better on the testing-negative "
                                  "contexts after fine-tuning.")
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    init: InitConfig = field(default_factory=InitConfig)  # its strategy and seed are set per member
    max_new_tokens: int = MAX_NEW_TOKENS.field()
    def __post_init__(self) -> None:
        if isinstance(self.strategies, str):
            self.strategies = [s.strip() for s in self.strategies.split(",") if s.strip()]
        if isinstance(self.strategies, list):
            self.strategies = expand_groups(self.strategies)
        c = Collector()
        if not isinstance(self.strategies, list) or not self.strategies:
            c.add("strategies", "is empty", "choose at least one strategy, e.g. average")
        else:
            unknown = [s for s in self.strategies if s not in STRATEGIES]
            if unknown:
                c.add("strategies", f"{', '.join(map(str, unknown))} {'is' if len(unknown) == 1 else 'are'} not "
                      "a strategy", "choose from: " + ", ".join(STRATEGIES) + ", or a group: all, "
                      + ", ".join(GROUPS))
            if len(set(map(str, self.strategies))) != len(self.strategies):
                c.add("strategies", "names a strategy twice", "list each strategy once")
        for name in ("seeds", "leak_rank", "max_new_tokens"):
            setattr(self, name, settings.settings_of(self)[name].check(name, getattr(self, name), c))
        if not isinstance(self.finetune, FinetuneConfig):
            c.add("finetune", "is not a fine-tuning configuration", "build it with FinetuneConfig(...)")
        if not isinstance(self.init, InitConfig):
            c.add("init", "is not an initialization configuration", "build it with InitConfig(...)")
        c.raise_if_any()

    @property
    def members(self) -> list[tuple[str, int]]:
        """(strategy, seed) in the order they run: every strategy for seed 0, then for seed 1, …"""
        return [(s, seed) for seed in range(self.seeds) for s in self.strategies]

    def to_dict(self) -> dict:
        return {"strategies": list(self.strategies), "seeds": self.seeds, "finetune": self.finetune.to_dict(),
                "init": self.init.to_dict(), "max_new_tokens": self.max_new_tokens, "leak_rank": self.leak_rank}


# -- the comparison ----------------------------------------------------------------------------------

def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def summarize(member_rows: list[dict], starts: dict[int, dict[str, dict[str, torch.Tensor]]]) -> list[dict]:
    """One row per strategy: every metric's mean over seeds under its own key and as ``<key>_mean``,
    its standard deviation ``<key>_std`` and 95 % t-interval ``<key>_ci95`` (None with one seed;
    ``core.experiment.analysis.stats``), and the cosine of its starting rows with every other strategy's
    (same seed, averaged)."""
    rows = []
    strategies = list(dict.fromkeys(r["strategy"] for r in member_rows))
    for strategy in strategies:
        mine = [r for r in member_rows if r["strategy"] == strategy]
        row = {"strategy": strategy, "label": mine[0]["label"], "calculated_output": mine[0]["calculated_output"],
               "seeds": len(mine), "stopped": any(r["stopped"] for r in mine)}
        for key in results.numeric_keys():
            s = stats.summary([r[key] for r in mine])
            row[key] = row[f"{key}_mean"] = _round(s["mean"])
            row[f"{key}_std"] = _round(s["std"])
            row[f"{key}_ci95"] = [_round(v) for v in s["ci95"]] if s["ci95"] else None
        for side in ("input", "output"):
            vs: dict[str, list[float]] = {}
            for seed_starts in starts.values():
                if strategy not in seed_starts:
                    continue
                matrix = cosine_matrix({s: v[side] for s, v in seed_starts.items()})
                for other, value in matrix[strategy].items():
                    if other != strategy:
                        vs.setdefault(other, []).append(value)
            row[f"cos_{side}_vs"] = {k: round(statistics.fmean(v), 4) for k, v in vs.items()}
        rows.append(row)
    return rows


@dataclass
class ComparisonResult:
    """One symbol's comparison; over several symbols, ``symbols`` holds each one's result and
    ``rows`` the strategies across symbols (``core.experiment.analysis.aggregate``)."""

    config: CompareConfig
    rows: list[dict]
    members: list[dict]
    model: str
    spec_title: str
    seconds: float
    stopped: bool
    verdict: dict = field(default_factory=dict)
    symbols: list["ComparisonResult"] = field(default_factory=list)
    workers: int = 1
    where: str = ""  # where the members ran: this process, worker processes, or Ray (``core.execution``)
    failed: list[dict] = field(default_factory=list)  # members whose task failed: strategy, seed, symbol, reason
    backend_settings: dict = field(default_factory=dict)  # the settings the backend was made from

    def to_dict(self) -> dict:
        out = {"kind": "compare", "model": self.model, "spec": self.spec_title,
               "config": {**self.config.to_dict(), **self.backend_settings, "workers_used": self.workers,
                          "where": self.where},
               "verdict": self.verdict, "rows": self.rows, "members": self.members,
               "seconds": round(self.seconds, 3), "stopped": self.stopped}
        if self.failed:
            out["failed"] = self.failed
        if self.symbols:
            out["specs"] = [s.spec_title for s in self.symbols]
            out["symbols"] = [s.to_dict() for s in self.symbols]
        return jsonable(out)


def tasks_of(config: CompareConfig, n_symbols: int) -> list[MemberTask]:
    """Every symbol × seed × strategy, in that order (a symbol's members run together)."""
    order = [(symbol, strategy, seed) for symbol in range(n_symbols) for strategy, seed in config.members]
    return [MemberTask(i, symbol, strategy, seed) for i, (symbol, strategy, seed) in enumerate(order)]


def run_comparison(spec, base, config: CompareConfig | None = None, *, backend, emit: Emit | None = None,
                   should_stop: Callable[[], bool] | None = None,
                   keep_adapter: Callable[[MemberTask, Path], None] | None = None,
                   write_adapter: Callable[[Member, Path], None] | None = None,
                   reuse: bool = True, done: list[Outcome] = (),
                   keep: Callable[[Outcome], None] | None = None) -> ComparisonResult:
    """Every strategy × seed (× symbol, when ``spec`` is a list of specs) from fresh copies of ``base``,
    the members run on ``backend`` (``core.execution``: chosen by the caller; its ``place`` says how
    many at once and where).

    Events are tagged with strategy, seed and symbol. With ``write_adapter`` (a function of a
    module, so that a worker process can run it) each member's adapter is written where the member
    ran, and ``keep_adapter(task, folder)`` is called here with its folder as each member finishes
    (the folder is removed after the comparison). A stop ends the members in progress at their next
    step and skips the rest. ``reuse=False`` computes every member from scratch (see ``InitCache``;
    for the benchmark and tests): the same numbers, slower. A member whose task fails on a backend
    that goes on without it (Ray) is left out of the rows and listed in the result's ``failed`` with
    its reason. ``keep(outcome)`` is called with each member that finished (after ``keep_adapter``),
    and ``done``: members that finished before (a resumed comparison), which are not run again.
    """
    from core.spec.gloss import check_spec

    config = config or CompareConfig()
    emit = emit or (lambda event: None)
    specs = [check_spec(s, base.tokenizer) for s in (spec if isinstance(spec, (list, tuple)) else [spec])]
    check_symbols(specs, config, base.tokenizer)
    start = time.perf_counter()
    tasks = tasks_of(config, len(specs))
    workers, where = backend.place(len(tasks), base)
    work = MemberWork(Plan(tuple(specs), config.init, config.finetune, config.max_new_tokens, reuse),
                      write_adapter if keep_adapter is not None else None)
    finished_before = {o.task.index for o in done}
    members = CompareMembers([t for t in tasks if t.index not in finished_before], work)
    tally = Tally(emit, len(tasks), members.tags, keep_adapter, row_of=lambda outcome: outcome.row,
                  outcomes=list(done),
                  after=(lambda o: keep(o) if not o.row.get("stopped") else None) if keep is not None else None)
    stopped = backend.run(members, base, emit=emit, should_stop=should_stop, on_outcome=tally.finished,
                          on_failure=tally.failure)
    tally.check()
    outcomes: list[Outcome] = sorted(tally.outcomes, key=lambda o: o.task.index)
    results_ = [_symbol_result(config, base, one, [o for o in outcomes if o.task.symbol == number], stopped,
                               [f for f in tally.failed if f["symbol"] == one.new_token])
                for number, one in enumerate(specs)]
    for r in results_:
        r.workers, r.where, r.backend_settings = workers, where, dict(backend.settings)
    seconds = time.perf_counter() - start
    if len(specs) == 1:
        only = results_[0]
        only.seconds = seconds
        return only
    rows, verdict = aggregate([r.to_dict() for r in results_])
    members_ = [{**d, "symbol": r.spec_title, "name": member_name(spec_, d["name"], True)}
                for r, spec_ in zip(results_, specs) for d in r.members]
    title = f"{len(specs)} symbols: " + ", ".join(s.title for s in specs)
    return ComparisonResult(config, rows, members_, base.name, title, seconds, stopped, verdict, results_, workers,
                            where, tally.failed, dict(backend.settings))


def _symbol_result(config: CompareConfig, base, spec, mine: list[Outcome], stopped: bool,
                   failed: list[dict]) -> ComparisonResult:
    """One symbol's comparison from its members' outcomes (in task order)."""
    starts: dict[int, dict[str, dict[str, torch.Tensor]]] = {}
    for o in mine:
        starts.setdefault(o.task.seed, {})[o.task.strategy] = o.starts
    member_rows = [o.row for o in mine]
    rows = summarize(member_rows, starts)
    verdict = judge(rows, member_rows, leak_rank=config.leak_rank)
    return ComparisonResult(config, rows, [o.detail for o in mine], base.name, spec.title, 0.0, stopped, verdict,
                            failed=failed)


def member_name(spec, name: str, several: bool) -> str:
    """A member's name in its run (its adapter's folder): ``average-s0``, or over several symbols
    ``BLISS_29111-average-s0``."""
    if not several:
        return name
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in spec.new_token).strip("_") or "token"
    return f"{slug}-{name}"


def check_symbols(specs: list, config: CompareConfig, tokenizer=None) -> None:
    """Every spec has enough data for the fine-tuning settings and what each strategy needs (a
    description for ``description``, …); no two share a token."""
    c = Collector()
    if len(specs) > limits.COMPARE_SYMBOLS[1]:
        c.add("specs", f"are {len(specs)}, more than {limits.COMPARE_SYMBOLS[1]}",
              f"compare at most {limits.COMPARE_SYMBOLS[1]} symbols at once")
    tokens = [s.new_token for s in specs]
    twice = sorted({t for t in tokens if tokens.count(t) > 1})
    if twice:
        c.add("specs", f"name the token {', '.join(twice)} more than once", "give each symbol its own token")
    for s in specs:
        try:
            config.finetune.check_data(len(s.fine_tuning_sentences), len(s.validation_sentences))
        except InputError as exc:
            for problem in exc.problems:
                c.problems.append(problem if len(specs) == 1 else
                                  Problem(f"{s.new_token} {problem.field}", problem.problem, problem.fix))
    c.problems += check_strategies(specs, config.strategies, config.init, tokenizer)
    c.raise_if_any()
