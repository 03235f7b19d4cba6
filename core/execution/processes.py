"""Members side by side in worker processes, the CPU cores shared among them.

On a CPU, a member of SmolLM2-135M spends most of its time in many small matrix products that two
or more cores share poorly, so several members side by side, one core each, finish sooner than the
same members one after another on all cores (``bench/compare.py`` prints the ratio). Processes
rather than threads: every member seeds the global random generators (LoRA's initialization,
dropout, the data order), which threads would share, so their numbers would depend on timing.

``WorkerProcesses(workers)`` runs ``workers`` members at once (0: ``auto_workers``); one member at a
time runs in this process (``core.execution.in_process``). Workers (``multiprocessing``'s *spawn*:
a fresh interpreter, never a fork of a process with threads) load the base model from a folder of
safetensors written once (or from the base's own folder), set their share of the cores
(``torch.set_num_threads``, and the thread variables their libraries read when they start) and keep
their own memo (e.g. the 4-bit base) from one member to the next. The work shared between members
travels with every task and back with every outcome (``core.execution.backend``), so a later member
reuses an earlier one's work whichever worker ran it.

Stop: a shared event every member checks at its next step. A member whose work raises ends the run
with an error naming it; a worker that dies (killed, out of memory) ends the run with a
``WorkerDied`` naming the member and the exit code; members finished before are already reported.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from core.execution.backend import (MEMBERS, POLL_SECONDS, Choice, Members, Message, Site, Transport, perform,
                                    run_members)
from core.execution.in_process import InProcessTransport

SMALL_MODEL = 20_000_000  # parameters: below this a worker's start-up costs more than it saves
WORKER_MEMORY = 3 * 2**30  # bytes a worker needs besides the model (activations, 4-bit copy, optimizer)
MAX_AUTO_WORKERS = 4
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_ENV_LOCK = threading.Lock()


class WorkerDied(RuntimeError):
    """A worker process ended without reporting its member."""


def cpu_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def auto_workers(n_tasks: int, n_params: int, device: str = "cpu") -> int:
    """Members at once for ``workers = 0``: one per core on a CPU (at most 4, as memory allows),
    one on a GPU (members share it badly) or for a tiny model (start-up outweighs the gain)."""
    from core.model.loading import available_memory

    if device != "cpu" or n_params < SMALL_MODEL or n_tasks < 2:
        return 1
    per_worker = n_params * 4 * 3 + WORKER_MEMORY
    by_memory = max(1, available_memory() // per_worker)
    return int(max(1, min(n_tasks, cpu_cores(), MAX_AUTO_WORKERS, by_memory)))


@contextlib.contextmanager
def thread_environment(threads: int):
    """Start workers with their share of the cores in the environment too: a spawned interpreter
    sizes OpenMP's and the BLAS libraries' thread pools from these variables when it imports torch,
    before ``torch.set_num_threads`` runs, and the tokenizers' own pool is switched off (several
    pools of all the cores in every worker would fight over the same cores)."""
    names = THREAD_VARIABLES + ("TOKENIZERS_PARALLELISM",)
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in names}
        os.environ.update({name: str(threads) for name in THREAD_VARIABLES}, TOKENIZERS_PARALLELISM="false")
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def base_folder(base, scratch: Path) -> str:
    """A folder of safetensors holding exactly ``base``: its own folder if it has one, else a copy."""
    source = Path(str(base.source)).expanduser()
    if source.is_dir() and any(source.glob("*.safetensors")):
        return str(source)
    folder = scratch / "base"
    base.model.save_pretrained(folder, safe_serialization=True)
    base.tokenizer.save_pretrained(folder)
    return str(folder)


# -- in a worker process ---------------------------------------------------------------------------

def _worker(number: int, inbox, outbox, stop, folder: str, base_name: str, threads: int, work,
            scratch: str) -> None:
    """A worker process: load the base, then run tasks until told to end (``None``)."""
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # only possible before any inter-op work has started
        torch.set_num_interop_threads(1)
    from core.model.loading import LoadedModel, load_model

    try:
        loaded = load_model(folder)
    except BaseException:  # noqa: BLE001 - reported to the caller, which names it
        outbox.put((number, Message("failed", None, traceback.format_exc(limit=4))))
        return
    base = LoadedModel(loaded.model, loaded.tokenizer, base_name, loaded.source)
    memo: dict = {}
    outbox.put((number, Message("ready", None)))
    while True:
        message = inbox.get()
        if message is None:
            return
        task, shared = message
        site = Site(emit=lambda event, task=task: outbox.put((number, Message("event", task.index, event))),
                    should_stop=stop.is_set, shared=shared, memo=memo, scratch=Path(scratch))
        try:
            outbox.put((number, perform(work, task, base, site)))
        except BaseException:  # noqa: BLE001 - reported to the caller
            outbox.put((number, Message("failed", task.index, traceback.format_exc(limit=6))))


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[-1]


# -- on the caller's side --------------------------------------------------------------------------

class ProcessTransport(Transport):
    """``n`` worker processes, each a lane once it has loaded the base."""

    def __init__(self, members: Members, base, scratch: Path, n: int) -> None:
        self.members, self.base, self.scratch, self.n = members, base, scratch, n
        self.idle: list[int] = []
        self.busy: dict[int, Any] = {}  # worker → its task
        self.ready = 0

    def open(self, stop_requested: Callable[[], bool]) -> None:
        context = multiprocessing.get_context("spawn")
        self.inbox = [context.Queue() for _ in range(self.n)]
        self.outbox = context.Queue()
        self.stop_event = context.Event()
        threads = max(1, cpu_cores() // self.n)
        folder = base_folder(self.base, self.scratch)
        self.processes = [context.Process(target=_worker, name=f"glosslab-member-{i}", daemon=True,
                                          args=(i, self.inbox[i], self.outbox, self.stop_event, folder, self.base.name,
                                                threads, self.members.work, str(self.scratch)))
                          for i in range(self.n)]
        with thread_environment(threads):
            for process in self.processes:
                process.start()

    def free(self) -> int:
        return len(self.idle)

    def send(self, task, shared) -> None:
        worker = self.idle.pop(0)
        self.busy[worker] = task
        self.inbox[worker].put((task, shared))

    def receive(self, deliver) -> None:
        try:
            worker, message = self.outbox.get(timeout=POLL_SECONDS)
        except queue.Empty:
            self._check_alive()
            return
        if message.kind == "ready":
            self.ready += 1
            self.idle.append(worker)
            return
        if message.index is None:
            raise WorkerDied(f"a worker process could not load the model: {_last_line(message.payload)}")
        if message.kind != "event":
            self.busy.pop(worker, None)
            self.idle.append(worker)
        if message.kind == "failed":
            message = Message("failed", message.index, _last_line(message.payload))
        deliver(message)

    def _check_alive(self) -> None:
        for worker, process in enumerate(self.processes):
            if process.is_alive() or (worker not in self.busy and self.ready == self.n):
                continue
            task = self.busy.get(worker)
            what = self.members.title(task) if task is not None else "starting"
            code = process.exitcode
            raise WorkerDied(f"the worker process running {what} ended unexpectedly (exit code {code}"
                             f"{': killed, perhaps out of memory' if code in (-9, 137) else ''}); "
                             "run the comparison with workers = 1 to train members one after another")

    def stop(self) -> None:
        self.stop_event.set()

    def settled(self) -> bool:
        return self.ready == self.n

    def failure(self, title: str, reason: str) -> BaseException:
        return RuntimeError(f"{title} failed in its worker process: {reason}")

    def close(self) -> None:
        for box in self.inbox:
            box.put(None)
        deadline = time.monotonic() + 10
        for process in self.processes:
            process.join(timeout=max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        for box in self.inbox + [self.outbox]:
            box.close()
            box.cancel_join_thread()


@dataclass
class WorkerProcesses:
    """``workers`` members at once in worker processes (0: ``auto_workers``; 1: in this process)."""

    workers: int = 0
    settings: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config) -> "WorkerProcesses":
        return cls(workers=config.workers)

    @property
    def label(self) -> str:
        return "local"

    def connect(self, finetune=None) -> "WorkerProcesses":
        return self

    def count(self, n_tasks: int, base) -> int:
        params = base.model.parameters()
        workers = self.workers or auto_workers(n_tasks, sum(p.numel() for p in base.model.parameters()),
                                               str(next(params).device.type))
        return max(1, min(workers, n_tasks))

    def place(self, n_tasks: int, base) -> tuple[int, str]:
        n = self.count(n_tasks, base)
        return n, "this process" if n <= 1 else f"{n} worker processes"

    def run(self, members: Members, base, **kw) -> bool:
        n = self.count(len(members.tasks), base)
        if n <= 1:
            return run_members(lambda scratch: InProcessTransport(members, base, scratch), members, **kw)
        return run_members(lambda scratch: ProcessTransport(members, base, scratch, n), members, **kw)


CHOICES = (Choice("local", MEMBERS, WorkerProcesses.from_config),)

__all__ = ["CHOICES", "MAX_AUTO_WORKERS", "ProcessTransport", "WorkerDied", "WorkerProcesses", "auto_workers",
           "base_folder", "cpu_cores", "thread_environment"]
