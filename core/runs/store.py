"""The run store: one folder per job under ``runs/`` (or $GLOSSLAB_RUNS, or a folder you choose).

    runs/<run_id>/
        spec.json      the gloss spec as the job saw it
        config.json    every setting (strategy, fine-tuning hyperparameters, model name)
        status.json    queued | running | stopping | done | stopped | failed | interrupted, owner, times
        events.jsonl   one JSON line per event (training steps, phases), flushed as it goes
        result.json    what the job produced (losses, cosines, ranks, generations)
        adapter/       the trained PEFT adapter with the token rows, and the tokenizer with the token
        adapters/<m>/  one adapter per member of a comparison
        members/<m>.json  each finished member of a comparison (what a resumed comparison keeps)
        checkpoint/    a vocabulary fine-tuning's last checkpoint (removed once the run is done)

Safety: every JSON file is written to a temporary file and renamed into place, a run folder is
built under a temporary name and renamed when complete, and an adapter folder is saved beside its
final place and renamed; a reader never sees half a file. Run ids are checked against a strict
pattern and their resolved path must stay inside the root, so ``../x`` or ``/etc`` is refused.

A run whose status says it is active but whose owning process is gone (same pid and start time,
same boot) was killed: it is reported, and recorded, as ``interrupted``, its events kept up to the
kill, its leftover temporary files removed. No other run is touched. ``reopen`` queues an
interrupted run again in its own folder (``python -m core runs resume``); a vocabulary's
fine-tuning keeps its last checkpoint in ``checkpoint/`` and a comparison each finished member in
``members/`` for it (``core.runs.resume``).

Pure Python on purpose: the web UI may import this module without pulling in torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

from core import atomic
from core.jsonsafe import jsonable
from core.spec.errors import fail
from core.train.events import read_jsonl

RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ACTIVE = ("queued", "running", "stopping")
FINISHED = ("done", "stopped", "failed", "interrupted")
STATUSES = ACTIVE + FINISHED
FILES = ("spec.json", "config.json", "status.json", "events.jsonl", "result.json")
CHECKPOINT = "checkpoint"  # a vocabulary fine-tuning's last checkpoint (core.train.checkpoint)
MEMBERS = "members"        # a comparison's finished members, one JSON file each

_status_lock = threading.Lock()


def default_root() -> Path:
    return Path(os.environ.get("GLOSSLAB_RUNS") or "runs")


# -- who owns a run -------------------------------------------------------------------------------
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or ""."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    rest = stat[stat.rfind(")") + 2:].split()
    return rest[19] if len(rest) > 19 else ""


def current_owner() -> dict:
    pid = os.getpid()
    return {"pid": pid, "start_time": _start_time(pid), "boot_id": _boot_id(), "host": socket.gethostname()}


def owner_alive(owner: dict | None) -> bool:
    """Is the process that wrote ``owner`` still running? (pid reuse is caught by the start time)."""
    if not isinstance(owner, dict) or not isinstance(owner.get("pid"), int):
        return False
    if owner.get("host") and owner["host"] != socket.gethostname():
        return True  # another machine sharing the folder: we cannot tell, so we leave it alone
    if owner.get("boot_id") and owner["boot_id"] != _boot_id():
        return False
    pid = owner["pid"]
    if pid == os.getpid():
        return owner.get("start_time", "") == _start_time(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    recorded = owner.get("start_time", "")
    return not recorded or recorded == _start_time(pid)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class RunStore:
    """Runs on disk. Thread-safe for one process; several processes may share a root."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()

    # -- ids and paths ----------------------------------------------------------------------------
    @staticmethod
    def new_run_id(kind: str = "run") -> str:
        """Timestamp (sortable) + kind + random suffix, e.g. 20261128-204512-finetune-3f9a1c."""
        kind = re.sub(r"[^A-Za-z0-9]", "", kind)[:16] or "run"
        return f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(3)}"

    def path(self, run_id: Any) -> Path:
        """The folder of ``run_id`` (which need not exist); refuses anything that could leave the root."""
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise fail("run_id", f"{str(run_id)[:80]!r} is not a valid run id",
                       "use the id shown in the run list (letters, digits, '-' and '_', at most 64)")
        p = (self.root / run_id).resolve()
        if p.parent != self.root:
            raise fail("run_id", f"{run_id!r} points outside the run store", "use an id from the run list")
        return p

    def existing(self, run_id: Any) -> Path:
        p = self.path(run_id)
        if not (p / "status.json").is_file():
            raise fail("run_id", f"no run {run_id!r} in {self.root}", "choose a run from the run list")
        return p

    def exists(self, run_id: Any) -> bool:
        try:
            self.existing(run_id)
        except ValueError:
            return False
        return True

    # -- writing -----------------------------------------------------------------------------------
    def create(self, kind: str, spec: dict, config: dict, *, title: str = "", run_id: str | None = None,
               status: str = "queued") -> str:
        """A new run folder holding spec, config and status, made visible only once complete."""
        run_id = run_id or self.new_run_id(kind)
        final = self.path(run_id)
        if final.exists():
            raise fail("run_id", f"a run {run_id!r} exists already", "leave the id empty to get a new one")
        with atomic.folder(final, replace=False) as tmp:
            _write_json(tmp / "spec.json", spec)
            _write_json(tmp / "config.json", config)
            _write_json(tmp / "status.json", {
                "run_id": run_id, "kind": kind, "title": title, "status": status, "created": _now(),
                "started": None, "finished": None, "error": None, "owner": current_owner(),
            })
        return run_id

    def write_json(self, run_id: str, name: str, data: Any) -> Path:
        if name not in FILES or name == "events.jsonl":
            raise ValueError(f"unknown run file {name!r}")
        return _write_json(self.existing(run_id) / name, data)

    def set_status(self, run_id: str, status: str, **fields: Any) -> dict:
        """Update status.json (atomically); ``running`` records this process as the owner."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        folder = self.existing(run_id)
        with _status_lock:
            data = _read_json(folder / "status.json") or {"run_id": run_id}
            data.update(fields)
            data["status"] = status
            data["updated"] = _now()
            if status == "running" and not data.get("started"):
                data["started"] = _now()
            if status in ACTIVE:
                data["owner"] = current_owner()
            if status in FINISHED and not data.get("finished"):
                data["finished"] = _now()
            _write_json(folder / "status.json", data)
        return data

    def reopen(self, run_id: str) -> dict:
        """Queue an interrupted (or stopped) run again in its own folder (``core.runs.resume`` decides
        which kinds may): its status becomes ``queued`` with this process as owner, its events and
        files stay; ``resumed`` counts how often."""
        folder = self.existing(run_id)
        current = self.status(run_id)  # an active run whose owner died is turned into interrupted here
        with _status_lock:
            data = _read_json(folder / "status.json") or current
            if data.get("status") not in ("interrupted", "stopped"):
                raise fail("run_id", f"run {run_id!r} is {data.get('status')}, not interrupted",
                           "only a run whose process was killed can be resumed")
            data.update(status="queued", finished=None, error=None, updated=_now(), owner=current_owner(),
                        resumed=int(data.get("resumed") or 0) + 1)
            _write_json(folder / "status.json", data)
        return data

    def events_path(self, run_id: str) -> Path:
        return self.existing(run_id) / "events.jsonl"

    def adapter_path(self, run_id: str, member: str | None = None) -> Path:
        """Where a run's adapter lives: ``adapter/``, or ``adapters/<member>/`` in a comparison."""
        folder = self.existing(run_id)
        if member is None:
            return folder / "adapter"
        if not RUN_ID.match(member):
            raise fail("member", f"{member!r} is not a valid member name", "use a name from the comparison's rows")
        return folder / "adapters" / member

    def save_folder(self, run_id: str, writer, member: str | None = None) -> Path:
        """Write a folder (``writer(tmp_path)``) beside its place in the run, then rename it into place."""
        final = self.adapter_path(run_id, member)
        with atomic.folder(final) as tmp:
            writer(tmp)
        return final

    # -- what a resumed run continues from (core.runs.resume) ------------------------------------------
    def checkpoint_path(self, run_id: str) -> Path:
        return self.existing(run_id) / CHECKPOINT

    def drop_checkpoint(self, run_id: str) -> None:
        """Remove a finished run's checkpoint (renamed away first): only an interrupted run resumes."""
        folder = self.checkpoint_path(run_id)
        if folder.is_dir():
            trash = folder.parent / f".{CHECKPOINT}.tmp-done-{secrets.token_hex(3)}"
            os.rename(folder, trash)
            shutil.rmtree(trash, ignore_errors=True)

    def fingerprint(self, run_id: str) -> str:
        """A hash of the run's spec and settings as stored: what its checkpoint must have been written with."""
        data = json.dumps([self.spec(run_id), self.config(run_id)], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()

    def save_member(self, run_id: str, name: str, data: dict) -> Path:
        """Keep one finished member of a comparison (``members/<name>.json``, written atomically)."""
        if not RUN_ID.match(name):
            raise fail("member", f"{name!r} is not a valid member name", "use a name from the comparison's rows")
        return _write_json(self.existing(run_id) / MEMBERS / f"{name}.json", data)

    def members(self, run_id: str) -> dict[str, dict]:
        """The finished members kept so far, by name (a file that cannot be read counts as not finished)."""
        folder = self.existing(run_id) / MEMBERS
        found = {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            data = _read_json(path)
            if isinstance(data, dict) and RUN_ID.match(path.stem):
                found[path.stem] = data
        return found

    def delete(self, run_id: str) -> None:
        """Remove a finished run (renamed away first, so a reader never sees half a folder)."""
        folder = self.existing(run_id)
        status = self.status(run_id)
        if status.get("status") in ACTIVE:
            raise fail("run_id", f"run {run_id!r} is still {status['status']}", "stop it first, then delete it")
        trash = self.root / f".{run_id}.deleted-{secrets.token_hex(3)}"
        os.rename(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)

    # -- reading -----------------------------------------------------------------------------------
    def status(self, run_id: str) -> dict:
        """status.json, with an active run whose owner died turned into ``interrupted`` (and recorded)."""
        folder = self.existing(run_id)
        data = _read_json(folder / "status.json") or {"run_id": run_id, "status": "failed",
                                                      "error": "status.json could not be read"}
        if data.get("status") in ACTIVE and not owner_alive(data.get("owner")):
            data = self._mark_interrupted(run_id, folder, data)
        data.setdefault("run_id", run_id)
        return data

    def _mark_interrupted(self, run_id: str, folder: Path, data: dict) -> dict:
        with _status_lock:
            current = _read_json(folder / "status.json") or data
            if current.get("status") not in ACTIVE or owner_alive(current.get("owner")):
                return current
            was = current.get("status")
            current.update(status="interrupted", finished=_now(), updated=_now(),
                           error=f"the process running this job ended while it was {was}")
            # Leftovers of writes the kill cut short: temporary files and folders inside this run,
            # and an event line cut in half (readers skip it; here it is removed for good).
            _drop_torn_line(folder / "events.jsonl")
            for leftover in [*folder.glob(".*.tmp*"), *folder.glob("adapters/.*.tmp*"),
                             *folder.glob(f"{MEMBERS}/.*.tmp*")]:
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
            for parent in (folder, folder / "adapters"):
                _put_back_replaced(parent)
            _write_json(folder / "status.json", current)
        return current

    def spec(self, run_id: str) -> dict | None:
        return _read_json(self.existing(run_id) / "spec.json")

    def config(self, run_id: str) -> dict | None:
        return _read_json(self.existing(run_id) / "config.json")

    def result(self, run_id: str) -> dict | None:
        return _read_json(self.existing(run_id) / "result.json")

    def events(self, run_id: str) -> list[dict]:
        """Every complete event line (a torn last line from a kill is skipped)."""
        return read_jsonl(self.existing(run_id) / "events.jsonl")

    def open(self, run_id: str) -> dict:
        """Everything about one run, for a page that shows it as it was."""
        folder = self.existing(run_id)
        return {
            "run_id": run_id,
            "status": self.status(run_id),
            "spec": self.spec(run_id),
            "config": self.config(run_id),
            "result": self.result(run_id),
            "events": self.events(run_id),
            "adapters": self.adapters(run_id),
            "path": str(folder),
        }

    def adapters(self, run_id: str) -> list[str]:
        """Saved adapters: ``""`` for the run's own, member names for a comparison's."""
        folder = self.existing(run_id)
        names = [""] if (folder / "adapter" / "adapter_config.json").is_file() else []
        members = folder / "adapters"
        if members.is_dir():
            names += sorted(p.name for p in members.iterdir()
                            if RUN_ID.match(p.name) and (p / "adapter_config.json").is_file())
        return names

    def list(self) -> list[dict]:
        """Every run (newest first) as its status, plus whether it has a result; unreadable ones skipped."""
        rows = []
        for p in self.root.iterdir():
            if not p.is_dir() or not RUN_ID.match(p.name) or not (p / "status.json").is_file():
                continue
            try:
                status = self.status(p.name)
            except ValueError:
                continue
            status["has_result"] = (p / "result.json").is_file()
            rows.append(status)
        rows.sort(key=lambda s: (str(s.get("created") or ""), s["run_id"]), reverse=True)
        return rows


def _put_back_replaced(parent: Path) -> None:
    """Undo half a folder replacement (``core.atomic.replace_dir`` killed between its two renames): an
    old copy ``.<name>.old-*`` whose ``<name>`` is gone is put back (the new one, a ``.tmp`` leftover,
    was incomplete or is removed); one whose ``<name>`` is there is removed."""
    for old in sorted(parent.glob(".*.old-*")) if parent.is_dir() else []:
        name = old.name[1:].rsplit(".old-", 1)[0]
        if not (parent / name).exists() and old.is_dir():
            os.rename(old, parent / name)
        elif old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def _drop_torn_line(path: Path) -> None:
    """Cut a JSON-lines file back to its last complete line."""
    try:
        with open(path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    except OSError:
        pass


def _write_json(path: Path, data: Any) -> Path:
    return atomic.write_text(path, json.dumps(jsonable(data), ensure_ascii=False, indent=2, allow_nan=False,
                                              default=str) + "\n")
