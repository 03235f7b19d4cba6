"""Crashes and restarts: SIGKILL in the middle of training loses nothing that was finished.

A finished run is made first; a second fine-tuning process is killed with SIGKILL while it trains;
a fresh process then lists the store. The finished run must be byte-for-byte intact, the killed
one listed as ``interrupted`` with its events up to the kill, and every file in the store readable.
A stopped run keeps its events and best state so far and can be opened and exported.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import tiny_spec_dict
from tests.reliability import figure

ROOT = Path(__file__).resolve().parents[3]


def _cli(*args: str, runs: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "GLOSSLAB_RUNS": str(runs), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _assert_store_readable(runs: Path) -> int:
    """Every JSON file parses and every event line is complete; returns how many files were checked."""
    checked = 0
    for path in runs.rglob("*"):
        if not path.is_file():
            continue
        assert ".tmp" not in path.name, f"leftover temporary file {path}"
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
            checked += 1
        elif path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                json.loads(line)
            checked += 1
    return checked


def test_sigkill_mid_training_then_restart(tmp_path):
    runs = tmp_path / "runs"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(tiny_spec_dict()), encoding="utf-8")

    done = _cli("finetune", str(spec), "--model", "tiny-random", "--epochs", "2", "--batch-size", "2",
                "--grad-accum", "1", "--max-new-tokens", "4", "--json", "--no-progress", runs=runs)
    assert done.returncode == 0, done.stderr[-2000:]
    finished_id = json.loads(done.stdout)["run_id"]
    finished_before = _files(runs / finished_id)

    env = {**os.environ, "GLOSSLAB_RUNS": str(runs), "HF_HUB_OFFLINE": "1"}
    victim = subprocess.Popen(
        [sys.executable, "-m", "core", "finetune", str(spec), "--model", "tiny-random", "--epochs", "200",
         "--batch-size", "1", "--grad-accum", "1", "--no-progress"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 150
        killed_id, steps_seen = None, 0
        while time.monotonic() < deadline and victim.poll() is None:
            for folder in runs.iterdir():
                events = folder / "events.jsonl"
                if folder.name != finished_id and events.is_file():
                    lines = events.read_text(encoding="utf-8").splitlines()
                    steps = [json.loads(x) for x in lines[:-1] if '"step"' in x]  # last line may be mid-write
                    if len(steps) >= 3:
                        killed_id, steps_seen = folder.name, len(steps)
            if killed_id:
                break
            time.sleep(0.2)
        assert killed_id, "the training never reached three steps"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()

    listed = _cli("runs", "list", "--json", runs=runs)  # a fresh process: the restart
    assert listed.returncode == 0, listed.stderr
    by_id = {row["run_id"]: row for row in json.loads(listed.stdout)["runs"]}
    assert by_id[finished_id]["status"] == "done"
    assert by_id[killed_id]["status"] == "interrupted"

    shown = json.loads(_cli("runs", "show", killed_id, "--json", runs=runs).stdout)
    step_events = [e for e in shown["events"] if "step" in e]
    assert len(step_events) >= steps_seen
    assert [e["step"] for e in step_events] == sorted(e["step"] for e in step_events)

    assert _files(runs / finished_id) == finished_before, "the finished run changed"
    result = json.loads((runs / finished_id / "result.json").read_text(encoding="utf-8"))
    assert result
    checked = _assert_store_readable(runs)
    figure("crash and restart", f"SIGKILL after {steps_seen} logged steps: finished run byte-identical, "
                                f"killed run listed as interrupted with {len(step_events)} step events, "
                                f"{checked} store files all readable")


def test_a_stopped_run_keeps_its_events_and_can_be_exported(tmp_path, tiny_spec):
    from core.runs.submit import submit_finetune
    from core.train.finetune import FinetuneConfig
    from core.runs.jobs import JobRunner
    from core.model.loading import load_model
    from core.runs.store import RunStore
    from core.embedding.strategies import InitConfig

    store = RunStore(tmp_path / "runs")
    runner = JobRunner(store)
    base = load_model("tiny-random")
    config = FinetuneConfig(epochs=100, batch_size=1, grad_accum=1)
    ticket = submit_finetune(runner, tiny_spec, base, InitConfig(strategy="average"), config, 4)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sum(1 for e in runner.events(ticket.job_id) if e.get("eval_loss") is not None) >= 2:
            break
        time.sleep(0.1)
    runner.stop(ticket.job_id)
    status = runner.wait(ticket.job_id, timeout=120)
    runner.shutdown()
    assert status["status"] == "stopped"
    opened = store.open(ticket.job_id)
    assert sum(1 for e in opened["events"] if e.get("eval_loss") is not None) >= 2
    assert "" in opened["adapters"], "a stopped run keeps its best state so far"

    out = tmp_path / "exports" / "stopped"
    exported = _cli("runs", "export", ticket.job_id, "--out", str(out), "--json", runs=tmp_path / "runs")
    assert exported.returncode == 0, exported.stderr
    assert (out / "adapter_config.json").is_file()
