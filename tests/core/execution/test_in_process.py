"""core/execution/in_process.py: members one after another here, their events reaching the caller while
they run, the process's memo kept from one member to the next for one run, a stop read inside a
member, a member's own exception ending the run as it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from core.execution.in_process import InProcess
from core.experiment.single.members import MemberTask, Members
from core.train.events import StopRequested


@dataclass
class Result:
    task: MemberTask
    value: dict
    adapter: Path | None = None
    stopped: bool = False


class Counting:
    """Counts the members it ran in the process's memo, writes a file to scratch, and (``steps``) takes
    steps until a stop; ``seen`` is the caller's event list, to check the events arrive as they come."""

    def __init__(self, seen: list, steps: int = 0, fail_on: str | None = None) -> None:
        self.seen, self.steps, self.fail_on = seen, steps, fail_on

    def __call__(self, task, base, site):
        if task.strategy == self.fail_on:
            raise ValueError(f"{task.strategy} cannot")
        before = len(self.seen)
        site.emit({"type": "step", "step": 0})
        live = len(self.seen) == before + 1  # the caller had the event before the member ended
        for step in range(1, self.steps + 1):
            if site.should_stop():
                raise StopRequested()
            site.emit({"type": "step", "step": step})
        site.memo["members"] = site.memo.get("members", 0) + 1
        (site.scratch / f"{task.index}.txt").write_text(task.name)
        return Result(task, {"live": live, "nth": site.memo["members"], "base": base,
                             "scratch": str(site.scratch)}, adapter=site.scratch / f"{task.index}.txt")


def _tasks(*strategies: str) -> list[MemberTask]:
    return [MemberTask(i, 0, s, 0) for i, s in enumerate(strategies)]


def test_members_run_one_after_another_with_live_events_and_one_memo():
    events: list[dict] = []
    outcomes: list = []
    kept: list[str] = []

    def finished(outcome):
        outcomes.append(outcome)
        kept.append(outcome.adapter.read_text())  # the scratch folder is there while the run is

    backend = InProcess()
    assert backend.place(5, base=None) == (1, "this process") and backend.label == "local"
    stopped = backend.run(Members(_tasks("average", "random", "pca"), Counting(events)), "the base",
                          emit=events.append, on_outcome=finished)
    assert not stopped and [o.task.index for o in outcomes] == [0, 1, 2]
    assert all(o.value["live"] and o.value["base"] == "the base" for o in outcomes)
    assert [o.value["nth"] for o in outcomes] == [1, 2, 3] and kept == ["average-s0", "random-s0", "pca-s0"]
    assert not Path(outcomes[0].value["scratch"]).exists()  # removed after the run
    starts = [e for e in events if e["type"] == "member"]
    assert [e["index"] for e in starts] == [0, 1, 2] and starts[0]["strategy"] == "average"
    assert all(e["strategy"] in ("average", "random", "pca") for e in events)
    # A second run starts with a fresh memo.
    again: list = []
    InProcess().run(Members(_tasks("average"), Counting([])), None, on_outcome=again.append)
    assert again[0].value["nth"] == 1


def test_a_stop_ends_the_member_at_its_next_step_and_skips_the_rest():
    events: list[dict] = []
    outcomes: list = []
    stopped = InProcess().run(Members(_tasks("average", "random"), Counting(events, steps=50)), None,
                              emit=events.append, on_outcome=outcomes.append,
                              should_stop=lambda: sum(e["type"] == "step" for e in events) >= 3)
    assert stopped and outcomes == []
    assert [e["step"] for e in events if e["type"] == "step"] == [0, 1, 2]
    assert [e["index"] for e in events if e["type"] == "member"] == [0]


def test_a_member_s_exception_ends_the_run_as_it_is():
    outcomes: list = []
    with pytest.raises(ValueError, match="random cannot"):
        InProcess().run(Members(_tasks("average", "random", "pca"), Counting([], fail_on="random")), None,
                        on_outcome=outcomes.append)
    assert [o.task.strategy for o in outcomes] == ["average"]
