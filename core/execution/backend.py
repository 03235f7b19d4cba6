"""One way to run members anywhere: the ``Backend`` protocol, what a member's work is given where it
runs, and the one message loop that every backend's members go through.

A comparison (``core.experiment.single.compare``) or a vocabulary's runs (``core.experiment.vocabulary``)
hand a backend their ``Members``: the tasks, the work run for each one (a picklable object of a
module, so that a spawned worker process or a Ray worker can import it), and what the loop asks
between members (the next task, the work shared so far, the tags of a member's events, how its
start reads). ``Backend.run`` runs every task and returns True if a stop ended it early; each
finished member's outcome reaches ``on_outcome`` in the calling thread, in the order they finish.

Where a member runs, ``perform`` calls the work with a ``Site`` (its events, its stop, the work
shared so far, what its process keeps between members, a scratch folder, and how to fine-tune many
tokens together when the backend does that elsewhere) and answers with one ``Message``: ``done``
(the outcome and the shared work), ``stopped`` or ``input_error``. Each backend's ``Transport``
carries tasks out and those messages, and the member's events, back; ``run_members`` is the loop on
this side, the same for every backend:

* a free lane gets the next task (``Members.next_task``) with the work shared so far;
* a member's events reach ``emit`` as they come, tagged (``Members.tags``); its start becomes a
  ``member`` event that says which of how many it is (and that it is a retry, when a worker died
  and the member starts again);
* a finished member's shared work is merged back (``Members.merge``) and its outcome handed on;
* a stop (``should_stop``, or a member that ended early on one) reaches every member in progress
  at its next step through the transport, and the members not started are skipped;
* a member that fails: its transport says what that means (``Transport.failure``): an error that
  ends the run naming the member (worker processes), or ``on_failure(task, reason)`` while the rest
  go on (Ray). In this process a member's own exception ends the run as it is.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from core.spec.errors import InputError
from core.train.events import StopRequested

Emit = Callable[[dict], Any]
MEMBERS = "members"    # a use: the members of a comparison, side by side
TRAINING = "training"  # a use: one vocabulary run, its fine-tuning where the backend puts it
POLL_SECONDS = 0.2     # how long the loop waits for a message before it looks at the stop again


@dataclass
class Site:
    """Where one member runs, as its work sees it."""

    emit: Emit
    should_stop: Callable[[], bool]
    shared: Any = None                    # the work shared so far (the work may add to it; sent back)
    memo: dict = field(default_factory=dict)  # kept by this process from one member to the next
    scratch: Path | None = None           # a folder for what the member writes (its adapter)
    finetune_tokens: Callable | None = None  # many tokens fine-tuned elsewhere: returns (trained, report)


class Work(Protocol):
    """One member's work: picklable, and run wherever the backend puts the member."""

    def __call__(self, task: Any, base: Any, site: Site) -> Any: ...


class Members(Protocol):
    """What to run: the tasks (each with an ``index``), the work, and what the loop asks between them."""

    tasks: list
    work: Work

    def next_task(self, pending: list, running: list) -> Any: ...
    def shared(self, task: Any) -> Any: ...
    def merge(self, task: Any, shared: Any) -> None: ...
    def tags(self, task: Any) -> dict: ...
    def title(self, task: Any) -> str: ...
    def start_message(self, task: Any, total: int) -> str | None: ...


class Backend(Protocol):
    """Where members run (one module of ``core.execution`` each)."""

    settings: dict  # the backend settings it was made from, recorded with the results

    @property
    def label(self) -> str:
        """How a run's stored settings name it: ``local``, or where on Ray."""

    def connect(self, finetune: Any = None) -> "Backend":
        """Check everything before a run folder is made (a cluster that answers and has room, a
        fine-tuning that suits the backend); returns itself."""

    def place(self, n_tasks: int, base: Any) -> tuple[int, str]:
        """Members at once, and where they run in words ("this process", "2 worker processes", …)."""

    def run(self, members: Members, base: Any, *, emit: Emit | None = None,
            should_stop: Callable[[], bool] | None = None, on_outcome: Callable[[Any], None],
            on_failure: Callable[[Any, str], None] | None = None) -> bool:
        """Run every task; True if a stop ended the run early."""


@dataclass(frozen=True)
class Choice:
    """A value of the ``backend`` setting for one use, and how to make that backend from the settings."""

    name: str
    use: str
    make: Callable[[Any], Backend]


@dataclass(frozen=True)
class Message:
    """From where a member runs: ``event``, ``done``, ``stopped``, ``input_error`` or ``failed`` (and
    a transport's own, such as a worker's ``ready``)."""

    kind: str
    index: int | None
    payload: Any = None


def perform(work: Work, task: Any, base: Any, site: Site) -> Message:
    """Run one member here: ``done`` with (outcome, shared work), ``stopped`` or ``input_error``;
    any other exception is the caller's to report."""
    if site.should_stop():
        return Message("stopped", task.index)
    site.emit({"type": "member", "status": "start"})
    try:
        outcome = work(task, base, site)
    except StopRequested:
        return Message("stopped", task.index)
    except InputError as exc:
        return Message("input_error", task.index, exc.problems)
    return Message("done", task.index, (outcome, site.shared))


class Transport:
    """How one backend carries tasks out and messages back; the defaults suit a backend whose lanes
    are all ready at once and whose failures end the run by raising."""

    def open(self, stop_requested: Callable[[], bool]) -> None:
        """Start (workers, actors); ``stop_requested`` is the loop's stop, for members run here."""

    def free(self) -> int:
        """Lanes that can take a task now."""
        return 0

    def send(self, task: Any, shared: Any) -> None:
        raise NotImplementedError

    def receive(self, deliver: Callable[[Message], None]) -> None:
        """Hand the messages that came (waiting up to ``POLL_SECONDS``) to ``deliver``."""
        raise NotImplementedError

    def stop(self) -> None:
        """Tell every member in progress to end at its next step."""

    def settled(self) -> bool:
        """Whether the run may end once nothing is running (a worker still starting: not yet)."""
        return True

    def drain(self, deliver: Callable[[Message], None]) -> None:
        """Hand on what is left once the last member finished."""

    def close(self) -> None:
        """End what ``open`` started."""

    def failure(self, title: str, reason: str) -> BaseException | None:
        """The error a failed member ends the run with, or None: it is reported and the rest go on."""
        return RuntimeError(f"{title} failed: {reason}")


def _ignore(*args: Any) -> None:
    return None


def _never() -> bool:
    return False


class _Loop:
    """The loop on the caller's side (see the module docstring)."""

    def __init__(self, transport: Transport, members: Members, emit: Emit, should_stop: Callable[[], bool],
                 on_outcome: Callable[[Any], None], on_failure: Callable[[Any, str], None]) -> None:
        self.transport, self.members = transport, members
        self.emit, self.should_stop, self.on_outcome, self.on_failure = emit, should_stop, on_outcome, on_failure
        self.pending = list(members.tasks)
        self.total = len(members.tasks)
        self.by_index = {t.index: t for t in members.tasks}
        self.running: dict[int, Any] = {}
        self.started: set[int] = set()
        self.stopping = False  # no task goes out any more
        self.stopped = False   # a stop ended the run early
        self.problem: BaseException | None = None

    def stop_requested(self) -> bool:
        return self.stopping or bool(self.should_stop())

    def run(self) -> bool:
        self.transport.open(self.stop_requested)
        try:
            while True:
                if not self.stopping and self.should_stop():
                    self.halt(stopped=True)
                self.dispatch()
                if not self.running and (not self.pending or self.stopping) and self.transport.settled():
                    break
                self.transport.receive(self.handle)
            self.transport.drain(self.handle)
        finally:
            self.transport.close()
        if self.problem is not None:
            raise self.problem
        return self.stopped

    def halt(self, stopped: bool) -> None:
        self.stopped = self.stopped or stopped
        if not self.stopping:
            self.stopping = True
            self.transport.stop()

    def dispatch(self) -> None:
        while self.pending and not self.stopping and self.transport.free() > 0:
            task = self.members.next_task(self.pending, list(self.running.values()))
            self.pending.remove(task)
            self.running[task.index] = task
            self.transport.send(task, self.members.shared(task))

    def handle(self, message: Message) -> None:
        task = self.by_index[message.index]
        if message.kind == "event":
            self.relay(task, message.payload)
            return
        self.running.pop(task.index, None)
        if message.kind == "done":
            outcome, shared = message.payload
            self.members.merge(task, shared)
            self.on_outcome(outcome)
            if outcome.stopped:
                self.halt(stopped=True)
        elif message.kind == "stopped":
            self.halt(stopped=True)
        elif message.kind == "input_error":
            self.problem = self.problem or InputError(message.payload)
            self.halt(stopped=False)
        elif message.kind == "failed":
            error = self.transport.failure(self.members.title(task), message.payload)
            if error is None:
                self.on_failure(task, message.payload)
            else:
                self.problem = self.problem or error
                self.halt(stopped=False)

    def relay(self, task: Any, event: dict) -> None:
        if event.get("type") == "member" and event.get("status") == "start":
            text = self.members.start_message(task, self.total)
            if text is None:
                return
            event = {"type": "member", "status": "start", "index": task.index, "total": self.total, "message": text}
            if task.index in self.started:
                event.update(retry=True, message=text + " (again: its worker died)")
            self.started.add(task.index)
        self.emit({**event, **self.members.tags(task)})


def run_members(transport_for: Callable[[Path], Transport], members: Members, *, emit: Emit | None = None,
                should_stop: Callable[[], bool] | None = None, on_outcome: Callable[[Any], None],
                on_failure: Callable[[Any, str], None] | None = None) -> bool:
    """Every task of ``members`` through the transport ``transport_for(scratch)`` makes (``scratch``: a
    folder for this run, removed at its end); True if a stop ended it early."""
    scratch = Path(tempfile.mkdtemp(prefix="glosslab-members-"))
    try:
        loop = _Loop(transport_for(scratch), members, emit or _ignore, should_stop or _never, on_outcome,
                     on_failure or _ignore)
        return loop.run()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


__all__ = ["Backend", "Choice", "Emit", "MEMBERS", "Members", "Message", "POLL_SECONDS", "Site", "TRAINING",
           "Transport", "Work", "perform", "run_members"]
