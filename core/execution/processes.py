"""Running a comparison's members: one after another in this process, or several at once in worker processes.

On a CPU, a member of SmolLM2-135M spends most of its time in many small matrix products that two
or more cores share poorly, so several members side by side, one core each, finish sooner than the
same members one after another on all cores (``bench/compare.py`` prints the ratio). Processes
rather than threads: every member seeds the global random generators (LoRA's initialization,
dropout, the data order), which threads would share, so their numbers would depend on timing.

``run_tasks`` hands out ``MemberTask``s and reports each finished member as an ``Outcome`` (its
row, its details, its starting rows and the folder its adapter was written to) through
``on_outcome`` in the calling thread, in the order they finish. Events from the members reach
``emit`` tagged with strategy, seed and symbol, as they happen.

Workers (``multiprocessing``'s *spawn*: a fresh interpreter, never a fork of a process with
threads) load the base model from a folder of safetensors the caller writes once (or from the
base's own folder), set their share of the cores (``torch.set_num_threads``) and keep their own
4-bit base. The work shared between members (``InitCache``: the calculated output row, a
seed-independent strategy's initialization and evaluation before fine-tuning) is kept by the
caller, per symbol, sent with every task and merged back from every outcome, so a later seed
reuses an earlier one's work whichever worker ran it. A task whose seed-independent
initialization is being computed elsewhere waits while other tasks are ready.

Stop: a shared event every member checks at its next step; the members in progress end, the
rest are not started. A worker that dies (killed, out of memory) ends the comparison with an
error naming the member and the exit code; members finished before are already reported.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import threading
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch

from core.embedding.strategies import InitConfig, depends_on_seed, strategy_label
from core.experiment.single.member import Member, run_member
from core.experiment.single.pipeline import InitCache
from core.spec.errors import InputError
from core.train.events import StopRequested
from core.train.finetune import FinetuneConfig

Emit = Callable[[dict], Any]
WriteAdapter = Callable[[Member, Path], None]
SMALL_MODEL = 20_000_000  # parameters: below this a worker's start-up costs more than it saves
WORKER_MEMORY = 3 * 2**30  # bytes a worker needs besides the model (activations, 4-bit copy, optimizer)
MAX_AUTO_WORKERS = 4


@dataclass(frozen=True)
class MemberTask:
    """One member: the ``index``-th of a comparison, on ``specs[symbol]``."""

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


def _tagged(emit: Emit, task: MemberTask, spec) -> Emit:
    tags = {"strategy": task.strategy, "seed": task.seed, "symbol": spec.new_token}
    return lambda event: emit({**event, **tags})


def _start_event(task: MemberTask, total: int) -> dict:
    return {"type": "member", "status": "start", "index": task.index, "total": total,
            "message": f"{strategy_label(task.strategy)} (seed {task.seed}): {task.index + 1} of {total}"}


def run_one(task: MemberTask, plan: Plan, base, cache: InitCache | None, quantized: dict, *,
            emit: Emit, should_stop: Callable[[], bool] | None, write_adapter: WriteAdapter | None,
            scratch: Path | None) -> Outcome:
    """Run one member here; its adapter (if ``write_adapter``) goes to a folder under ``scratch``."""
    spec = plan.specs[task.symbol]
    init_config, ft_config = plan.configs(task)
    member = run_member(spec, base, init_config, ft_config, emit=emit, should_stop=should_stop,
                        max_new_tokens=plan.max_new_tokens, quantized_cache=quantized, reuse=cache)
    try:
        adapter = None
        if write_adapter is not None and scratch is not None:
            adapter = Path(tempfile.mkdtemp(prefix=f"{task.index:03d}-{task.name}-", dir=scratch))
            write_adapter(member, adapter)
        starts = {"input": member.init.rows.input_row.float().clone(),
                  "output": member.init.rows.output_row.float().clone()}
        return Outcome(task, member.row(), member.detail(), starts, adapter)
    finally:
        member.release()


# -- in this process -------------------------------------------------------------------------------

def _run_here(tasks, plan, base, caches, *, emit, should_stop, on_outcome, write_adapter, scratch) -> bool:
    quantized: dict = {}
    try:
        for task in tasks:
            if should_stop is not None and should_stop():
                return True
            spec = plan.specs[task.symbol]
            tagged = _tagged(emit, task, spec)
            tagged(_start_event(task, len(tasks)))
            try:
                outcome = run_one(task, plan, base, caches.get(task.symbol), quantized, emit=tagged,
                                  should_stop=should_stop, write_adapter=write_adapter, scratch=scratch)
            except StopRequested:
                return True
            on_outcome(outcome)
            if outcome.row.get("stopped"):
                return True
        return False
    finally:
        quantized.clear()


# -- in worker processes ---------------------------------------------------------------------------

def _worker(number: int, inbox, outbox, stop, base_folder: str, base_name: str, threads: int, plan: Plan,
            write_adapter: WriteAdapter | None, scratch: str | None) -> None:
    """A worker process: load the base, then run tasks until told to end (``None``)."""
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # only possible before any inter-op work has started
        torch.set_num_interop_threads(1)
    from core.model.loading import LoadedModel, load_model

    try:
        loaded = load_model(base_folder)
    except BaseException:  # noqa: BLE001 - reported to the caller, which names it
        outbox.put((number, "failed", None, traceback.format_exc(limit=4)))
        return
    base = LoadedModel(loaded.model, loaded.tokenizer, base_name, loaded.source)
    quantized: dict = {}
    outbox.put((number, "ready", None, None))
    while True:
        message = inbox.get()
        if message is None:
            return
        task, cache = message
        emit = lambda event, task=task: outbox.put((number, "event", task.index, event))  # noqa: E731
        try:
            outcome = run_one(task, plan, base, cache, quantized, emit=emit, should_stop=stop.is_set,
                              write_adapter=write_adapter, scratch=Path(scratch) if scratch else None)
        except StopRequested:
            outbox.put((number, "stopped", task.index, None))
            continue
        except InputError as exc:
            outbox.put((number, "input_error", task.index, exc.problems))
            continue
        except BaseException:  # noqa: BLE001 - reported to the caller
            outbox.put((number, "failed", task.index, traceback.format_exc(limit=6)))
            continue
        outbox.put((number, "done", task.index, (outcome, cache)))


_ENV_LOCK = threading.Lock()
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def _thread_environment(threads: int):
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


def _base_folder(base, scratch: Path) -> str:
    """A folder of safetensors holding exactly ``base``: its own folder if it has one, else a copy."""
    source = Path(str(base.source)).expanduser()
    if source.is_dir() and any(source.glob("*.safetensors")):
        return str(source)
    folder = scratch / "base"
    base.model.save_pretrained(folder, safe_serialization=True)
    base.tokenizer.save_pretrained(folder)
    return str(folder)


def _next_task(pending: list[MemberTask], running: dict[int, MemberTask], plan: Plan) -> MemberTask:
    """The first pending task, unless its seed-independent initialization is being made elsewhere."""
    busy = {(t.symbol, t.strategy) for t in running.values()}
    for task in pending:
        init_config, _ = plan.configs(task)
        if not plan.reuse or depends_on_seed(init_config) or (task.symbol, task.strategy) not in busy:
            return task
    return pending[0]


def _merge(into: InitCache, other: InitCache) -> None:
    for key, value in other.fits.items():
        into.fits.setdefault(key, value)
    for key, value in other.before.items():
        into.before.setdefault(key, value)


def _run_in_workers(tasks, plan, base, caches, n_workers, *, emit, should_stop, on_outcome, write_adapter,
                    scratch) -> bool:
    context = multiprocessing.get_context("spawn")
    inbox_of = [context.Queue() for _ in range(n_workers)]
    outbox = context.Queue()
    stop = context.Event()
    threads = max(1, cpu_cores() // n_workers)
    folder = _base_folder(base, scratch)
    workers = [context.Process(target=_worker, name=f"glosslab-member-{i}", daemon=True,
                               args=(i, inbox_of[i], outbox, stop, folder, base.name, threads, plan, write_adapter,
                                     str(scratch)))
               for i in range(n_workers)]
    with _thread_environment(threads):
        for process in workers:
            process.start()
    pending = list(tasks)
    running: dict[int, MemberTask] = {}  # worker → its task
    by_index = {t.index: t for t in tasks}
    idle: list[int] = []
    stopped = False
    problem: BaseException | None = None
    ready = 0

    try:
        while True:
            if should_stop is not None and should_stop() and not stop.is_set():
                stop.set()
                stopped = True
            while idle and pending and not stop.is_set() and problem is None:
                w = idle.pop(0)
                task = _next_task(pending, running, plan)
                pending.remove(task)
                running[w] = task
                spec = plan.specs[task.symbol]
                _tagged(emit, task, spec)(_start_event(task, len(tasks)))
                inbox_of[w].put((task, caches.get(task.symbol) if plan.reuse else None))
            if not running and (not pending or stop.is_set() or problem is not None) and ready == n_workers:
                break
            try:
                w, kind, index, payload = outbox.get(timeout=0.2)
            except queue.Empty:
                dead = [(w, p.exitcode) for w, p in enumerate(workers) if not p.is_alive()]
                for w, code in dead:
                    if w in running or ready < n_workers:
                        task = running.get(w)
                        what = f"{task.strategy} (seed {task.seed})" if task else "starting"
                        raise WorkerDied(f"the worker process running {what} ended unexpectedly (exit code {code}"
                                         f"{': killed, perhaps out of memory' if code in (-9, 137) else ''}); "
                                         "run the comparison with workers = 1 to train members one after another")
                continue
            if kind == "ready":
                ready += 1
                idle.append(w)
                continue
            if kind == "event":
                task = by_index[index]
                _tagged(emit, task, plan.specs[task.symbol])(payload)
                continue
            if index is None:  # a worker could not load the base
                raise WorkerDied(f"a worker process could not load the model: {payload.strip().splitlines()[-1]}")
            task = running.pop(w)
            idle.append(w)
            if kind == "done":
                outcome, cache = payload
                if plan.reuse and cache is not None:
                    _merge(caches.setdefault(task.symbol, InitCache()), cache)
                on_outcome(outcome)
                if outcome.row.get("stopped"):
                    stopped = True
                    stop.set()
            elif kind == "stopped":
                stopped = True
            elif kind == "input_error":
                problem = problem or InputError(payload)
                stop.set()
            else:
                problem = problem or RuntimeError(
                    f"{task.strategy} (seed {task.seed}) failed in its worker process: "
                    f"{payload.strip().splitlines()[-1]}")
                stop.set()
        if problem is not None:
            raise problem
        return stopped
    finally:
        for box in inbox_of:
            box.put(None)
        deadline = time.monotonic() + 10
        for process in workers:
            process.join(timeout=max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        for box in inbox_of + [outbox]:
            box.close()
            box.cancel_join_thread()


def run_tasks(tasks: list[MemberTask], plan: Plan, base, *, workers: int = 1, emit: Emit | None = None,
              should_stop: Callable[[], bool] | None = None, on_outcome: Callable[[Outcome], None],
              write_adapter: WriteAdapter | None = None, backend=None,
              on_failure: Callable[[MemberTask, str], None] | None = None) -> bool:
    """Run every task (``workers`` at once; 1 = here, one after another); True if a stop ended it early.

    ``backend``: an object whose ``run_tasks(tasks, plan, base, caches, emit=, should_stop=,
    on_outcome=, on_failure=, write_adapter=, scratch=)`` runs them elsewhere (``core.execution.ray_tasks``,
    Ray); it may report a member that failed there through ``on_failure(task, reason)`` and go on.
    """
    emit = emit or (lambda event: None)
    caches: dict[int, InitCache] = {s: InitCache() for s in range(len(plan.specs))} if plan.reuse else {}
    scratch = Path(tempfile.mkdtemp(prefix="glosslab-members-"))
    try:
        if backend is not None:
            return backend.run_tasks(tasks, plan, base, caches, emit=emit, should_stop=should_stop,
                                     on_outcome=on_outcome, on_failure=on_failure or (lambda task, reason: None),
                                     write_adapter=write_adapter, scratch=scratch)
        if workers <= 1 or len(tasks) <= 1:
            return _run_here(tasks, plan, base, caches, emit=emit, should_stop=should_stop, on_outcome=on_outcome,
                             write_adapter=write_adapter, scratch=scratch)
        return _run_in_workers(tasks, plan, base, caches, min(workers, len(tasks)), emit=emit,
                               should_stop=should_stop, on_outcome=on_outcome, write_adapter=write_adapter,
                               scratch=scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
