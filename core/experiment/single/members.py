"""A comparison's members as a backend runs them: the tasks, the work run for each one wherever it
runs, what the backend's loop asks between members, and the tally of what finished.

A backend (``core.execution``, given by the caller) takes ``Members``: the tasks, the work and the
loop's questions (see ``core.execution.backend``). The work is an object of a module, so that a
spawned worker process or a Ray worker can import it; it returns an outcome without models (its
numbers, its details, its starting rows and the folder its adapter was written to).

* ``MemberTask``: the ``index``-th member, a strategy with a seed, on ``specs[symbol]``.
* ``MemberWork``: one member of a comparison (``core.experiment.single.member.run_member``).
* ``Members``: in order, nothing shared, events tagged with strategy and seed (a vocabulary's runs
  use it as it is); ``CompareMembers``: over specs, the work shared between seeds (``InitCache``,
  per symbol) sent with every task and merged back from every outcome, so that a later seed reuses
  an earlier one's work whichever worker ran it, and a task whose seed-independent initialization
  is being made elsewhere waits while other tasks are ready.
* ``Tally``: each finished member as it finishes (its adapter handed to ``keep``, a ``done`` event)
  and each failed one (a ``failed`` event, listed with its reason).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch

from core.embedding.strategies import InitConfig, depends_on_seed, strategy_label
from core.experiment.single.member import Member, run_member
from core.experiment.single.pipeline import InitCache
from core.train.finetune import FinetuneConfig

Emit = Callable[[dict], Any]
WriteAdapter = Callable[[Member, Path], None]


@dataclass(frozen=True)
class MemberTask:
    """One member: the ``index``-th of a comparison, a strategy with a seed on ``specs[symbol]`` (a
    vocabulary's runs: ``symbol`` 0, the whole vocabulary)."""

    index: int
    symbol: int
    strategy: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.strategy}-s{self.seed}"


@dataclass(frozen=True)
class Plan:
    """What every member shares: the specs, the settings and how much to reuse."""

    specs: tuple
    init: InitConfig
    finetune: FinetuneConfig
    max_new_tokens: int
    reuse: bool = True

    def configs(self, task: MemberTask) -> tuple[InitConfig, FinetuneConfig]:
        return (replace(self.init, strategy=task.strategy, seed=task.seed),
                replace(self.finetune, seed=task.seed))


@dataclass
class Outcome:
    """A finished member, without its models."""

    task: MemberTask
    row: dict
    detail: dict
    starts: dict[str, torch.Tensor]
    adapter: Path | None = None

    @property
    def stopped(self) -> bool:
        return bool(self.row.get("stopped"))


@dataclass(frozen=True)
class MemberWork:
    """One member of a comparison, wherever it runs; its adapter (with ``write_adapter``, a function
    of a module) goes to a folder under the site's scratch folder."""

    plan: Plan
    write_adapter: WriteAdapter | None = None

    def __call__(self, task: MemberTask, base, site) -> Outcome:
        spec = self.plan.specs[task.symbol]
        init_config, ft_config = self.plan.configs(task)
        member = run_member(spec, base, init_config, ft_config, emit=site.emit, should_stop=site.should_stop,
                            max_new_tokens=self.plan.max_new_tokens,
                            quantized_cache=site.memo.setdefault("quantized", {}), reuse=site.shared)
        try:
            adapter = None
            if self.write_adapter is not None and site.scratch is not None:
                adapter = Path(tempfile.mkdtemp(prefix=f"{task.index:03d}-{task.name}-", dir=site.scratch))
                self.write_adapter(member, adapter)
            starts = {"input": member.init.rows.input_row.float().clone(),
                      "output": member.init.rows.output_row.float().clone()}
            return Outcome(task, member.row(), member.detail(), starts, adapter)
        finally:
            member.release()


@dataclass
class Members:
    """Tasks and their work, run in order, nothing shared between them, events tagged with the
    strategy and seed (what ``core.execution.backend.run_members`` asks)."""

    tasks: list
    work: Any

    def next_task(self, pending: list, running: list) -> Any:
        return pending[0]

    def shared(self, task) -> Any:
        return None

    def merge(self, task, shared) -> None:
        return None

    def tags(self, task) -> dict:
        return {"strategy": task.strategy, "seed": task.seed}

    def title(self, task) -> str:
        return f"{task.strategy} (seed {task.seed})"

    def start_message(self, task, total: int) -> str | None:
        return f"{strategy_label(task.strategy)} (seed {task.seed}): {task.index + 1} of {total}"


@dataclass
class CompareMembers(Members):
    """A comparison's members over ``work.plan.specs`` (see the module docstring)."""

    caches: dict[int, InitCache] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.work.plan.reuse and not self.caches:
            self.caches = {s: InitCache() for s in range(len(self.work.plan.specs))}

    def next_task(self, pending: list, running: list) -> MemberTask:
        """The first pending task, unless its seed-independent initialization is being made elsewhere."""
        plan = self.work.plan
        busy = {(t.symbol, t.strategy) for t in running}
        for task in pending:
            init_config, _ = plan.configs(task)
            if not plan.reuse or depends_on_seed(init_config) or (task.symbol, task.strategy) not in busy:
                return task
        return pending[0]

    def shared(self, task: MemberTask) -> InitCache | None:
        return self.caches.get(task.symbol) if self.work.plan.reuse else None

    def merge(self, task: MemberTask, shared: InitCache | None) -> None:
        into = self.caches.get(task.symbol)
        if shared is None or into is None or shared is into:
            return
        for key, value in shared.fits.items():
            into.fits.setdefault(key, value)
        for key, value in shared.before.items():
            into.before.setdefault(key, value)

    def tags(self, task: MemberTask) -> dict:
        return {"strategy": task.strategy, "seed": task.seed, "symbol": self.work.plan.specs[task.symbol].new_token}


@dataclass
class Tally:
    """What finished and what failed, as the backend reports it (in the calling thread)."""

    emit: Emit
    total: int
    tags: Callable[[Any], dict]
    keep: Callable[[Any, Path], None] | None = None
    row_of: Callable[[Any], dict | None] = lambda outcome: None
    outcomes: list = field(default_factory=list)  # members finished before (a resumed run) may be given
    after: Callable[[Any], None] | None = None    # called with each finished member after ``keep``
    failed: list[dict] = field(default_factory=list)

    def finished(self, outcome) -> None:
        self.outcomes.append(outcome)
        task = outcome.task
        if self.keep is not None and outcome.adapter is not None:
            self.keep(task, outcome.adapter)
        if self.after is not None:
            self.after(outcome)
        row = self.row_of(outcome)
        self.emit({"type": "member", "status": "done", "index": task.index, "total": self.total,
                   **({"row": row} if row is not None else {}), **self.tags(task), "done": len(self.outcomes)})

    def failure(self, task, reason: str) -> None:
        self.failed.append({"index": task.index, **self.tags(task), "reason": reason})
        self.emit({"type": "member", "status": "failed", "index": task.index, "total": self.total, "reason": reason,
                   **self.tags(task), "message": f"{task.strategy} (seed {task.seed}) failed: {reason}"})

    def check(self) -> None:
        """Raise if every member failed (there is nothing to summarize)."""
        if self.failed and not self.outcomes:
            raise RuntimeError("every member failed: " + "; ".join(
                f"{f['strategy']} (seed {f['seed']}): {f['reason']}" for f in self.failed[:3]))


__all__ = ["CompareMembers", "MemberTask", "MemberWork", "Members", "Outcome", "Plan", "Tally", "WriteAdapter"]
