"""core/execution/backend.py (and the registry in core/execution/__init__.py): the one message loop with
a scripted transport: tasks go out as lanes free up, events come back tagged with a member's start
rewritten (and marked as a retry the second time), shared work is merged, a stop reaches the transport
and skips the rest, an input error or a failure ends the run or is reported as the transport says;
``perform`` answers for one member; the settings choose a backend by name and use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.execution import CHOICES, MEMBERS, NAMES, TRAINING, BackendConfig, backend_for
from core.execution.backend import Message, Site, Transport, perform, run_members
from core.spec.errors import InputError, Problem
from core.train.events import StopRequested


@dataclass(frozen=True)
class Task:
    index: int
    strategy: str
    seed: int = 0


@dataclass
class Result:
    task: Task
    value: int
    stopped: bool = False
    adapter: Path | None = None


@dataclass
class Toy:
    """Members: in order, the shared work a list that each outcome's items are merged into."""

    tasks: list
    work: object = None
    shared_work: list = field(default_factory=list)
    merged: list = field(default_factory=list)

    def next_task(self, pending, running):
        return pending[-1] if any(t.strategy == "first" for t in running) else pending[0]

    def shared(self, task):
        return list(self.shared_work)

    def merge(self, task, shared):
        self.merged.append((task.index, shared))

    def tags(self, task):
        return {"strategy": task.strategy}

    def title(self, task):
        return f"{task.strategy} (seed {task.seed})"

    def start_message(self, task, total):
        return f"{task.strategy}: {task.index + 1} of {total}"


class Script(Transport):
    """``lanes`` lanes; each task sent answers with its scripted messages the next time it is asked."""

    def __init__(self, lanes: int, script, goes_on: bool = False) -> None:
        self.lanes, self.script, self.goes_on = lanes, script, goes_on
        self.running: list[Task] = []
        self.sent: list[tuple[int, list]] = []
        self.stops = 0
        self.closed = False

    def free(self) -> int:
        return self.lanes - len(self.running)

    def send(self, task, shared) -> None:
        self.sent.append((task.index, shared))
        self.running.append(task)

    def receive(self, deliver) -> None:
        task = self.running.pop(0)
        for message in self.script(task):
            deliver(message)

    def stop(self) -> None:
        self.stops += 1

    def close(self) -> None:
        self.closed = True

    def failure(self, title, reason):
        return None if self.goes_on else RuntimeError(f"{title} broke: {reason}")


def _done(task: Task, value: int, stopped: bool = False) -> list[Message]:
    return [Message("event", task.index, {"type": "member", "status": "start"}),
            Message("event", task.index, {"type": "step", "step": 1}),
            Message("done", task.index, (Result(task, value, stopped), [value]))]


def _run(members, transport, **kw):
    outcomes, failures, events = [], [], []
    stopped = run_members(lambda scratch: transport, members, emit=events.append, on_outcome=outcomes.append,
                          on_failure=lambda task, reason: failures.append((task.index, reason)), **kw)
    return stopped, outcomes, failures, events


def test_tasks_go_out_as_lanes_free_and_events_come_back_tagged():
    members = Toy([Task(0, "first"), Task(1, "a"), Task(2, "b")], shared_work=["fit"])
    transport = Script(2, lambda task: _done(task, 10 * task.index))
    stopped, outcomes, failures, events = _run(members, transport)
    assert not stopped and not failures and transport.closed and transport.stops == 0
    # Task 0 went out first; with "first" running the loop asked for the last pending task next.
    assert [i for i, _ in transport.sent] == [0, 2, 1] and all(shared == ["fit"] for _, shared in transport.sent)
    assert [o.value for o in outcomes] == [0, 20, 10]
    assert members.merged == [(0, [0]), (2, [20]), (1, [10])]
    starts = [e for e in events if e["type"] == "member"]
    assert starts[0] == {"type": "member", "status": "start", "index": 0, "total": 3, "message": "first: 1 of 3",
                         "strategy": "first"}
    assert [e["strategy"] for e in events if e["type"] == "step"] == ["first", "b", "a"]


def test_a_member_that_starts_twice_is_a_retry():
    members = Toy([Task(0, "a")])
    transport = Script(1, lambda task: [Message("event", 0, {"type": "member", "status": "start"})] + _done(task, 1))
    _, _, _, events = _run(members, transport)
    starts = [e for e in events if e["type"] == "member"]
    assert [e.get("retry") for e in starts] == [None, True]
    assert starts[1]["message"] == "a: 1 of 1 (again: its worker died)"


def test_a_stop_reaches_the_transport_and_skips_the_rest():
    finished: list[int] = []

    def script(task):
        finished.append(task.index)
        return _done(task, task.index)

    transport = Script(1, script)
    stopped, outcomes, _, _ = _run(Toy([Task(i, "a") for i in range(4)]), transport,
                                   should_stop=lambda: len(finished) >= 2)
    assert stopped and [o.value for o in outcomes] == [0, 1] and transport.stops == 1
    assert [i for i, _ in transport.sent] == [0, 1]


def test_a_member_that_stopped_early_ends_the_run():
    transport = Script(1, lambda task: _done(task, task.index, stopped=task.index == 1))
    stopped, outcomes, _, _ = _run(Toy([Task(i, "a") for i in range(3)]), transport)
    assert stopped and [o.value for o in outcomes] == [0, 1] and transport.stops == 1


def test_an_input_error_ends_the_run_after_the_members_in_progress():
    problems = [Problem("model", "cannot be read", "put it where every node sees it")]

    def script(task):
        return [Message("input_error", 0, problems)] if task.index == 0 else _done(task, task.index)

    transport = Script(2, script)
    with pytest.raises(InputError) as err:
        _run(Toy([Task(i, "a") for i in range(4)]), transport)
    assert err.value.problems == problems and transport.closed and transport.stops == 1
    assert [i for i, _ in transport.sent] == [0, 1]  # task 1 was running beside it and finished; no more went out


def test_a_failure_ends_the_run_or_is_reported_as_the_transport_says():
    def script(task):
        return [Message("failed", task.index, "out of memory")] if task.index == 1 else _done(task, task.index)

    stopped, outcomes, failures, _ = _run(Toy([Task(i, "a", i) for i in range(3)]), Script(1, script, goes_on=True))
    assert not stopped and [o.value for o in outcomes] == [0, 2] and failures == [(1, "out of memory")]
    transport = Script(1, script)
    with pytest.raises(RuntimeError, match=r"a \(seed 1\) broke: out of memory"):
        _run(Toy([Task(i, "a", i) for i in range(3)]), transport)
    assert [i for i, _ in transport.sent] == [0, 1] and transport.closed


class Work:
    def __init__(self, raise_=None) -> None:
        self.raise_ = raise_

    def __call__(self, task, base, site):
        site.emit({"type": "step", "step": 1})
        site.shared.append("mine")
        if self.raise_ is not None:
            raise self.raise_
        return Result(task, base)


def test_perform_answers_for_one_member():
    events: list = []
    site = Site(events.append, lambda: False, shared=["fit"])
    message = perform(Work(), Task(3, "a"), 7, site)
    assert message.kind == "done" and message.index == 3
    outcome, shared = message.payload
    assert outcome.value == 7 and shared == ["fit", "mine"]
    assert events == [{"type": "member", "status": "start"}, {"type": "step", "step": 1}]
    assert perform(Work(), Task(3, "a"), 7, Site(events.append, lambda: True)).kind == "stopped"
    assert perform(Work(StopRequested()), Task(3, "a"), 7, Site(events.append, lambda: False, shared=[])).kind == "stopped"
    problems = [Problem("x", "is wrong", "fix it")]
    message = perform(Work(InputError(problems)), Task(3, "a"), 7, Site(events.append, lambda: False, shared=[]))
    assert message.kind == "input_error" and message.payload == problems
    with pytest.raises(ValueError):
        perform(Work(ValueError("boom")), Task(3, "a"), 7, Site(events.append, lambda: False, shared=[]))


def test_the_scratch_folder_lives_for_one_run():
    folders: list[Path] = []

    def transport_for(scratch: Path):
        folders.append(scratch)
        assert scratch.is_dir()
        return Script(1, lambda task: _done(task, 0))

    run_members(transport_for, Toy([Task(0, "a")]), on_outcome=lambda o: None)
    assert len(folders) == 1 and not folders[0].exists()


def test_the_settings_choose_a_backend_by_name_and_use():
    assert NAMES == ("local", "ray")
    assert set(CHOICES) == {("local", MEMBERS), ("local", TRAINING), ("ray", MEMBERS), ("ray", TRAINING)}
    local = backend_for(BackendConfig(workers=3))
    assert type(local).__name__ == "WorkerProcesses" and local.workers == 3 and local.label == "local"
    assert local.settings == {"workers": 3, "backend": "local", "ray_address": "", "ray_cpus": 1, "ray_gpus": 0.0}
    assert type(backend_for(BackendConfig(), TRAINING)).__name__ == "InProcess"
    train = backend_for(BackendConfig(backend="ray", ray_workers=4, ray_gpus=1.0), TRAINING)
    assert (type(train).__name__, train.workers, train.gpus) == ("RayTrain", 4, 1.0)
    assert train.settings == {"backend": "ray", "ray_address": "", "ray_workers": 4, "ray_cpus": 1, "ray_gpus": 1.0}
    assert BackendConfig(ray_address=" 10.0.0.5:6379 ").backend == "ray"
    with pytest.raises(InputError) as err:
        BackendConfig(workers=-1, backend="slurm")
    assert err.value.fields == ["workers", "backend"]
    with pytest.raises(InputError) as err:
        backend_for(BackendConfig(backend="ray", ray_gpus=0.5), TRAINING)
    assert err.value.fields == ["ray_gpus"] and "0 (CPUs) or 1" in err.value.problems[0].fix
