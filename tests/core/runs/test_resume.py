"""Resuming interrupted runs: a vocabulary fine-tuning killed with SIGKILL after a checkpoint, and a
comparison killed after its first member, each resumed with ``runs resume`` in a fresh process, end
as the same run never interrupted; what cannot be resumed is refused naming the field, and nothing
the run wrote changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from core.runs.store import RunStore
from core.runs.resume import check_resume, resume_run
from core.spec.errors import InputError
from core.train import checkpoint as ckpt
from core.train.events import read_jsonl
from tests.conftest import tiny_spec_dict
from tests.core.experiment.vocab_fixtures import three_dicts
from tests.reliability import figure

ROOT = Path(__file__).resolve().parents[3]
TIME_KEYS = {"seconds", "train_seconds", "time_per_epoch_s", "elapsed", "eta", "time", "optimization_seconds",
             "init_seconds", "timings", "saved_to", "seq"}


def _command(*args) -> list[str]:
    return [sys.executable, "-m", "core", *map(str, args)]


def _cli(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(_command(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# The child runs the command line with one change: after each event it writes, it asks CRASH (given
# the run's folder and the event) whether this is the moment, and if so SIGKILLs itself there. A
# kill at an exact event, however fast the machine, where a watcher polling from outside could
# see the run end first.
_CRASH_WHEN = """
import json, os, signal, sys
from pathlib import Path
from core.cli.main import main
from core.train.events import EventLog

{crash}

_append = EventLog.append


def append(self, event=None, **fields):
    data = _append(self, event, **fields)
    if self._path is not None and self._path.name == "events.jsonl" and CRASH(self._path.parent, data):
        os.kill(os.getpid(), signal.SIGKILL)
    return data


EventLog.append = append
sys.exit(main(sys.argv[1:]))
"""


def _kill_when(args: list, runs: Path, crash: str) -> str:
    """Run ``python -m core ARGS`` until ``CRASH(run_folder, event)`` (defined in ``crash``) holds after
    an event, SIGKILLed there by itself; the run's id."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    victim = subprocess.run([sys.executable, "-c", _CRASH_WHEN.format(crash=crash), *map(str, args)], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert victim.returncode == -signal.SIGKILL, f"the run never got there (exit code {victim.returncode}): " \
                                                 f"{victim.stderr[-2000:]}"
    folders = [f for f in runs.iterdir() if f.is_dir()]
    assert len(folders) == 1, folders
    return folders[0].name


def _steps(folder: Path) -> list[int]:
    return [e["step"] for e in read_jsonl(folder / "events.jsonl") if e.get("type") == "step"]


def _timed(key: str) -> bool:
    return key in TIME_KEYS or any(key.startswith(k + "_") for k in TIME_KEYS if k.endswith(("seconds", "_s")))


def _without_times(value):
    """Everything but how long things took (and derived numbers: ``init_seconds_mean``, say)."""
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if not _timed(k)}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def _assert_same_adapter(a: Path, b: Path) -> None:
    ta, tb = load_file(a / "adapter_model.safetensors"), load_file(b / "adapter_model.safetensors")
    assert ta.keys() == tb.keys()
    for key in ta:
        assert (ta[key] - tb[key]).abs().max() <= 1e-6, key


def test_a_vocabulary_fine_tuning_killed_after_a_checkpoint_resumes_to_the_same_result(tmp_path):
    vocab = tmp_path / "v.jsonl"
    vocab.write_text("".join(json.dumps(d) + "\n" for d in three_dicts()), encoding="utf-8")
    args = ["vocab", "finetune", vocab, "--model", "tiny-random", "--epochs", "3", "--batch-size", "30",
            "--grad-accum", "1", "--checkpoint-steps", "3", "--max-new-tokens", "2", "--no-progress", "--json"]
    whole = _cli(*args, "--runs", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-2000:]
    expected = json.loads(whole.stdout)
    runs = tmp_path / "runs"

    past_a_checkpoint = f"""
def CRASH(folder, event):
    manifest = folder / "checkpoint" / {ckpt.MANIFEST!r}
    return event.get("type") == "step" and manifest.is_file() and \\
        event["step"] >= json.loads(manifest.read_text())["step"] + 2
"""
    run_id = _kill_when([*args, "--runs", runs], runs, past_a_checkpoint)
    killed_at = max(_steps(runs / run_id))
    checkpoint_step = json.loads((runs / run_id / "checkpoint" / ckpt.MANIFEST).read_text())["step"]
    assert killed_at < expected["finetune"]["steps"], "killed too late to test anything"

    resumed = _cli("runs", "resume", run_id, "--runs", runs, "--json", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    got = json.loads(resumed.stdout)
    assert got["status"] == "done" and got["run_id"] == run_id
    assert _without_times({**got, "run_id": None, "adapter": None}) == \
        _without_times({**expected, "run_id": None, "adapter": None})
    _assert_same_adapter(Path(got["adapter"]), Path(expected["adapter"]))
    # The run's events: every step once in the curve, the ones after the checkpoint done again.
    store = RunStore(runs)
    from core.train.events import step_events

    events = store.events(run_id)
    assert [e["step"] for e in step_events(events)] == list(range(expected["finetune"]["steps"] + 1))
    assert [e["step"] for e in events if e.get("type") == "resume"] == [checkpoint_step]
    assert store.status(run_id)["resumed"] == 1 and not (runs / run_id / "checkpoint").exists()
    figure("vocabulary resume", f"SIGKILL at step {killed_at}, resumed from the checkpoint of step "
                                f"{checkpoint_step}: result equal to the uninterrupted run's (times aside), "
                                f"adapter weights equal")


def test_a_comparison_killed_after_its_first_member_runs_only_the_others(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(tiny_spec_dict()), encoding="utf-8")
    args = ["compare", spec, "--model", "tiny-random", "--strategies", "average,random", "--seeds", "1",
            "--epochs", "40", "--batch-size", "2", "--grad-accum", "1", "--max-new-tokens", "2", "--workers", "1",
            "--no-progress", "--json"]
    whole = _cli(*args, "--runs", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-2000:]
    expected = json.loads(whole.stdout)
    runs = tmp_path / "runs"

    first_member_kept = """
def CRASH(folder, event):
    return event.get("type") == "step" and event.get("strategy") == "random" and \\
        (folder / "members" / "average-s0.json").is_file()
"""

    run_id = _kill_when([*args, "--runs", runs], runs, first_member_kept)
    kept = (runs / run_id / "members" / "average-s0.json").read_bytes()
    resumed = _cli("runs", "resume", run_id, "--runs", runs, "--json", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    got = json.loads(resumed.stdout)
    assert _without_times(got["rows"]) == _without_times(expected["rows"]) and got["verdict"] == expected["verdict"]
    store = RunStore(runs)
    events = store.events(run_id)
    started = [e["strategy"] for e in events if e.get("type") == "member" and e.get("status") == "start"]
    assert started.count("average") == 1 and started.count("random") == 2  # only the unfinished one again
    assert (runs / run_id / "members" / "average-s0.json").read_bytes() == kept
    assert sorted(store.adapters(run_id)) == ["average-s0", "random-s0"]
    whole_id = expected["run_id"]
    for member in ("average-s0", "random-s0"):
        _assert_same_adapter(store.adapter_path(run_id, member), RunStore(tmp_path / "whole").adapter_path(
            whole_id, member))


# -- what cannot be resumed ------------------------------------------------------------------------

def _interrupted(store: RunStore, config: dict, spec: dict | None = None, kind: str = "vocab") -> str:
    """A run whose process is gone: its status says running, its owner a process that does not exist."""
    run_id = store.create(kind, spec or {"source": "list", "specs": []}, config, status="running")
    status_file = store.path(run_id) / "status.json"
    data = json.loads(status_file.read_text())
    data["owner"] = {**data["owner"], "pid": 2**22 + 12345, "start_time": "1"}
    status_file.write_text(json.dumps(data))
    assert store.status(run_id)["status"] == "interrupted"
    return run_id


FINETUNE = {"kind": "vocab", "action": "finetune", "model": "tiny-random", "init": {}, "finetune": {},
            "checkpoint": {"checkpoint_steps": 50, "checkpoint_minutes": 10.0}}


class _Recorder:
    history = [{"type": "step", "step": 0, "eval_loss": 2.0}]
    best_loss, best_step, train_seconds, best_state = 2.0, 0, 1.0, None


def _with_checkpoint(store: RunStore, run_id: str, identity: dict | None = None) -> Path:
    """A checkpoint as ``publish`` writes one, from a stand-in for the Trainer's folder."""
    source = store.path(run_id) / ".trainer.tmp-test" / "checkpoint-4"
    source.mkdir(parents=True)
    (source / "trainer_state.json").write_text('{"global_step": 4}')
    (source / "optimizer.pt").write_bytes(b"\x00" * 64)
    identity = identity or {"run_id": run_id, "fingerprint": store.fingerprint(run_id)}
    return ckpt.publish(source, ckpt.Checkpoints(store.checkpoint_path(run_id), identity=identity), _Recorder(), 4)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_interrupted_vocabulary_fine_tuning_with_its_checkpoint_can_be_resumed(tmp_path):
    store = RunStore(tmp_path)
    run_id = _interrupted(store, FINETUNE)
    _with_checkpoint(store, run_id)
    plan = check_resume(store, run_id)
    assert plan.kind == "vocab" and plan.model == "tiny-random" and plan.checkpoint["step"] == 4
    assert store.status(run_id)["status"] == "interrupted"  # checking changes nothing


@pytest.mark.parametrize("case", ["done", "running", "init only", "ray train", "no checkpoint", "damaged",
                                  "another run's", "other settings", "finetune kind", "unknown"])
def test_what_cannot_be_resumed_is_refused_and_nothing_changes(tmp_path, case):
    store = RunStore(tmp_path)
    run_id = _interrupted(store, FINETUNE)
    field, words = "checkpoint", ""
    if case == "done":
        store.set_status(run_id, "done")
        field, words = "run_id", "is done, not interrupted"
    elif case == "running":
        run_id = store.create("vocab", {}, FINETUNE, status="running")  # this process: alive
        field, words = "run_id", "is running, not interrupted"
    elif case == "init only":
        run_id = _interrupted(store, {**FINETUNE, "action": "init"})
        field, words = "run_id", "without training"
    elif case == "ray train":
        run_id = _interrupted(store, {**FINETUNE, "data_parallel": {"ray_workers": 2}})
        field, words = "run_id", "Ray Train"
    elif case == "no checkpoint":
        words = "there is no checkpoint"
    elif case == "damaged":
        folder = _with_checkpoint(store, run_id)
        (folder / "optimizer.pt").write_bytes(b"\x01" * 64)
        words = "is damaged: optimizer.pt is not the file that was written"
    elif case == "another run's":
        other = _interrupted(store, FINETUNE)
        _with_checkpoint(store, other)
        os.rename(store.checkpoint_path(other), store.checkpoint_path(run_id))
        words = f"belongs to run {other!r}"
    elif case == "other settings":
        _with_checkpoint(store, run_id, {"run_id": run_id, "fingerprint": "written with other settings"})
        words = "other settings or data"
    elif case == "finetune kind":
        run_id = _interrupted(store, {"kind": "finetune"}, kind="finetune")
        field, words = "run_id", "is a finetune run, which does not resume"
    else:
        run_id, field, words = "no-such-run", "run_id", "no run 'no-such-run'"
    before = _files(store.root)
    with pytest.raises(InputError) as err:
        check_resume(store, run_id)
    assert err.value.fields == [field] and words in str(err.value), str(err.value)
    with pytest.raises(InputError):
        resume_run(store, None, run_id, None)  # checked before the runner or the model is touched
    assert _files(store.root) == before
