"""Members one after another in this process: the simplest backend, and the lane the others fall
back to (worker processes when one member at a time is best, Ray Train, which fine-tunes elsewhere
but runs each member's other work here).

The members share this process's random generators and threads, one at a time; what the work
keeps between members (``Site.memo``: e.g. the 4-bit base with the token in it) lives for one run.
A member's events reach the caller as they happen, and the stop the loop reads is the one every
member's steps read. A member's own exception ends the run as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.execution.backend import TRAINING, Choice, Members, Message, Site, Transport, perform, run_members


class InProcessTransport(Transport):
    """One lane, here: a task sent is run when the loop next asks for messages."""

    def __init__(self, members: Members, base: Any, scratch: Path, finetune_tokens: Callable | None = None) -> None:
        self.members, self.base, self.scratch, self.finetune_tokens = members, base, scratch, finetune_tokens
        self.queue: list[tuple[Any, Any]] = []
        self.memo: dict = {}
        self.stop_requested: Callable[[], bool] = lambda: False

    def open(self, stop_requested: Callable[[], bool]) -> None:
        self.stop_requested = stop_requested

    def free(self) -> int:
        return 0 if self.queue else 1

    def send(self, task: Any, shared: Any) -> None:
        self.queue.append((task, shared))

    def receive(self, deliver: Callable[[Message], None]) -> None:
        if not self.queue:
            return
        task, shared = self.queue.pop(0)
        site = Site(emit=lambda event: deliver(Message("event", task.index, event)), should_stop=self.stop_requested,
                    shared=shared, memo=self.memo, scratch=self.scratch, finetune_tokens=self.finetune_tokens)
        deliver(perform(self.members.work, task, self.base, site))

    def close(self) -> None:
        self.memo.clear()


@dataclass
class InProcess:
    """Members one after another in this process (see the module docstring)."""

    settings: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Any) -> "InProcess":
        return cls()

    @property
    def label(self) -> str:
        return "local"

    def connect(self, finetune: Any = None) -> "InProcess":
        return self

    def place(self, n_tasks: int, base: Any) -> tuple[int, str]:
        return 1, "this process"

    def run(self, members: Members, base: Any, **kw: Any) -> bool:
        return run_members(lambda scratch: InProcessTransport(members, base, scratch), members, **kw)


CHOICES = (Choice("local", TRAINING, InProcess.from_config),)

__all__ = ["InProcess", "InProcessTransport", "CHOICES"]
