"""A drafting run's batches as members a backend runs (``vocab draft --backend ray``: one Ray task a batch).

A backend of ``core.execution`` runs members: tasks, a work object of a module that runs each task
wherever the backend puts it, and the questions its loop asks between tasks (see
``core.execution.backend``). Here

* ``BatchTask``: the ``index``-th batch still to draft and its symbols;
* ``DraftWork``: drafts one batch with ``many.draft_batch`` on the base model the worker loaded
  (once per worker process, by the backend) and returns its records. A writer model other than
  the base is loaded from its folder once per worker process and run (kept in the site's memo);
* ``BatchMembers``: the batches in order, nothing shared between them, no events of their own;
* ``on_backend``: ``many_store.drive``'s ``draft_batches`` on a connected backend: as many batches
  in flight as it has room for, each one's records handed to the driver, which writes them in the
  selection's order. A batch whose worker dies twice ends the run with its reason; what was written
  stays, and ``--resume`` continues.

The work is pure as ``draft_batch`` is (no file is read or written but the models' own), so a
batch drafted on a worker gives the records it gives in the driver's process.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from core.authoring.draft import DraftConfig
from core.authoring.many import ManyConfig, draft_batch
from core.spec.errors import fail


@dataclass(frozen=True)
class BatchTask:
    """The ``index``-th batch still to draft, and its symbols (in order)."""

    index: int
    symbols: tuple


@dataclass
class BatchOutcome:
    """A drafted batch: one record per symbol, as ``draft_batch`` returns them."""

    task: BatchTask
    records: list[dict]
    stopped: bool = False  # the loop asks every outcome; a batch is never stopped part way


@dataclass(frozen=True)
class DraftWork:
    """One batch drafted where it runs (see the module docstring); everything but the models."""

    glosses: dict
    draft_config: DraftConfig
    config: ManyConfig
    seed: int
    model_name: str = ""
    writer_folder: str | None = None  # None: the base writes

    def __call__(self, task: BatchTask, base, site) -> BatchOutcome:
        writer = self.writer(site.memo) if self.writer_folder else base
        records = draft_batch(list(task.symbols), self.glosses, base.model, base.tokenizer, self.draft_config,
                              self.config, seed=self.seed, writer=writer.model, writer_tokenizer=writer.tokenizer,
                              model_name=self.model_name)
        return BatchOutcome(task, records)

    def writer(self, memo: dict):
        """The writer model in this worker process, loaded from its folder the first time."""
        from core.model.loading import load_model

        if memo.get("writer_folder") != self.writer_folder:
            if not Path(self.writer_folder).is_dir():
                raise fail("--writer", f"the worker on {socket.gethostname()} cannot read the writer model at "
                           f"{self.writer_folder}", "load the writer from a folder every node mounts, or draft "
                           "with --backend local")
            memo.update(writer=load_model(self.writer_folder), writer_folder=self.writer_folder)
        return memo["writer"]


@dataclass
class BatchMembers:
    """The batches for a backend's loop: in order, nothing shared, no events of their own."""

    tasks: list
    work: DraftWork

    def next_task(self, pending: list, running: list) -> BatchTask:
        return pending[0]

    def shared(self, task: BatchTask) -> None:
        return None

    def merge(self, task: BatchTask, shared: Any) -> None:
        return None

    def tags(self, task: BatchTask) -> dict:
        return {"batch": task.index}

    def title(self, task: BatchTask) -> str:
        return _title(task)

    def start_message(self, task: BatchTask, total: int) -> str | None:
        return None


def _title(task: BatchTask) -> str:
    return f"the batch of symbols {', '.join(str(s.bci_av_id) for s in task.symbols)}"


def on_backend(backend, base, work: DraftWork) -> Callable[[list[list], Callable[[int, list[dict]], None]], None]:
    """``draft_batches(jobs, deliver)`` for ``many_store.drive``: every batch a member of
    ``backend`` (connected), each one's records delivered as it finishes."""
    def failed(task: BatchTask, reason: str) -> None:
        raise RuntimeError(f"{_title(task)} failed on {backend.label}: {reason}. The symbols "
                           "written so far stay; run the same command with --resume to continue")

    def draft_batches(jobs: list[list], deliver: Callable[[int, list[dict]], None]) -> None:
        members = BatchMembers([BatchTask(i, tuple(symbols)) for i, symbols in enumerate(jobs)], work)
        backend.run(members, base, on_outcome=lambda outcome: deliver(outcome.task.index, outcome.records),
                    on_failure=failed)

    return draft_batches


__all__ = ["BatchMembers", "BatchOutcome", "BatchTask", "DraftWork", "on_backend"]
