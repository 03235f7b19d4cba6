"""Checkpoints of a fine-tuning, so that a run killed mid-training continues where it was.

Every ``checkpoint_steps`` optimizer steps or ``checkpoint_minutes`` minutes, whichever comes
first, the Trainer's own checkpoint is written (``Trainer._save_checkpoint``: the trainable
weights, i.e. LoRA and the tokens' rows, the optimizer and the scheduler, every random generator,
the ``TrainerState`` with early stopping's counter) and then published in one rename: the
``CheckpointSaver`` callback sets ``control.should_save`` at the interval, the Trainer writes into a
hidden scratch folder beside the run's ``checkpoint/``, and ``on_save`` moves those files with the
step recorder's state (the step events so far, the best validation loss and step, the best step's
trainable weights) and a manifest into a temporary folder that replaces ``checkpoint/`` in one
rename (``core.atomic``). A kill at any moment leaves the previous checkpoint or the new one,
never half of one. The Trainer's own ``save_strategy`` is not used: its checkpoint folders are
written in place (a kill mid-write leaves a partial ``checkpoint-N`` that ``resume_from_checkpoint``
would take), and it has no time interval.

Resuming is the Trainer's ``train(resume_from_checkpoint=...)`` (it restores the weights, the
optimizer, the schedule and the random generators, and skips the batches already seen), after the
step recorder is given back its state. The manifest names the run it belongs to (``identity``: run
id and a fingerprint of its spec and settings) and every file's size and SHA-256, so a checkpoint
from another run, or one that was damaged, is refused (``InputError`` on ``checkpoint``) before
anything is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import atomic
from core.spec import limits, settings
from core.spec.errors import fail
from core.spec.settings import setting

MANIFEST = "glosslab-checkpoint.json"
BEST_STATE = "best-state.safetensors"
RECORDER_FIELDS = ("history", "best_loss", "best_step", "train_seconds")


@dataclass
class CheckpointConfig(settings.Config):
    """How often a vocabulary's fine-tuning writes the checkpoint that ``runs resume`` continues from."""

    WHAT = "checkpoint settings"

    checkpoint_steps: int = setting(50, label="Checkpoint every N steps", range=limits.CHECKPOINT_STEPS,
                                    advanced=True,
                                    help="Write the trainable state (LoRA, the tokens' rows, optimizer, schedule, "
                                         "random generators) every N optimizer steps, so that a killed run "
                                         "resumes from there (0 = by time only).")
    checkpoint_minutes: float = setting(10.0, label="… or every T minutes", range=limits.CHECKPOINT_MINUTES,
                                        advanced=True,
                                        help="Also write it when T minutes have passed since the last one, "
                                             "whichever comes first (0 = by steps only; both 0 = no checkpoints).")

    @property
    def enabled(self) -> bool:
        return bool(self.checkpoint_steps or self.checkpoint_minutes)


@dataclass
class Checkpoints:
    """Where a fine-tuning keeps its checkpoint, how often, whose it is, and whether to resume from it."""

    folder: Path
    config: CheckpointConfig = field(default_factory=CheckpointConfig)
    identity: dict = field(default_factory=dict)  # {"run_id", "fingerprint"}: checked on resume
    resume: bool = False

    def scratch(self) -> Path:
        """A hidden folder beside ``folder`` for the Trainer's output (same disk: files move by rename;
        hidden ``.*.tmp-*``: the run store removes it if the process is killed)."""
        path = self.folder.parent / f".trainer.tmp-{secrets.token_hex(4)}"
        path.mkdir(parents=True)
        return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _recorder_state(recorder) -> dict:
    return {name: getattr(recorder, name) for name in RECORDER_FIELDS}


def publish(source: Path, checkpoints: Checkpoints, recorder, step: int) -> Path:
    """Move the Trainer's checkpoint ``source`` and the recorder's state into ``checkpoints.folder`` in one
    rename (the previous checkpoint is replaced only once the new one is complete)."""
    from safetensors.torch import save_file

    with atomic.folder(checkpoints.folder) as tmp:
        for item in source.iterdir():
            os.replace(item, tmp / item.name)
        if recorder.best_state:
            save_file({k: v.detach().cpu().contiguous() for k, v in recorder.best_state.items()}, tmp / BEST_STATE)
        files = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(tmp.iterdir())
                 if p.is_file()}
        manifest = {"identity": checkpoints.identity, "step": step, "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "recorder": _recorder_state(recorder), "files": files}
        atomic.write_text(tmp / MANIFEST, json.dumps(manifest, allow_nan=True))
    shutil.rmtree(source, ignore_errors=True)
    return checkpoints.folder


def saver(checkpoints: Checkpoints, recorder):
    """A ``TrainerCallback`` that asks for a save at the interval and publishes each save (``publish``)."""
    from transformers import TrainerCallback

    config = checkpoints.config
    last = {"at": time.monotonic()}

    def on_train_begin(_callback, args, state, control, **kw):
        last["at"] = time.monotonic()

    def on_step_end(_callback, args, state, control, **kw):
        by_steps = config.checkpoint_steps and state.global_step % config.checkpoint_steps == 0
        by_time = config.checkpoint_minutes and time.monotonic() - last["at"] >= config.checkpoint_minutes * 60
        if by_steps or by_time:
            control.should_save = True

    def on_save(_callback, args, state, control, **kw):
        publish(Path(args.output_dir) / f"checkpoint-{state.global_step}", checkpoints, recorder, state.global_step)
        last["at"] = time.monotonic()

    return type("GlossLabCheckpoints", (TrainerCallback,), {
        "on_train_begin": on_train_begin, "on_step_end": on_step_end, "on_save": on_save})()


def _corrupt(folder: Path, what: str):
    return fail("checkpoint", f"{folder} is damaged: {what}",
                "delete that folder and start the run again (nothing else of the run is changed)")


def inspect(folder: Path, identity: dict) -> dict:
    """The manifest of the checkpoint in ``folder``, after checking that it is complete, undamaged
    (every file's size and SHA-256) and this run's (``identity``); else ``InputError`` on ``checkpoint``."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise fail("checkpoint", f"there is no checkpoint in {folder}",
                   "the run ended before its first checkpoint: start it again")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files, step = manifest["files"], int(manifest["step"])
        recorder = manifest["recorder"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _corrupt(folder, f"its manifest cannot be read ({type(exc).__name__})") from None
    if not isinstance(files, dict) or not isinstance(recorder, dict) or "trainer_state.json" not in files:
        raise _corrupt(folder, "its manifest lists no trainer state")
    for name, meta in files.items():
        path = folder / name
        if not path.is_file():
            raise _corrupt(folder, f"{name} is missing")
        if path.stat().st_size != meta.get("bytes") or _sha256(path) != meta.get("sha256"):
            raise _corrupt(folder, f"{name} is not the file that was written")
    mine = manifest.get("identity") or {}
    if mine.get("run_id") != identity.get("run_id"):
        raise fail("checkpoint", f"{folder} belongs to run {mine.get('run_id')!r}, not {identity.get('run_id')!r}",
                   "resume that run instead, or delete the folder and start this run again")
    if mine.get("fingerprint") != identity.get("fingerprint"):
        raise fail("checkpoint", f"{folder} was written with other settings or data than run "
                   f"{identity.get('run_id')!r} has now", "delete the folder and start the run again")
    return {**manifest, "step": step}


def restore_recorder(recorder, checkpoints: Checkpoints) -> dict:
    """Check the checkpoint (``inspect``), then give the step recorder back what it had there (events,
    best step, best weights, time); returns the checkpoint's manifest."""
    from safetensors.torch import load_file

    manifest = inspect(checkpoints.folder, checkpoints.identity)
    for name in RECORDER_FIELDS:
        setattr(recorder, name, manifest["recorder"][name])
    best = checkpoints.folder / BEST_STATE
    recorder.best_state = load_file(best) if best.is_file() else None
    return manifest


def describe(manifest: dict) -> dict[str, Any]:
    """What a checkpoint holds, in a few numbers (for messages and ``runs show``)."""
    return {"step": manifest["step"], "saved": manifest.get("saved"),
            "bytes": sum(int(m.get("bytes", 0)) for m in manifest.get("files", {}).values())}
