"""Where a comparison's members run: here (the default), or as Ray tasks on a local instance or a cluster.

``backend_for(config)`` reads the comparison's settings (``CompareConfig.backend``, ``ray_address``,
``ray_cpus``, ``ray_gpus``): ``local`` returns None, and ``core.execution.processes`` runs the
members in this process or in its worker processes as before; nothing here imports Ray then, and no
Ray process is started. ``ray`` (or any address) returns a ``RayBackend``; ``connect()`` checks
everything before a run folder is made: an address that does not answer, a cluster without a node
that has the CPUs or GPUs one member asks for. Each raises an ``InputError`` naming the setting and
the fix.

On Ray, every member (strategy × seed × symbol) is one task with ``num_cpus = ray_cpus`` and
``num_gpus = ray_gpus``, as many in flight as the cluster has room for; the next one goes out when
one ends, with the work shared so far (``InitCache``), as with worker processes.

* The base model: the folder of safetensors ``workers.py`` writes (or the base's own folder). A
  worker that cannot read it gets the files from Ray's object store when the cluster has more than
  one node (the driver puts them there once); otherwise the member fails with an ``InputError``
  naming ``model``. Each worker process loads the base once, and quantizes its own 4-bit copy.
* Events: a small actor (``_Hub``) collects each task's events in batches (every quarter second and
  at its end); the driver passes them on, tagged, to the job's event log, so the live chart follows
  Ray members as it follows local ones. The same actor holds the stop flag every task reads at its
  next step (and a task not started yet reads first): Stop reaches every task.
* Adapters: written by ``write_adapter`` where the member ran, sent back as bytes, and handed to
  ``keep_adapter`` from a folder here, as in-process.
* A worker that dies (killed, out of memory) is retried once by Ray (``max_retries=1``); if it dies
  again, the member is reported through ``on_failure`` with the reason and the others go on (the
  comparison's result lists it under ``failed``). Events of the attempt that died stay in the log;
  the retry's start event says that it is a retry.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.spec.errors import InputError, fail

ADDRESS_ENV = "GLOSSLAB_RAY_ADDRESS"
ROOT = Path(__file__).resolve().parents[2]  # the repository: Ray workers import ``core`` from here
CONNECT_TIMEOUT = 3.0  # seconds to wait for a Ray head to answer before calling the address unreachable
EVENT_BATCH_SECONDS = 0.25
STOP_CHECK_SECONDS = 0.5

_started_here = False  # this process started the local Ray instance (``shutdown`` ends it)


def backend_for(config) -> "RayBackend | None":
    """The backend a ``CompareConfig`` asks for: None for ``local`` (nothing of Ray is imported)."""
    if getattr(config, "backend", "local") != "ray":
        return None
    address = config.ray_address or os.environ.get(ADDRESS_ENV, "").strip()
    return RayBackend(address=address, cpus=config.ray_cpus, gpus=config.ray_gpus)


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


def _node_room(nodes: list[dict]) -> tuple[float, float]:
    """The most CPUs and GPUs any one alive node has (a task runs on one node)."""
    alive = [n.get("Resources", {}) for n in nodes if n.get("Alive")]
    return (max((r.get("CPU", 0.0) for r in alive), default=0.0), max((r.get("GPU", 0.0) for r in alive), default=0.0))


@dataclass
class RayBackend:
    """Comparison members as Ray tasks (see the module docstring)."""

    address: str = ""
    cpus: int = 1
    gpus: float = 0.0
    retries: int = 1
    where: str = ""
    _slots: int = 0
    _nodes: int = 1

    # -- connecting ------------------------------------------------------------------------------
    def connect(self) -> "RayBackend":
        """Join the cluster at ``address`` (or start a local instance sized to this machine, or use
        the Ray this process already has) and check it has room for one member."""
        global _started_here
        import ray

        if not ray.is_initialized():
            if self.address:
                check_address(self.address)
                try:
                    ray.init(address=self.address, log_to_driver=False,
                             runtime_env={"py_modules": [str(ROOT / "core")]})
                except (ConnectionError, RuntimeError, TimeoutError, ValueError) as exc:
                    raise fail("ray_address", f"could not join the Ray cluster at {self.address} "
                               f"({str(exc).splitlines()[0][:200]})",
                               "check that 'ray status' works there and that its Ray and Python versions match "
                               "this one's, or leave ray_address empty for a local instance") from None
            else:
                from core.execution.processes import cpu_cores

                ray.init(num_cpus=cpu_cores(), include_dashboard=False, log_to_driver=False,
                         runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
                _started_here = True
        nodes = ray.nodes()
        self._nodes = sum(1 for n in nodes if n.get("Alive"))
        most_cpus, most_gpus = _node_room(nodes)
        problems = []
        if self.cpus > most_cpus:
            problems.append(("ray_cpus", f"is {self.cpus}, but the largest node of the Ray cluster has "
                             f"{most_cpus:g} CPUs", f"ask for at most {most_cpus:g}, or add a bigger node"))
        if self.gpus > most_gpus:
            problems.append(("ray_gpus", f"is {self.gpus:g}, but the Ray cluster's nodes have "
                             f"{'no GPU' if not most_gpus else f'at most {most_gpus:g} GPUs'}",
                             "set ray_gpus to 0 (CPU only)" if not most_gpus else
                             f"ask for at most {most_gpus:g}, or add a node with more GPUs"))
        if problems:
            from core.spec.errors import Collector

            c = Collector()
            for p in problems:
                c.add(*p)
            c.raise_if_any()
        total = ray.cluster_resources()
        self._slots = int(min(total.get("CPU", 0) // self.cpus,
                              total.get("GPU", 0) // self.gpus if self.gpus else float("inf")))
        self._slots = max(1, self._slots)
        place = f"the cluster at {self.address}" if self.address else "a local Ray instance"
        self.where = (f"ray: {place} ({self._nodes} node{'s' if self._nodes != 1 else ''}, "
                      f"{total.get('CPU', 0):g} CPUs, {total.get('GPU', 0):g} GPUs; "
                      f"{self.cpus} CPU{'s' if self.cpus != 1 else ''}"
                      f"{f' and {self.gpus:g} GPU' if self.gpus else ''} per member)")
        return self

    def members_at_once(self, n_tasks: int) -> int:
        if not self.where:
            self.connect()
        return max(1, min(n_tasks, self._slots))

    # -- running ---------------------------------------------------------------------------------
    def run_tasks(self, tasks, plan, base, caches, *, emit, should_stop, on_outcome, on_failure, write_adapter,
                  scratch: Path) -> bool:
        """Run every task on Ray (see the module docstring); True if a stop ended it early."""
        import ray

        from core.experiment.single.pipeline import InitCache
        from core.execution.processes import _base_folder, _merge, _next_task, _start_event, _tagged

        if not self.where:
            self.connect()
        folder = _base_folder(base, scratch)
        shipped = ray.put(_read_folder(Path(folder))) if self._nodes > 1 else None
        hub = ray.remote(num_cpus=0)(_Hub).remote()
        remote = ray.remote(_member_task).options(num_cpus=self.cpus, num_gpus=self.gpus,
                                                  max_retries=self.retries, retry_exceptions=False)
        run_id = uuid.uuid4().hex
        pending = list(tasks)
        running: dict[Any, Any] = {}  # object ref → task
        by_index = {t.index: t for t in tasks}
        started: set[int] = set()
        stopped = False
        problem: BaseException | None = None
        capacity = self.members_at_once(len(tasks))

        def relay() -> None:
            for index, event in ray.get(hub.take.remote()):
                task = by_index[index]
                if event.get("type") == "member" and event.get("status") == "start":
                    event = {**_start_event(task, len(tasks)), **(
                        {"retry": True, "message": _start_event(task, len(tasks))["message"] +
                         " (again: its worker died)"} if index in started else {})}
                    started.add(index)
                _tagged(emit, task, plan.specs[task.symbol])(event)

        try:
            while pending or running:
                if should_stop is not None and should_stop() and not stopped:
                    stopped = True
                    hub.set_stop.remote()
                while pending and len(running) < capacity and not stopped and problem is None:
                    task = _next_task(pending, {i: t for i, t in enumerate(running.values())}, plan)
                    pending.remove(task)
                    cache = caches.get(task.symbol) if plan.reuse else None
                    ref = remote.remote(task, plan, folder, base.name, shipped, cache, hub, write_adapter,
                                        self.cpus, run_id)
                    running[ref] = task
                if not running:
                    break
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
                relay()
                for ref in ready:
                    task = running.pop(ref)
                    try:
                        kind, payload = ray.get(ref)
                    except (ray.exceptions.RayError, OSError) as exc:
                        on_failure(task, _reason(exc, self.retries))
                        continue
                    if kind == "done":
                        outcome, cache, files = payload
                        if plan.reuse and cache is not None:
                            _merge(caches.setdefault(task.symbol, InitCache()), cache)
                        if files is not None:
                            outcome.adapter = _write_folder(files, scratch, f"{task.index:03d}-{task.name}-")
                        on_outcome(outcome)
                        if outcome.row.get("stopped") and not stopped:
                            stopped = True
                            hub.set_stop.remote()
                    elif kind == "stopped":
                        stopped = True
                    elif kind == "input_error":
                        problem = problem or InputError(payload)
                        hub.set_stop.remote()
            relay()
            if problem is not None:
                raise problem
            return stopped
        finally:
            for ref in running:
                ray.cancel(ref, force=True)
            ray.kill(hub)


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

class _Hub:
    """A Ray actor: events from the tasks, and the stop flag they read."""

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


_worker_state: dict[str, Any] = {}  # in a Ray worker process: the base it loaded, its 4-bit copy, for which run


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
                         quantized={}, run=None)
    return _worker_state["base"]


def _member_task(task, plan, folder: str, base_name: str, shipped, cache, hub, write_adapter, threads: int,
                 run_id: str):
    """One member in a Ray worker: ("done", (outcome, cache, adapter files)), ("stopped", None) or
    ("input_error", problems). A worker that dies here is Ray's to retry."""
    import ray
    import torch

    from core.execution.processes import run_one
    from core.train.events import StopRequested

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

    def flush() -> None:
        ray.get(hub.put.remote(task.index, list(batch)))  # waits: the driver reads them before the outcome
        batch.clear()

    if should_stop():
        return "stopped", None
    emit({"type": "member", "status": "start"})
    scratch = Path(tempfile.mkdtemp(prefix="glosslab-ray-member-"))
    try:
        try:
            base = _load_base(folder, base_name, shipped)
        except InputError as exc:
            return "input_error", exc.problems
        if _worker_state.get("run") != run_id:
            _worker_state["quantized"] = {}
            _worker_state["run"] = run_id
        try:
            outcome = run_one(task, plan, base, cache, _worker_state["quantized"], emit=emit,
                              should_stop=should_stop, write_adapter=write_adapter, scratch=scratch)
        except StopRequested:
            return "stopped", None
        except InputError as exc:
            return "input_error", exc.problems
        files = None
        if outcome.adapter is not None:
            files = _read_folder(outcome.adapter)
            outcome.adapter = None
        return "done", (outcome, cache, files)
    finally:
        flush()
        shutil.rmtree(scratch, ignore_errors=True)


__all__ = ["ADDRESS_ENV", "RayBackend", "backend_for", "check_address", "shutdown"]
