"""Background jobs: one worker thread, a queue, cooperative stop, and one event log per job.

A job is a function ``fn(ctx: JobContext) -> dict | None``. The runner runs one job at a time (a
2-core machine gains nothing from two trainings at once, and the numbers of a comparison would be
skewed), keeps the others queued with their position, and exposes for each its status:

    queued → running → done | stopped | failed          (stopping: asked to stop, finishing its step)
    queued → stopped                                    (stopped before it started)

Stop is cooperative: ``stop()`` sets a flag that the job reads (the training callback checks it
after every optimizer step); a thread is never killed. A job that raises is marked ``failed`` with
its error text, and the runner carries on with the next one.

With a ``RunStore`` each job is a run: its folder is created at submission (spec, config,
``status.json``), its events go to ``events.jsonl`` as they happen, its returned dict becomes
``result.json``, and its status follows every transition. The job id is the run id, so a page that
reloads, or a process that restarts, finds the job again in the store.

The runner is a process-wide object (``get_runner()``). Pure Python: safe to import from the UI.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.spec.errors import InputError, fail
from core.train.events import EventLog, StopRequested, step_events
from core.runs.store import ACTIVE, RunStore

log = logging.getLogger(__name__)


class JobContext:
    """What a running job may use: its event log, its stop flag, and its run folder."""

    def __init__(self, job: "Job", store: RunStore | None) -> None:
        self._job = job
        self.job_id = job.id
        self.run_id = job.run_id
        self.store = store
        self.events = job.events

    def emit(self, event: dict | None = None, **fields: Any) -> dict:
        return self.events.append(event, **fields)

    @property
    def stop_requested(self) -> bool:
        return self._job.stop_flag.is_set()

    def check_stop(self) -> None:
        """Raise ``StopRequested`` if a stop was asked for (between phases of a job)."""
        if self.stop_requested:
            raise StopRequested()

    @property
    def run_dir(self) -> Path | None:
        return self.store.existing(self.run_id) if self.store and self.run_id else None

    def save_folder(self, writer: Callable[[Path], None], member: str | None = None) -> Path | None:
        """Write an adapter folder into the run atomically (``writer(tmp_folder)``); None without a store."""
        if not (self.store and self.run_id):
            return None
        return self.store.save_folder(self.run_id, writer, member)


@dataclass
class Job:
    id: str
    kind: str
    title: str
    fn: Callable[[JobContext], dict | None]
    run_id: str | None
    events: EventLog
    status: str = "queued"
    error: str | None = None
    result: dict | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    stop_flag: threading.Event = field(default_factory=threading.Event)
    done_flag: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Ticket:
    """What ``submit`` returns: the job's id and its place in the queue (0 = runs now, 1 = next…)."""

    job_id: str
    position: int


class JobRunner:
    """One worker thread and a FIFO queue of jobs; thread-safe."""

    def __init__(self, store: RunStore | None = None) -> None:
        self.store = store
        self._jobs: dict[str, Job] = {}
        self._queue: list[str] = []
        self._current: str | None = None
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- submitting and controlling ------------------------------------------------------------------
    def submit(self, fn: Callable[[JobContext], dict | None], *, kind: str = "job", title: str = "",
               spec: dict | None = None, config: dict | None = None, into: str | None = None) -> Ticket:
        """Queue a job; with a store, its run folder (spec, config, status) is created now, or with
        ``into`` (an interrupted run's id) the job runs again in that run's folder, its events going on."""
        if into is not None and self.store is None:
            raise ValueError("a job can run again in a run's folder only with a run store")
        if self.store is not None:
            if into is not None:
                self.store.reopen(into)
                run_id = into
            else:
                run_id = self.store.create(kind, spec or {}, config or {}, title=title)
            job_id = run_id
            events = EventLog(self.store.events_path(run_id))
        else:
            run_id = None
            job_id = RunStore.new_run_id(kind)
            events = EventLog()
        job = Job(job_id, kind, title, fn, run_id, events)
        with self._cond:
            if self._closed:
                raise RuntimeError("the job runner is shut down")
            self._jobs[job_id] = job
            self._queue.append(job_id)
            position = len(self._queue) - (1 if self._current is None else 0)
            self._ensure_worker()
            self._cond.notify_all()
        events.append(type="status", status="queued", position=position)
        return Ticket(job_id, position)

    def stop(self, job_id: str) -> dict:
        """Ask a job to stop: a queued one never starts; a running one ends after its current step."""
        job = self._job(job_id)
        with self._cond:
            job.stop_flag.set()
            if job.status == "queued":
                self._queue.remove(job_id)
                self._finish(job, "stopped")
            elif job.status == "running":
                job.status = "stopping"
                self._persist(job)
        if job.status == "stopping":
            job.events.append(type="status", status="stopping", at_step=_last_step(job))
        return self.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> dict:
        """Block until the job has finished (or ``timeout`` seconds passed); returns its snapshot."""
        self._job(job_id).done_flag.wait(timeout)
        return self.get(job_id)

    def shutdown(self, wait: bool = True) -> None:
        """Stop every job, let the current one end at its next step, and end the worker."""
        with self._cond:
            self._closed = True
            ids = list(self._queue) + ([self._current] if self._current else [])
        for job_id in ids:
            self.stop(job_id)
        with self._cond:
            self._cond.notify_all()
        if wait and self._thread is not None:
            self._thread.join()

    # -- reading -------------------------------------------------------------------------------------
    def get(self, job_id: str) -> dict:
        """A snapshot of a job: status, error, queue position, counts, last step; also for stored runs."""
        job = self._jobs.get(job_id)
        if job is None:
            return self._stored(job_id)
        with self._cond:
            position = (self._queue.index(job.id) + (1 if self._current else 0)
                        if job.id in self._queue else (0 if job.id == self._current else None))
            return {
                "job_id": job.id, "run_id": job.run_id, "kind": job.kind, "title": job.title,
                "status": job.status, "error": job.error, "position": position,
                "created": _iso(job.created), "started": _iso(job.started), "finished": _iso(job.finished),
                "events": len(job.events), "last_step": job.events.last("step"),
                "has_result": job.result is not None,
            }

    def events(self, job_id: str, since: int = 0) -> list[dict]:
        job = self._jobs.get(job_id)
        if job is not None:
            return job.events.since(since)
        if self.store is not None and self.store.exists(job_id):
            return self.store.events(job_id)[max(0, since):]
        raise self._unknown(job_id)

    def subscribe(self, job_id: str, listener: Callable[[dict], None]) -> None:
        """Call ``listener(event)`` for every later event of a job of this process (in the job's thread)."""
        self._job(job_id).events.add_listener(listener)

    def result(self, job_id: str) -> dict | None:
        job = self._jobs.get(job_id)
        if job is not None:
            return job.result
        if self.store is not None and self.store.exists(job_id):
            return self.store.result(job_id)
        raise self._unknown(job_id)

    def list(self) -> list[dict]:
        """Jobs of this process (oldest first), active ones with their queue position."""
        with self._cond:
            ids = sorted(self._jobs, key=lambda i: self._jobs[i].created)
        return [self.get(i) for i in ids]

    def active(self) -> str | None:
        """The id of the running job, or None."""
        with self._cond:
            return self._current

    # -- the worker ----------------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="glosslab-jobs", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                job = self._jobs[self._queue.pop(0)]
                self._current = job.id
                job.status = "running"
                job.started = time.time()
                self._persist(job)
            job.events.append(type="status", status="running")
            self._run(job)
            with self._cond:
                self._current = None
                self._cond.notify_all()

    def _run(self, job: Job) -> None:
        ctx = JobContext(job, self.store)
        try:
            result = job.fn(ctx)
        except StopRequested:
            self._finish(job, "stopped")
        except BaseException as exc:  # a failing job must never take the runner down
            if isinstance(exc, InputError):
                error = str(exc)
            else:
                error = f"{type(exc).__name__}: {exc}"
                log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            self._finish(job, "failed", error=error)
        else:
            if isinstance(result, dict):
                job.result = result
                if self.store is not None and job.run_id:
                    try:
                        self.store.write_json(job.run_id, "result.json", result)
                    except Exception as exc:
                        self._finish(job, "failed", error=f"the result could not be saved: {exc}")
                        return
                    try:  # the result is kept: the run will never resume, its checkpoint can go
                        self.store.drop_checkpoint(job.run_id)
                    except OSError:
                        log.exception("could not remove the checkpoint of %s", job.id)
            self._finish(job, "stopped" if job.stop_flag.is_set() else "done")

    def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        # Under the lock, like ``stop``: a stop asked for while the job ends can never write
        # "stopping" over the final status.
        with self._cond:
            job.status = status
            job.error = error
            job.finished = time.time()
            self._persist(job)
        job.events.append(type="status", status=status, **({"error": error} if error else {}))
        job.events.close()
        job.done_flag.set()

    def _persist(self, job: Job) -> None:
        if self.store is not None and job.run_id:
            try:
                self.store.set_status(job.run_id, job.status, error=job.error)
            except Exception:  # the disk may be full; the job's state in memory stays right
                log.exception("could not record the status of %s", job.id)

    # -- helpers -------------------------------------------------------------------------------------
    def _job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            if self.store is not None and self.store.exists(job_id):
                raise fail("job_id", f"run {job_id!r} is not running in this process",
                           "only jobs started since the app started can be stopped")
            raise self._unknown(job_id)
        return job

    def _stored(self, job_id: str) -> dict:
        if self.store is None or not self.store.exists(job_id):
            raise self._unknown(job_id)
        status = self.store.status(job_id)
        events = self.store.events(job_id)
        steps = step_events(events)
        return {
            "job_id": job_id, "run_id": job_id, "kind": status.get("kind"), "title": status.get("title", ""),
            "status": status.get("status"), "error": status.get("error"),
            "position": None if status.get("status") not in ACTIVE else 0,
            "created": status.get("created"), "started": status.get("started"),
            "finished": status.get("finished"), "events": len(events),
            "last_step": steps[-1] if steps else None,
            "has_result": self.store.result(job_id) is not None,
        }

    @staticmethod
    def _unknown(job_id: str) -> InputError:
        return fail("job_id", f"no job {str(job_id)[:80]!r}", "choose a job or run from the list")


def _iso(seconds: float | None) -> str | None:
    """A time as the run store writes it (local time, to the second)."""
    return None if seconds is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds))


def _last_step(job: Job) -> int | None:
    event = job.events.last("step")
    return event.get("step") if event else None


_runner: JobRunner | None = None
_runner_lock = threading.Lock()


def get_runner(store: RunStore | None = None) -> JobRunner:
    """The process-wide runner (created on first use, with ``store`` or the default run store)."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = JobRunner(store if store is not None else RunStore())
        return _runner
