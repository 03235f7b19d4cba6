"""The one channel from a running job to whoever watches it: an append-only, thread-safe event log.

A job appends plain dicts (``{"type": "step", "step": 3, "loss": …}``); the UI, the CLI and tests read
them back with ``since(n)``, so a page that reloads simply reads from 0 again. Each event is also
written as one JSON line to the run's ``events.jsonl`` and flushed at once, so a process that dies
keeps every event up to the kill; ``read_jsonl`` skips a last line that was cut in half.

``StepRecorder`` is the ``transformers.TrainerCallback`` that writes training steps into such a log
(and honours a stop); it imports transformers and torch only when a training builds one.

Pure Python at import on purpose: the web UI may import this module without pulling in torch.
"""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from core.jsonsafe import jsonable


class StopRequested(Exception):
    """Raised by a job that was asked to stop before it had anything worth keeping."""


class EventLog:
    """Append-only list of events guarded by a lock, mirrored line by line to a JSON-lines file.

    ``tags`` are merged into every event (e.g. ``{"strategy": "average", "seed": 0}`` so a chart
    can overlay the curves of a comparison); ``listeners`` are called with each stored event, in
    the appending thread, after the lock is released (a failing listener is ignored).
    """

    def __init__(self, path: str | Path | None = None, tags: dict | None = None) -> None:
        self._events: list[dict] = []
        self._lock = threading.Lock()
        self._path = Path(path) if path is not None else None
        self._file = None
        self._tags = dict(tags or {})
        self._listeners: list[Callable[[dict], None]] = []
        self._t0 = time.time()
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # Append: a log reopened after a restart keeps what was there, and its numbering goes on.
            self._events = read_jsonl(self._path)
            torn = self._path.is_file() and self._path.stat().st_size > 0 and not self._path.read_bytes().endswith(b"\n")
            self._file = open(self._path, "a", encoding="utf-8")
            if torn:  # a line cut off by a crash stays alone on its line, skipped by every reader
                self._file.write("\n")

    def append(self, event: dict | None = None, **fields: Any) -> dict:
        """Store one event (a dict and/or keyword fields); returns it with ``seq`` and ``time`` added."""
        data = dict(self._tags)
        data.update(event or {})
        data.update(fields)
        data.setdefault("type", "message")
        data = jsonable(data)
        with self._lock:
            data["seq"] = len(self._events)
            data.setdefault("time", round(time.time(), 3))
            self._events.append(data)
            if self._file is not None:
                self._file.write(json.dumps(data, ensure_ascii=False) + "\n")
                self._file.flush()
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(data)
            except Exception:  # a watcher must never break the job it watches
                pass
        return data

    def tagged(self, **tags: Any) -> Callable[..., dict]:
        """An ``append`` that adds ``tags`` to every event (one member of a comparison, say)."""

        def emit(event: dict | None = None, **fields: Any) -> dict:
            return self.append({**tags, **(event or {})}, **fields)

        return emit

    def add_listener(self, listener: Callable[[dict], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def since(self, seq: int = 0, type: str | None = None) -> list[dict]:
        """Events from index ``seq`` on (copies of the list, the dicts are never changed)."""
        with self._lock:
            items = self._events[max(0, int(seq)):]
        return [e for e in items if type is None or e.get("type") == type]

    def last(self, type: str | None = None) -> dict | None:
        with self._lock:
            for event in reversed(self._events):
                if type is None or event.get("type") == type:
                    return event
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_jsonl(path: str | Path) -> list[dict]:
    """Every complete JSON object in a JSON-lines file; a torn or garbled line is skipped."""
    p = Path(path)
    if not p.is_file():
        return []
    events: list[dict] = []
    with open(p, "r", encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # the last line was cut off by a kill: it was never complete
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(item, dict):
                events.append(item)
    return events


class StepRecorder:
    """A ``TrainerCallback``: one event per optimizer step, cooperative stop, best-state capture.

    ``Trainer`` logs the training loss of a step, then (on evaluation steps) the validation loss;
    the two are merged into one ``{"type": "step", step, epoch, loss, eval_loss, learning_rate,
    grad_norm, elapsed, eta, max_steps}`` event. Step 0 is the evaluation before any training.
    """

    def __init__(self, emit: Callable[[dict], Any] | None, should_stop: Callable[[], bool] | None,
                 steps_per_epoch: int, extra_validation: Callable[[Any], dict] | None = None) -> None:
        from transformers import TrainerCallback

        # Subclassing at run time keeps transformers out of this module's import.
        self.callback = type("GlossLabSteps", (TrainerCallback,), {
            "on_train_begin": self._on_train_begin, "on_step_end": self._on_step_end, "on_log": self._on_log,
        })()
        self.emit = emit or (lambda event: None)
        self.should_stop = should_stop or (lambda: False)
        self.steps_per_epoch = steps_per_epoch
        # Called with the model at every evaluation; its dict joins that step's event (e.g. the
        # validation loss of each symbol of a vocabulary).
        self.extra_validation = extra_validation
        self.history: list[dict] = []
        self.best_loss = math.inf
        self.best_step = 0
        self.best_state: dict | None = None  # parameter name -> tensor
        self.stopped = False
        self.t0 = time.perf_counter()
        self.train_seconds = 0.0
        self.max_steps = 0
        self._pending: dict | None = None
        self._eval_due = False

    def _on_train_begin(self, args, state, control, **kw):
        # A resumed training goes on counting from the time it had (``core.train.checkpoint``).
        self.t0 = time.perf_counter() - self.train_seconds
        self.max_steps = state.max_steps

    def _on_step_end(self, args, state, control, **kw):
        if self.should_stop():
            self.stopped = True
            control.should_training_stop = True
            control.should_evaluate = True  # the last step gets a validation loss too
        self._eval_due = bool(control.should_evaluate)

    def _event(self, step: int, **values) -> dict:
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / step * (self.max_steps - step) if step else None
        return {"type": "step", "step": step, "epoch": round(step / self.steps_per_epoch, 4),
                "max_steps": self.max_steps, "loss": None, "eval_loss": None, "learning_rate": None,
                "grad_norm": None, "elapsed": round(elapsed, 3), "eta": None if eta is None else round(eta, 3),
                **values}

    def _on_log(self, args, state, control, logs=None, model=None, **kw):
        logs = logs or {}
        step = state.global_step
        if "loss" in logs:
            self._pending = self._event(step, loss=float(logs["loss"]), learning_rate=logs.get("learning_rate"),
                                        grad_norm=logs.get("grad_norm"))
            if not self._eval_due:
                self._record(self._pending)
                self._pending = None
        elif "eval_loss" in logs:
            event = self._pending if self._pending and self._pending["step"] == step else self._event(step)
            self._pending = None
            loss = float(logs["eval_loss"])
            event["eval_loss"] = loss
            if loss < self.best_loss and model is not None:
                self.best_loss, self.best_step = loss, step
                self.best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
            event["best_step"] = self.best_step
            if self.extra_validation is not None and model is not None:
                event.update(self.extra_validation(model))
            self._record(event)

    def _record(self, event: dict) -> None:
        self.train_seconds = time.perf_counter() - self.t0
        self.history.append(event)
        self.emit(event)

    def restore(self, model) -> bool:
        """Put the best evaluation's trainable parameters back into ``model``."""
        import torch

        if self.best_state is None:
            return False
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name in self.best_state:
                    param.copy_(self.best_state[name])
        return True


def step_events(events: Iterable[dict]) -> list[dict]:
    """Only the training-step events (what a loss chart draws), as the run has them now: a resumed
    run does again the steps after its checkpoint, so a ``{"type": "resume", "step": N}`` event
    drops the earlier events of the steps after N, except those of the members it ``keep``s (a
    comparison's finished members: a list of their tags, e.g. ``{"strategy", "seed", "symbol"}``)."""
    out: list[dict] = []
    for event in events:
        if event.get("type") == "step":
            out.append(event)
        elif event.get("type") == "resume":
            out = [e for e in out if not _superseded(e, event)]
    return out


def _superseded(step: dict, resume: dict) -> bool:
    if not isinstance(step.get("step"), (int, float)) or step["step"] <= resume.get("step", -1):
        return False
    return not any(all(step.get(k) == v for k, v in tags.items()) for tags in resume.get("keep") or [])


def evaluations(history: Iterable[dict], key: str = "eval_loss") -> list[dict]:
    """The step events of a run that carry ``key`` (an evaluation's), in order."""
    return [e for e in history if e.get(key) is not None]


def best_evaluation(history: Iterable[dict], best_step: int | None, key: str = "eval_loss") -> dict:
    """The evaluation event (one with ``key``) at the run's best step; the last evaluation when the
    best step has none (a run stopped before evaluating it); {} without any evaluation."""
    found = evaluations(history, key)
    at_best = [e for e in found if e.get("step") == best_step]
    return (at_best or found[-1:] or [{}])[0]


def stage_events(emit: Callable[[dict], Any], should_stop: Callable[[], bool] | None = None) -> Callable[[dict], None]:
    """An initialization's progress (``{"stage": …}``) as job-log events: an ``optimize`` epoch as
    ``{"type": "init_epoch", …}``, every other stage as ``{"type": "phase", "phase": "init:<stage>"}``.
    With ``should_stop``, a stop asked for ends the initialization at its next event by raising
    ``StopRequested`` through it (an optimization epoch of the ``optimized`` strategy, say)."""

    def on_event(event: dict) -> None:
        stage = event.get("stage")
        if stage == "optimize":
            emit({"type": "init_epoch", **{k: v for k, v in event.items() if k != "stage"}})
        else:
            message = event.get("message", "")
            if stage in ("rank", "generate"):  # the initialization's own evaluation, before fine-tuning
                message = f"Evaluating before fine-tuning: {message[:1].lower()}{message[1:]}"
            emit({"type": "phase", "phase": f"init:{stage}", "message": message,
                  **({"fraction": event["fraction"]} if "fraction" in event else {})})
        if should_stop is not None and should_stop():
            raise StopRequested()

    return on_event
