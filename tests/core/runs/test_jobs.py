"""The job runner: one job at a time in order, positions, cooperative stop, failures contained,
events and results in the run store; and the same for real fine-tuning jobs on the tiny model."""

from __future__ import annotations

import threading
import time

import pytest

from core.spec.errors import InputError, fail
from core.train.events import StopRequested
from core.runs.jobs import JobRunner
from core.runs.store import RunStore


def _gate_job(gate: threading.Event, name: str, order: list):
    def fn(ctx):
        order.append(("start", name))
        gate.wait(30)
        ctx.emit(type="step", step=1, who=name)
        order.append(("end", name))
        return {"who": name}
    return fn


def test_jobs_run_one_at_a_time_in_order_with_positions(runner):
    gate, order = threading.Event(), []
    first = runner.submit(_gate_job(gate, "a", order), kind="x")
    while runner.get(first.job_id)["status"] != "running":
        time.sleep(0.01)
    second = runner.submit(_gate_job(gate, "b", order), kind="x")
    third = runner.submit(_gate_job(gate, "c", order), kind="x")
    assert (second.position, third.position) == (1, 2)
    assert runner.get(third.job_id)["status"] == "queued" and runner.get(third.job_id)["position"] == 2
    gate.set()
    for ticket in (first, second, third):
        assert runner.wait(ticket.job_id, 30)["status"] == "done"
    assert order == [("start", "a"), ("end", "a"), ("start", "b"), ("end", "b"), ("start", "c"), ("end", "c")]
    # Each job sees its own events only, and its result is stored with its run.
    for ticket, name in ((first, "a"), (second, "b"), (third, "c")):
        steps = [e for e in runner.events(ticket.job_id) if e["type"] == "step"]
        assert [e["who"] for e in steps] == [name]
        assert runner.store.result(ticket.job_id) == {"who": name}
        assert runner.store.status(ticket.job_id)["status"] == "done"


def test_a_failing_job_does_not_take_the_runner_down(runner):
    def boom(ctx):
        raise RuntimeError("out of cheese")

    def bad_input(ctx):
        raise fail("batch_size", "is larger than the data", "use at most 4")

    a = runner.submit(boom)
    b = runner.submit(bad_input)
    c = runner.submit(lambda ctx: {"ok": True})
    assert runner.wait(a.job_id, 30)["error"] == "RuntimeError: out of cheese"
    assert runner.wait(b.job_id, 30)["error"].startswith("batch_size: is larger than the data")
    assert runner.wait(c.job_id, 30)["status"] == "done"
    assert runner.store.status(a.job_id)["status"] == "failed"
    assert "out of cheese" in runner.store.status(a.job_id)["error"]


def test_stop_queued_and_running_jobs(runner):
    started = threading.Event()

    def loop(ctx):
        step = 0
        started.set()
        while not ctx.stop_requested:
            step += 1
            ctx.emit(type="step", step=step)
            time.sleep(0.002)
        return {"steps": step}

    running = runner.submit(loop)
    queued = runner.submit(lambda ctx: {"never": True})
    started.wait(30)
    assert runner.stop(queued.job_id)["status"] == "stopped"
    assert runner.stop(running.job_id)["status"] in ("stopping", "stopped")
    assert runner.wait(running.job_id, 30)["status"] == "stopped"
    assert runner.result(running.job_id)["steps"] >= 1  # a stopped job keeps what it had
    assert runner.store.result(queued.job_id) is None
    assert runner.store.status(queued.job_id)["status"] == "stopped"

    def early(ctx):
        raise StopRequested()

    assert runner.wait(runner.submit(early).job_id, 30)["status"] == "stopped"


def test_jobs_are_found_again_after_a_restart(runner):
    ticket = runner.submit(lambda ctx: (ctx.emit(type="step", step=1, loss=0.5), {"best": 1})[1], kind="finetune")
    runner.wait(ticket.job_id, 30)
    fresh = JobRunner(RunStore(runner.store.root))
    snap = fresh.get(ticket.job_id)
    assert snap["status"] == "done" and snap["has_result"] and snap["last_step"]["loss"] == 0.5
    assert [e["type"] for e in fresh.events(ticket.job_id)][-1] == "status"
    assert fresh.result(ticket.job_id) == {"best": 1}
    with pytest.raises(InputError):
        fresh.stop(ticket.job_id)
    with pytest.raises(InputError):
        fresh.get("nope")
    with pytest.raises(InputError):
        fresh.get("../etc")


def test_a_job_runs_again_in_an_interrupted_runs_folder(runner):
    import json

    store = runner.store
    run_id = store.create("vocab", {"specs": []}, {"action": "finetune"}, title="killed", status="running")
    status_file = store.path(run_id) / "status.json"
    status_file.write_text(json.dumps({**json.loads(status_file.read_text()),
                                       "owner": {"pid": 2**22 + 12345, "start_time": "1"}}))
    store.events_path(run_id).write_text('{"type": "step", "step": 1, "seq": 0}\n')
    store.checkpoint_path(run_id).mkdir()

    def again(ctx):
        assert ctx.run_id == run_id and (ctx.run_dir / "checkpoint").is_dir()
        ctx.emit(type="step", step=2)
        return {"steps": 2}

    ticket = runner.submit(again, kind="vocab", title="killed", into=run_id)
    assert ticket.job_id == run_id and runner.wait(run_id, 30)["status"] == "done"
    assert [e.get("step") for e in store.events(run_id) if e["type"] == "step"] == [1, 2]
    assert store.result(run_id) == {"steps": 2} and store.status(run_id)["resumed"] == 1
    assert not store.checkpoint_path(run_id).exists()  # done: the checkpoint has no use any more
    with pytest.raises(InputError):  # done, not interrupted: not again
        runner.submit(again, kind="vocab", into=run_id)
    with pytest.raises(ValueError):
        JobRunner().submit(again, into=run_id)


def test_runner_without_store():
    r = JobRunner()
    try:
        ticket = r.submit(lambda ctx: {"x": ctx.run_dir})
        assert r.wait(ticket.job_id, 30)["status"] == "done"
        assert r.result(ticket.job_id) == {"x": None}
        assert [j["job_id"] for j in r.list()] == [ticket.job_id]
    finally:
        r.shutdown()


# -- real fine-tuning jobs on the tiny model --------------------------------------------------------

def _finetune_ticket(runner, base, spec, epochs: int):
    from core.runs.submit import submit_finetune
    from core.train.finetune import FinetuneConfig
    from core.embedding.strategies import InitConfig

    config = FinetuneConfig(epochs=epochs, batch_size=2, grad_accum=1, learning_rate=1e-2)
    return submit_finetune(runner, spec, base, InitConfig(strategy="average"), config, max_new_tokens=4)


def test_training_jobs_queue_stop_within_a_step_and_keep_what_they_had(runner, tiny_spec):
    from core.runs.export import load_adapter
    from core.model.loading import load_model

    base = load_model("tiny-random")
    long = _finetune_ticket(runner, base, tiny_spec, epochs=200)   # 400 optimizer steps
    short = _finetune_ticket(runner, base, tiny_spec, epochs=1)
    assert (long.position, short.position) == (0, 1)
    deadline = time.time() + 120
    while time.time() < deadline:
        last = runner.get(long.job_id)["last_step"]
        if last and last["step"] >= 2:
            break
        time.sleep(0.01)
    assert runner.get(short.job_id)["status"] == "queued"
    runner.stop(long.job_id)
    at_step = next(e for e in runner.events(long.job_id) if e.get("status") == "stopping")["at_step"]
    assert runner.wait(long.job_id, 120)["status"] == "stopped"
    steps = [e["step"] for e in runner.events(long.job_id) if e["type"] == "step"]
    # The step under way when stop was asked finishes (its event may still be on its way), then it ends.
    assert steps[-1] <= at_step + 2 and steps[-1] < 400
    assert runner.wait(short.job_id, 120)["status"] == "done"
    first, second = runner.get(long.job_id), runner.get(short.job_id)
    assert second["started"] >= first["finished"]

    store = runner.store
    for ticket, stopped in ((long, True), (short, False)):
        result = store.result(ticket.job_id)
        assert result["finetune"]["stopped"] is stopped and result["row"]["strategy"] == "average"
        assert store.adapters(ticket.job_id) == [""]
        assert [e["step"] for e in store.events(ticket.job_id) if e["type"] == "step"] == \
            [e["step"] for e in runner.events(ticket.job_id) if e["type"] == "step"]
    # A stopped run is usable: its adapter loads and gives its best step's validation loss.
    from core.train.finetune import validation_loss

    model, tokenizer, _ = load_adapter(store.adapter_path(long.job_id), base)
    best = store.result(long.job_id)["finetune"]["best_eval_loss"]
    assert abs(validation_loss(model, tokenizer, tiny_spec.validation_sentences) - best) < 1e-4
