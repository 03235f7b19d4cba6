"""core/experiment/single/members.py: what a comparison gives its backend: each member's configs,
the work shared between seeds merged back from wherever a member ran, events tagged with the symbol,
and the tally of finished and failed members (with the events the page and the log read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.embedding.strategies import InitConfig
from core.experiment.single.compare import CompareConfig, tasks_of
from core.experiment.single.members import CompareMembers, MemberTask, MemberWork, Members, Outcome, Plan, Tally
from core.experiment.single.pipeline import InitCache
from core.train.finetune import FinetuneConfig


def _members(specs, reuse: bool = True) -> CompareMembers:
    plan = Plan(tuple(specs), InitConfig(negative_logit=-8.0), FinetuneConfig(seed=0, epochs=1), 8, reuse)
    config = CompareConfig(strategies=["average", "random"], seeds=2)
    return CompareMembers(tasks_of(config, len(specs)), MemberWork(plan))


def test_each_member_gets_its_strategy_and_seed_and_the_shared_settings(tiny_spec):
    members = _members([tiny_spec])
    init, finetune = members.work.plan.configs(MemberTask(3, 0, "random", 1))
    assert (init.strategy, init.seed, init.negative_logit) == ("random", 1, -8.0)
    assert (finetune.seed, finetune.epochs) == (1, 1)
    assert members.tags(members.tasks[1]) == {"strategy": "random", "seed": 0, "symbol": tiny_spec.new_token}
    assert members.title(members.tasks[1]) == "random (seed 0)"
    assert members.start_message(members.tasks[1], 4).endswith("(seed 0): 2 of 4")


def test_work_shared_between_seeds_is_merged_back_per_symbol(tiny_spec):
    members = _members([tiny_spec, tiny_spec])  # two symbols (a comparison refuses a token twice; the plan does not care)
    first, second = members.tasks[0], members.tasks[4]
    assert (first.symbol, second.symbol) == (0, 1)
    ours = members.shared(first)
    assert isinstance(ours, InitCache) and ours is not members.shared(second)
    ours.fits["kept"] = "here"  # a member that ran here added to the cache itself
    members.merge(first, ours)
    assert members.shared(first).fits == {"kept": "here"}
    # A worker's copy comes back: what is new is added, what was there is kept.
    theirs = InitCache(fits={"kept": "there", "new": 1}, before={("average",): 2})
    members.merge(first, theirs)
    assert members.shared(first).fits == {"kept": "here", "new": 1}
    assert members.shared(first).before == {("average",): 2} and members.shared(second).fits == {}
    alone = _members([tiny_spec], reuse=False)
    assert alone.shared(alone.tasks[0]) is None
    alone.merge(alone.tasks[0], None)  # nothing shared, nothing to merge


def test_plain_members_run_in_order_and_share_nothing():
    tasks = [MemberTask(i, 0, s, 0) for i, s in enumerate(("average", "random"))]
    members = Members(tasks, work=None)
    assert members.next_task(tasks[1:], tasks[:1]) == tasks[1] and members.shared(tasks[0]) is None
    assert members.tags(tasks[0]) == {"strategy": "average", "seed": 0}


def test_the_tally_reports_what_finished_and_what_failed(tmp_path):
    events: list[dict] = []
    kept: list[tuple[str, Path]] = []
    tasks = [MemberTask(i, 0, s, 0) for i, s in enumerate(("average", "random", "pca"))]
    tally = Tally(events.append, 3, lambda task: {"strategy": task.strategy, "seed": task.seed, "symbol": "[T]"},
                  keep=lambda task, folder: kept.append((task.name, folder)), row_of=lambda o: o.row)
    tally.failure(tasks[1], "its Ray worker died 2 times")
    with pytest.raises(RuntimeError, match=r"every member failed: random \(seed 0\): its Ray worker died"):
        tally.check()
    tally.finished(Outcome(tasks[0], {"eval_loss": 1.5}, {}, {}, adapter=tmp_path))
    tally.finished(Outcome(tasks[2], {"eval_loss": 2.5, "stopped": True}, {}, {}))
    tally.check()  # something finished
    assert kept == [("average-s0", tmp_path)]
    assert tally.failed == [{"index": 1, "strategy": "random", "seed": 0, "symbol": "[T]",
                             "reason": "its Ray worker died 2 times"}]
    failed, done, last = events
    assert failed["status"] == "failed" and failed["message"] == "random (seed 0) failed: its Ray worker died 2 times"
    assert done == {"type": "member", "status": "done", "index": 0, "total": 3, "row": {"eval_loss": 1.5},
                    "strategy": "average", "seed": 0, "symbol": "[T]", "done": 1}
    assert last["done"] == 2 and tally.outcomes[1].stopped and not tally.outcomes[0].stopped
