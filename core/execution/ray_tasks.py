"""Members as Ray tasks, on a local Ray instance or a cluster; and joining Ray, for Ray Train too.

``RayTasks.connect()`` checks everything before a run folder is made: an address that does not
answer, a cluster without a node that has the CPUs or GPUs one member asks for. Each raises an
``InputError`` naming the setting (``ray_address``, ``ray_cpus``, ``ray_gpus``) and the fix. Nothing
here imports Ray until a Ray backend connects or runs.

On Ray, every member (strategy × seed × symbol, a vocabulary's strategy × seed, or a batch of
symbols ``vocab draft`` drafts: ``core.authoring.many_members``) is one task with ``num_cpus =
ray_cpus`` and ``num_gpus = ray_gpus``, as many in flight as the cluster has room for; the next one
goes out when one ends, with the work shared so far, as with worker processes (the loop is
``core.execution.backend``'s).

* The base model: the folder of safetensors written once (``core.execution.processes.base_folder``,
  or the base's own folder). A worker that cannot read it gets the files from Ray's object store
  when the cluster has more than one node (the driver puts them there once); otherwise the member
  fails with an ``InputError`` naming ``model``. Each worker process loads the base once, and keeps
  its memo (its 4-bit copy) for the members of one run.
* Events: a small actor (``EventHub``) collects each task's events in batches (every quarter second
  and at its end); the loop passes them on, tagged, to the job's event log, so the live chart
  follows Ray members as it follows local ones. The same actor holds the stop flag every task reads
  at its next step (and a task not started yet reads first): Stop reaches every task.
* Adapters: written where the member ran, sent back as bytes, and handed on from a folder here.
* A worker that dies (killed, out of memory) is retried once by Ray (``max_retries=1``); if it dies
  again, or the member's work raises, the member is reported through ``on_failure`` with the reason
  and the others go on (a comparison's result lists it under ``failed``). Events of the attempt
  that died stay in the log; the retry's start event says that it is a retry.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.execution.backend import (MEMBERS, POLL_SECONDS, Choice, Members, Message, Site, Transport, perform,
                                    run_members)
from core.execution.processes import base_folder, cpu_cores
from core.spec.errors import Collector, InputError, fail

ADDRESS_ENV = "GLOSSLAB_RAY_ADDRESS"
ROOT = Path(__file__).resolve().parents[2]  # the repository: Ray workers import ``core`` from here
CONNECT_TIMEOUT = 3.0  # seconds to wait for a Ray head to answer before calling the address unreachable
EVENT_BATCH_SECONDS = 0.25
STOP_CHECK_SECONDS = 0.5

_started_here = False  # this process started the local Ray instance (``shutdown`` ends it)


def address_of(setting: str) -> str:
    """The Ray address to join: the setting, else $GLOSSLAB_RAY_ADDRESS (empty: a local instance)."""
    return (setting or os.environ.get(ADDRESS_ENV, "")).strip()


def shutdown() -> None:
    """End the local Ray instance this process started, if any (the command line, at its end)."""
    global _started_here
    if _started_here:
        import ray

        ray.shutdown()
        _started_here = False


def check_address(address: str) -> None:
    """A ``host:port`` (or ``ray://host:port``) that answers, or ``auto``; else an ``InputError``."""
    if address == "auto":
        return
    rest = address.split("://", 1)[1] if "://" in address else address
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise fail("ray_address", f"{address!r} is not host:port",
                   "give the head's address as printed by 'ray start --head', e.g. 10.0.0.5:6379")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        raise fail("ray_address", f"nothing answers at {address} ({exc.strerror or exc})",
                   "start the cluster's head there with 'ray start --head --port "
                   f"{port}', or leave ray_address (and ${ADDRESS_ENV}) empty to start a local Ray instance"
                   ) from None


def join(address: str) -> None:
    """Join the cluster at ``address``, or start a local instance sized to this machine, or use the
    Ray this process already has."""
    global _started_here
    import ray

    if ray.is_initialized():
        return
    if not address:
        ray.init(num_cpus=cpu_cores(), include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        _started_here = True
        return
    check_address(address)
    try:
        ray.init(address=address, log_to_driver=False, runtime_env={"py_modules": [str(ROOT / "core")]})
    except (ConnectionError, RuntimeError, TimeoutError, ValueError) as exc:
        raise fail("ray_address", f"could not join the Ray cluster at {address} "
                   f"({str(exc).splitlines()[0][:200]})",
                   "check that 'ray status' works there and that its Ray and Python versions match "
                   "this one's, or leave ray_address empty for a local instance") from None


def _node_room(nodes: list[dict]) -> tuple[float, float]:
    """The most CPUs and GPUs any one alive node has (a task runs on one node)."""
    alive = [n.get("Resources", {}) for n in nodes if n.get("Alive")]
    return (max((r.get("CPU", 0.0) for r in alive), default=0.0), max((r.get("GPU", 0.0) for r in alive), default=0.0))


def check_node_room(cpus: int, gpus: float) -> int:
    """Refuse (naming ``ray_cpus``/``ray_gpus``) what no one node of the cluster can give one task or
    worker; returns the number of alive nodes."""
    import ray

    nodes = ray.nodes()
    most_cpus, most_gpus = _node_room(nodes)
    c = Collector()
    if cpus > most_cpus:
        c.add("ray_cpus", f"is {cpus}, but the largest node of the Ray cluster has {most_cpus:g} CPUs",
              f"ask for at most {most_cpus:g}, or add a bigger node")
    if gpus > most_gpus:
        c.add("ray_gpus", f"is {gpus:g}, but the Ray cluster's nodes have "
              f"{'no GPU' if not most_gpus else f'at most {most_gpus:g} GPUs'}",
              "set ray_gpus to 0 (CPU only)" if not most_gpus else
              f"ask for at most {most_gpus:g}, or add a node with more GPUs")
    c.raise_if_any()
    return sum(1 for n in nodes if n.get("Alive"))


def place_words(address: str) -> str:
    return f"the cluster at {address}" if address else "a local Ray instance"


class EventHub:
    """A Ray actor: events from the tasks (or Ray Train's ranks), and the stop flag they read."""

    def __init__(self) -> None:
        self.events: list = []
        self.stop = False

    def put(self, index: int, events: list[dict]) -> None:
        self.events += [(index, e) for e in events]

    def take(self) -> list:
        out, self.events = self.events, []
        return out

    def set_stop(self) -> None:
        self.stop = True

    def stopped(self) -> bool:
        return self.stop


@dataclass
class RayTasks:
    """A comparison's members as Ray tasks (see the module docstring)."""

    address: str = ""
    cpus: int = 1
    gpus: float = 0.0
    retries: int = 1
    settings: dict = field(default_factory=dict)
    where: str = ""
    slots: int = 0
    nodes: int = 1

    @classmethod
    def from_config(cls, config) -> "RayTasks":
        return cls(address=address_of(config.ray_address), cpus=config.ray_cpus, gpus=config.ray_gpus)

    @property
    def label(self) -> str:
        return self.where or "ray"

    def connect(self, finetune=None) -> "RayTasks":
        """Join Ray (``join``) and check it has room for one member."""
        import ray

        join(self.address)
        self.nodes = check_node_room(self.cpus, self.gpus)
        total = ray.cluster_resources()
        self.slots = max(1, int(min(total.get("CPU", 0) // self.cpus,
                                    total.get("GPU", 0) // self.gpus if self.gpus else float("inf"))))
        self.where = (f"ray: {place_words(self.address)} ({self.nodes} node{'s' if self.nodes != 1 else ''}, "
                      f"{total.get('CPU', 0):g} CPUs, {total.get('GPU', 0):g} GPUs; "
                      f"{self.cpus} CPU{'s' if self.cpus != 1 else ''}"
                      f"{f' and {self.gpus:g} GPU' if self.gpus else ''} per member)")
        return self

    def members_at_once(self, n_tasks: int) -> int:
        if not self.where:
            self.connect()
        return max(1, min(n_tasks, self.slots))

    def place(self, n_tasks: int, base) -> tuple[int, str]:
        return self.members_at_once(n_tasks), self.where

    def run(self, members: Members, base, **kw) -> bool:
        """Run every task on Ray (see the module docstring); True if a stop ended it early."""
        if not self.where:
            self.connect()
        return run_members(lambda scratch: RayTransport(self, members, base, scratch), members, **kw)


class RayTransport(Transport):
    """Tasks out as Ray tasks, their events through an ``EventHub``, their results by ``ray.wait``."""

    def __init__(self, backend: RayTasks, members: Members, base, scratch: Path) -> None:
        self.backend, self.members, self.base, self.scratch = backend, members, base, scratch
        self.running: dict[Any, Any] = {}  # object ref → task
        self.capacity = backend.members_at_once(len(members.tasks))

    def open(self, stop_requested) -> None:
        import ray

        b = self.backend
        self.folder = base_folder(self.base, self.scratch)
        self.shipped = ray.put(_read_folder(Path(self.folder))) if b.nodes > 1 else None
        self.hub = ray.remote(num_cpus=0)(EventHub).remote()
        self.remote = ray.remote(_member_task).options(num_cpus=b.cpus, num_gpus=b.gpus, max_retries=b.retries,
                                                       retry_exceptions=False)
        self.work = ray.put(self.members.work)
        self.run_id = uuid.uuid4().hex

    def free(self) -> int:
        return self.capacity - len(self.running)

    def send(self, task, shared) -> None:
        ref = self.remote.remote(task, self.work, self.folder, self.base.name, self.shipped, shared, self.hub,
                                 self.backend.cpus, self.run_id)
        self.running[ref] = task

    def receive(self, deliver) -> None:
        import ray

        ready = ray.wait(list(self.running), num_returns=1, timeout=POLL_SECONDS)[0] if self.running else []
        self.drain(deliver)
        for ref in ready:
            task = self.running.pop(ref)
            try:
                message = ray.get(ref)
            except (ray.exceptions.RayError, OSError) as exc:
                deliver(Message("failed", task.index, _reason(exc, self.backend.retries)))
                continue
            if message.kind == "done":
                outcome, shared, files = message.payload
                if files is not None:
                    outcome.adapter = _write_folder(files, self.scratch, f"{task.index:03d}-")
                message = Message("done", task.index, (outcome, shared))
            deliver(message)

    def drain(self, deliver) -> None:
        import ray

        for index, event in ray.get(self.hub.take.remote()):
            deliver(Message("event", index, event))

    def stop(self) -> None:
        self.hub.set_stop.remote()

    def failure(self, title: str, reason: str) -> None:
        return None  # reported through on_failure; the other members go on

    def close(self) -> None:
        import ray

        for ref in self.running:
            ray.cancel(ref, force=True)
        ray.kill(self.hub)


def _reason(exc: BaseException, retries: int) -> str:
    import ray

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    if isinstance(exc, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                        ray.exceptions.OutOfMemoryError)):
        return f"its Ray worker died {retries + 1} times ({type(exc).__name__}: {first})"
    return f"{type(exc).__name__}: {first}"


# -- moving folders ------------------------------------------------------------------------------------

def _read_folder(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _write_folder(files: dict[str, bytes], parent: Path, prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


# -- on the Ray side -------------------------------------------------------------------------------------

_worker_state: dict[str, Any] = {}  # in a Ray worker process: the base it loaded, its memo, for which run


def _load_base(folder: str, name: str, shipped) -> Any:
    """The base model in this worker (loaded once per folder), from ``folder`` or the object store."""
    from core.model.loading import LoadedModel, load_model

    if _worker_state.get("folder") == folder:
        return _worker_state["base"]
    where = folder
    if not Path(folder).is_dir():
        if shipped is None:
            raise fail("model", f"the Ray worker on {socket.gethostname()} cannot read the base model at {folder}",
                       "put the model folder on a path every node mounts (and load it from there), or "
                       "run the comparison with backend local")
        where = tempfile.mkdtemp(prefix="glosslab-base-")
        _write_folder(shipped, Path(where), "model-")
        where = str(next(Path(where).iterdir()))
    loaded = load_model(where)
    _worker_state.clear()
    _worker_state.update(folder=folder, base=LoadedModel(loaded.model, loaded.tokenizer, name, loaded.source),
                         memo={}, run=None)
    return _worker_state["base"]


def _member_task(task, work, folder: str, base_name: str, shipped, shared, hub, threads: int,
                 run_id: str) -> Message:
    """One member in a Ray worker: ``done`` with (outcome, shared work, adapter files), ``stopped`` or
    ``input_error``. A worker that dies here is Ray's to retry; an exception is the member's failure."""
    import ray
    import torch

    torch.set_num_threads(max(1, int(threads)))
    batch: list[dict] = []
    last = [time.monotonic(), 0.0, False]  # last batch sent, last stop check, stop seen

    def emit(event: dict) -> None:
        batch.append(event)
        if time.monotonic() - last[0] >= EVENT_BATCH_SECONDS:
            hub.put.remote(task.index, list(batch))
            batch.clear()
            last[0] = time.monotonic()

    def should_stop() -> bool:
        if not last[2] and time.monotonic() - last[1] >= STOP_CHECK_SECONDS:
            last[2] = bool(ray.get(hub.stopped.remote()))
            last[1] = time.monotonic()
        return last[2]

    if should_stop():
        return Message("stopped", task.index)
    scratch = Path(tempfile.mkdtemp(prefix="glosslab-ray-member-"))
    try:
        try:
            base = _load_base(folder, base_name, shipped)
        except InputError as exc:
            return Message("input_error", task.index, exc.problems)
        if _worker_state.get("run") != run_id:
            _worker_state.update(memo={}, run=run_id)
        message = perform(work, task, base, Site(emit, should_stop, shared, _worker_state["memo"], scratch))
        if message.kind != "done":
            return message
        outcome, shared = message.payload
        files = None
        if getattr(outcome, "adapter", None) is not None:  # a drafted batch has none
            files = _read_folder(outcome.adapter)
            outcome.adapter = None
        return Message("done", task.index, (outcome, shared, files))
    finally:
        ray.get(hub.put.remote(task.index, list(batch)))  # waits: the driver reads them before the outcome
        shutil.rmtree(scratch, ignore_errors=True)


CHOICES = (Choice("ray", MEMBERS, RayTasks.from_config),)

__all__ = ["ADDRESS_ENV", "CHOICES", "EventHub", "RayTasks", "RayTransport", "address_of", "check_address",
           "check_node_room", "join", "place_words", "shutdown"]
