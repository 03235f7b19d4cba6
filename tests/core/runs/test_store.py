"""The run store: atomic files, safe ids, listing after a restart, and killed runs marked interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.spec.errors import InputError
from core.train.events import EventLog, read_jsonl
from core.runs.store import RunStore, current_owner, owner_alive

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def test_create_write_read_and_list(store):
    run_id = store.create("finetune", {"glosses": ["wool shop"]}, {"lr": 3e-4}, title="wool shop")
    assert store.list()[0]["run_id"] == run_id
    assert store.status(run_id)["status"] == "queued"
    store.set_status(run_id, "running")
    log = EventLog(store.events_path(run_id))
    log.append(type="step", step=1, loss=2.5, eval_loss=float("nan"))
    log.close()
    store.write_json(run_id, "result.json", {"best_step": 1, "loss": float("inf")})
    store.set_status(run_id, "done")
    data = store.open(run_id)
    assert data["spec"] == {"glosses": ["wool shop"]}
    assert data["config"] == {"lr": 3e-4}
    assert data["status"]["status"] == "done" and data["status"]["finished"]
    # NaN and infinity are not JSON: they are stored as null.
    assert data["events"][0]["eval_loss"] is None and data["events"][0]["loss"] == 2.5
    assert data["result"] == {"best_step": 1, "loss": None}
    # No temporary file is left behind.
    assert sorted(p.name for p in store.path(run_id).iterdir()) == [
        "config.json", "events.jsonl", "result.json", "spec.json", "status.json"]


def test_run_ids_cannot_leave_the_store(store, tmp_path):
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "status.json").write_text("{}")
    for bad in ["../secret", "/etc", "a/b", "", ".", "..", "x" * 65, "run id", "~", None, 3]:
        with pytest.raises(InputError) as err:
            store.path(bad)
        assert err.value.fields == ["run_id"]
    with pytest.raises(InputError):
        store.status("no-such-run")
    with pytest.raises(InputError):
        store.adapter_path(store.create("x", {}, {}), member="../../secret")


def test_torn_last_line_is_skipped(store):
    run_id = store.create("finetune", {}, {})
    path = store.events_path(run_id)
    path.write_text(json.dumps({"type": "step", "step": 1}) + "\n" + '{"type": "step", "st')
    assert [e["step"] for e in store.events(run_id)] == [1]
    assert read_jsonl(path.parent / "missing.jsonl") == []


def test_delete_refuses_active_runs_and_removes_finished_ones(store):
    run_id = store.create("finetune", {}, {})
    store.set_status(run_id, "running")
    with pytest.raises(InputError):
        store.delete(run_id)
    store.set_status(run_id, "done")
    store.delete(run_id)
    assert not store.exists(run_id) and store.list() == []


def test_saving_a_folder_replaces_it_whole(store):
    run_id = store.create("finetune", {}, {})

    def writer(text):
        return lambda folder: (folder / "adapter_config.json").write_text(text)

    store.save_folder(run_id, writer("one"))
    store.save_folder(run_id, writer("two"))
    assert (store.adapter_path(run_id) / "adapter_config.json").read_text() == "two"
    store.save_folder(run_id, writer("m"), member="average-s0")
    assert store.adapters(run_id) == ["", "average-s0"]

    def failing(folder):
        (folder / "adapter_config.json").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        store.save_folder(run_id, failing)
    assert (store.adapter_path(run_id) / "adapter_config.json").read_text() == "two"
    assert not [p for p in store.path(run_id).iterdir() if p.name.startswith(".")]


def _dead_owner() -> dict:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    owner = current_owner()
    owner.update(pid=proc.pid, start_time="1")
    return owner


def test_owner_checks():
    assert owner_alive(current_owner())
    assert not owner_alive(_dead_owner())
    # Same pid, different start time: the pid was reused by another process.
    assert not owner_alive({**current_owner(), "start_time": "1"})
    assert not owner_alive(None)


def test_run_of_a_dead_process_is_interrupted_and_others_untouched(store):
    done = store.create("finetune", {}, {})
    store.set_status(done, "done")
    alive = store.create("finetune", {}, {})
    store.set_status(alive, "running")
    killed = store.create("finetune", {}, {})
    store.set_status(killed, "running")
    status_file = store.path(killed) / "status.json"
    data = json.loads(status_file.read_text())
    data["owner"] = _dead_owner()
    status_file.write_text(json.dumps(data))
    (store.path(killed) / ".result.json.abc.tmp").write_text('{"half": ')
    (store.path(killed) / "events.jsonl").write_text('{"type": "step", "step": 1}\n{"type": "st')
    before = {r: (store.path(r) / "status.json").read_bytes() for r in (done, alive)}

    reopened = RunStore(store.root)  # as after a restart
    statuses = {row["run_id"]: row["status"] for row in reopened.list()}
    assert statuses == {done: "done", alive: "running", killed: "interrupted"}
    assert "running" in reopened.status(killed)["error"]
    assert not (store.path(killed) / ".result.json.abc.tmp").exists()
    assert (store.path(killed) / "events.jsonl").read_text() == '{"type": "step", "step": 1}\n'
    assert [e["step"] for e in reopened.events(killed)] == [1]
    assert json.loads(status_file.read_text())["status"] == "interrupted"  # recorded, not only reported
    assert {r: (store.path(r) / "status.json").read_bytes() for r in (done, alive)} == before


def _killed(store) -> str:
    run_id = store.create("vocab", {"specs": []}, {"action": "finetune"}, status="running")
    status_file = store.path(run_id) / "status.json"
    status_file.write_text(json.dumps({**json.loads(status_file.read_text()), "owner": _dead_owner()}))
    return run_id


def test_an_interrupted_run_reopens_in_its_own_folder_and_nothing_else_does(store):
    run_id = _killed(store)
    EventLog(store.events_path(run_id)).append(type="step", step=1)
    assert store.status(run_id)["status"] == "interrupted"
    data = store.reopen(run_id)
    assert data["status"] == "queued" and data["resumed"] == 1 and data["finished"] is None and data["error"] is None
    assert owner_alive(data["owner"]) and store.status(run_id)["status"] == "queued"
    assert [e["step"] for e in store.events(run_id)] == [1]
    store.set_status(run_id, "stopped")   # a stopped run may go on too (``core.runs.resume`` says which kinds)
    assert store.reopen(run_id)["resumed"] == 2 and store.status(run_id)["status"] == "queued"
    for status in ("queued", "done"):  # a run that is neither interrupted nor stopped stays as it is
        store.set_status(run_id, status)
        before = (store.path(run_id) / "status.json").read_bytes()
        with pytest.raises(InputError) as err:
            store.reopen(run_id)
        assert err.value.fields == ["run_id"] and f"is {status}, not interrupted" in str(err.value)
        assert (store.path(run_id) / "status.json").read_bytes() == before


def test_members_are_kept_one_file_each(store):
    run_id = store.create("compare", {}, {})
    assert store.members(run_id) == {}
    store.save_member(run_id, "average-s0", {"row": {"eval_loss": 0.5}})
    store.save_member(run_id, "random-s1", {"row": {"eval_loss": 0.7}})
    (store.path(run_id) / "members" / "half-s2.json").write_text('{"row": ')  # cannot be read: not finished
    assert store.members(run_id) == {"average-s0": {"row": {"eval_loss": 0.5}}, "random-s1": {"row": {"eval_loss": 0.7}}}
    with pytest.raises(InputError) as err:
        store.save_member(run_id, "../x", {})
    assert err.value.fields == ["member"]


def test_the_fingerprint_follows_the_spec_and_the_settings(store):
    a = store.create("vocab", {"specs": [1]}, {"init": {"seed": 0}})
    b = store.create("vocab", {"specs": [1]}, {"init": {"seed": 0}})
    c = store.create("vocab", {"specs": [1]}, {"init": {"seed": 1}})
    assert store.fingerprint(a) == store.fingerprint(b) != store.fingerprint(c)
    assert len(store.fingerprint(a)) == 64


def test_a_checkpoint_is_dropped_once_the_run_is_done_and_a_half_replaced_one_is_put_back(store):
    run_id = store.create("vocab", {}, {})
    folder = store.checkpoint_path(run_id)
    folder.mkdir()
    (folder / "a").write_text("1")
    store.drop_checkpoint(run_id)
    assert not folder.exists() and [p.name for p in store.path(run_id).iterdir() if p.name.startswith(".")] == []
    store.drop_checkpoint(run_id)  # nothing there: nothing to do
    # Killed between replace_dir's two renames: the old checkpoint aside, the new one still temporary.
    killed = _killed(store)
    old = store.path(killed) / ".checkpoint.old-abc123"
    old.mkdir()
    (old / "step").write_text("4")
    (store.path(killed) / ".checkpoint.tmp-def456").mkdir()
    adapters = store.path(killed) / "adapters"
    (adapters / "average-s0").mkdir(parents=True)
    (adapters / ".average-s0.old-1a2b3c").mkdir()  # both there: the old one is only a leftover
    assert store.status(killed)["status"] == "interrupted"
    assert (store.checkpoint_path(killed) / "step").read_text() == "4"
    assert sorted(p.name for p in store.path(killed).iterdir() if p.name.startswith(".")) == []
    assert [p.name for p in adapters.iterdir()] == ["average-s0"]


_WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from core.runs.jobs import JobRunner
    from core.runs.store import RunStore

    runner = JobRunner(RunStore({runs!r}))

    def finished(ctx):
        ctx.emit(type="step", step=1, loss=1.0)
        return {{"best_step": 1}}

    def endless(ctx):
        step = 0
        while True:
            step += 1
            ctx.emit(type="step", step=step, loss=1.0 / step)
            time.sleep(0.005)

    runner.wait(runner.submit(finished, kind="finetune").job_id)
    runner.submit(endless, kind="finetune")
    time.sleep(600)
""")


def test_sigkill_while_a_job_writes(tmp_path):
    """A process killed mid-job: the finished run is intact, the killed one is interrupted with
    its events up to the kill, and every JSON file in the store parses."""
    runs = tmp_path / "runs"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER.format(root=str(ROOT), runs=str(runs)))
    proc = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            files = list(runs.glob("*/events.jsonl")) if runs.exists() else []
            steps = [[e for e in read_jsonl(f) if e["type"] == "step"] for f in files]
            if len(files) == 2 and max(map(len, steps)) > 20:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the writer process did not get going")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    store = RunStore(runs)
    rows = {row["status"]: row for row in store.list()}
    assert set(rows) == {"done", "interrupted"}
    assert store.result(rows["done"]["run_id"]) == {"best_step": 1}
    steps = [e["step"] for e in store.events(rows["interrupted"]["run_id"]) if e["type"] == "step"]
    assert len(steps) > 20 and steps == list(range(1, len(steps) + 1))
    for path in runs.rglob("*.json"):
        json.loads(path.read_text())
    assert not list(runs.rglob(".*"))
