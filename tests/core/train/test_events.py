"""core/train/events.py: the event log (memory and JSON lines), step filtering, and StepRecorder."""

from __future__ import annotations

import json
import math
import threading

import pytest
import torch

from core.train.events import (EventLog, StepRecorder, StopRequested, best_evaluation, evaluations,
                               read_jsonl, stage_events, step_events)


def test_append_since_last_and_len():
    log = EventLog()
    first = log.append({"type": "step", "step": 1, "loss": 2.5})
    second = log.append(type="phase", phase="train", message="Training")
    third = log.append(message="no type given")
    assert (first["seq"], second["seq"], third["seq"]) == (0, 1, 2)
    assert third["type"] == "message"  # the default type
    assert all(isinstance(e["time"], float) for e in (first, second, third))
    assert len(log) == 3
    assert log.since(0) == [first, second, third]
    assert log.since(2) == [third] and log.since(3) == [] and log.since(-5) == [first, second, third]
    assert log.since(0, type="step") == [first] and log.since(1, type="step") == []
    assert log.last() == third and log.last("phase") == second and log.last("nothing") is None
    # Keyword fields win over the dict's; a given time is kept.
    e = log.append({"type": "a", "x": 1, "time": 12.5}, x=2)
    assert (e["type"], e["x"], e["time"]) == ("a", 2, 12.5)
    # since() returns a new list: changing it changes nothing in the log.
    items = log.since(0)
    items.clear()
    assert len(log.since(0)) == 4


def test_values_are_made_json_safe():
    log = EventLog()
    e = log.append(type="step", loss=float("nan"), eta=float("inf"), t=torch.tensor(1.5), pair=(1, 2))
    assert e["loss"] is None and e["eta"] is None and e["t"] == 1.5 and e["pair"] == [1, 2]
    json.dumps(e, allow_nan=False)  # strict JSON


def test_tags_and_tagged_emitters():
    log = EventLog(tags={"run": "r1"})
    emit = log.tagged(strategy="average", seed=0)
    a = emit({"type": "step", "step": 1})
    b = emit(type="step", step=2, seed=7)  # the event's own fields win over the tags
    c = log.append(type="status", status="done")
    assert (a["run"], a["strategy"], a["seed"]) == ("r1", "average", 0)
    assert b["seed"] == 7 and b["strategy"] == "average"
    assert c["run"] == "r1" and "strategy" not in c


def test_listeners_see_every_event_and_a_failing_one_is_ignored():
    log = EventLog()
    seen: list[dict] = []

    def broken(event):
        raise RuntimeError("watcher crashed")

    log.add_listener(broken)
    log.add_listener(seen.append)
    a = log.append(type="x")
    b = log.append(type="y")
    assert seen == [a, b]
    assert len(log) == 2


def test_jsonl_on_disk_matches_memory_and_reopens_in_append_mode(tmp_path):
    path = tmp_path / "deep" / "run" / "events.jsonl"
    log = EventLog(path)
    events = [log.append(type="step", step=i, loss=1.0 / (i + 1)) for i in range(3)]
    # Flushed at once: readable before the log is closed.
    assert read_jsonl(path) == events
    log.close()
    log.close()  # closing twice is harmless
    again = EventLog(path)
    assert again.since(0) == events  # what was there is known again, and the numbering goes on
    assert again.append(type="status", status="done")["seq"] == 3
    again.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and all(json.loads(line) for line in lines)
    assert [e["type"] for e in read_jsonl(path)] == ["step", "step", "step", "status"]
    assert [e["seq"] for e in read_jsonl(path)] == [0, 1, 2, 3]
    # A line torn by a crash stays alone: the next event starts a line of its own.
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"type": "step", "st')
    third = EventLog(path)
    third.append(type="status", status="interrupted")
    third.close()
    assert [(e["type"], e.get("status")) for e in read_jsonl(path)][3:] == [("status", "done"),
                                                                             ("status", "interrupted")]


def test_read_jsonl_skips_a_torn_last_line_and_garbage(tmp_path):
    path = tmp_path / "events.jsonl"
    good = [{"type": "step", "step": 1}, {"type": "step", "step": 2}]
    text = json.dumps(good[0]) + "\n" + "{not json\n" + "[1, 2]\n" + json.dumps(good[1]) + "\n"
    path.write_text(text + '{"type": "step", "st', encoding="utf-8")
    assert read_jsonl(path) == good
    # A torn line ends the read even if it parses: it was never finished.
    path.write_text(json.dumps(good[0]) + "\n" + json.dumps(good[1]), encoding="utf-8")
    assert read_jsonl(path) == good[:1]
    assert read_jsonl(tmp_path / "missing.jsonl") == []
    path.write_bytes(json.dumps(good[0]).encode() + b"\n\xff\xfe\n")
    assert read_jsonl(path) == good[:1]


def test_many_threads_get_unique_complete_sequence_numbers(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    n_threads, per_thread = 8, 200
    barrier = threading.Barrier(n_threads)
    seqs: list[list[int]] = [[] for _ in range(n_threads)]
    heard: list[int] = []
    log.add_listener(lambda e: heard.append(e["seq"]))

    def work(i: int) -> None:
        barrier.wait()
        for j in range(per_thread):
            seqs[i].append(log.append(type="step", thread=i, j=j)["seq"])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = n_threads * per_thread
    everything = sorted(s for part in seqs for s in part)
    assert everything == list(range(total))
    for part in seqs:
        assert part == sorted(part)  # each thread's own events stay in its order
    in_memory = log.since(0)
    assert [e["seq"] for e in in_memory] == list(range(total))
    assert sorted(heard) == list(range(total))
    log.close()
    on_disk = read_jsonl(path)
    assert on_disk == in_memory  # the file holds the events in the same order as memory


def test_step_events_keeps_only_steps():
    events = [{"type": "status"}, {"type": "step", "step": 0}, {"step": 1}, {"type": "phase"},
              {"type": "step", "step": 2}]
    assert step_events(events) == [events[1], events[4]]
    assert step_events(iter(events)) == [events[1], events[4]]
    assert step_events([]) == []


def test_a_resume_drops_the_steps_done_again_except_finished_members():
    def step(n, **tags):
        return {"type": "step", "step": n, **tags}

    events = [step(0), step(1), step(2), step(3), {"type": "phase"}, {"type": "resume", "step": 2}, step(3), step(4)]
    assert [e["step"] for e in step_events(events)] == [0, 1, 2, 3, 4]
    assert step_events(events)[3] is events[6]  # the step done again, not the one before the crash
    a, b = {"strategy": "average", "seed": 0}, {"strategy": "random", "seed": 0}
    compare = [step(1, **a), step(2, **a), step(1, **b), {"type": "resume", "step": -1, "keep": [a]}, step(0, **b),
               step(1, **b)]
    assert step_events(compare) == [compare[0], compare[1], compare[4], compare[5]]
    assert step_events([step(1), {"type": "resume"}]) == []  # no step kept: every step done again


# -- StepRecorder with a fake Trainer ---------------------------------------------------------------

class State:
    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps
        self.global_step = 0


class Control:
    def __init__(self) -> None:
        self.should_evaluate = False
        self.should_training_stop = False


class TwoParams(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lora = torch.nn.Parameter(torch.zeros(4))
        self.base = torch.nn.Parameter(torch.zeros(4), requires_grad=False)


def _drive(recorder: StepRecorder, model, state, losses: list[tuple[float | None, float | None]],
           evaluate_every: int = 1):
    """Play the Trainer's callback sequence: step end, training-loss log, then (eval steps) eval log."""
    control = Control()
    recorder.callback.on_train_begin(None, state, control)
    for step, (train_loss, eval_loss) in enumerate(losses):
        state.global_step = step
        with torch.no_grad():
            model.lora.fill_(float(step))
            model.base.fill_(float(-step))
        if step > 0:
            control.should_evaluate = step % evaluate_every == 0
            recorder.callback.on_step_end(None, state, control)
            recorder.callback.on_log(None, state, control, logs={"loss": train_loss, "learning_rate": 1e-3,
                                                                 "grad_norm": 0.5}, model=model)
        if eval_loss is not None:
            recorder.callback.on_log(None, state, control, logs={"eval_loss": eval_loss}, model=model)
    return control


def test_recorder_merges_train_and_eval_losses_into_one_event_per_step():
    seen: list[dict] = []
    model, state = TwoParams(), State(max_steps=4)
    rec = StepRecorder(seen.append, None, steps_per_epoch=2)
    losses = [(None, 3.0), (2.5, None), (2.0, 1.5), (1.8, None), (1.0, 2.5)]
    _drive(rec, model, state, losses, evaluate_every=2)
    assert [e["step"] for e in seen] == [0, 1, 2, 3, 4]
    assert [(e["loss"], e["eval_loss"]) for e in seen] == [(None, 3.0), (2.5, None), (2.0, 1.5), (1.8, None),
                                                           (1.0, 2.5)]
    assert seen == rec.history
    for e in seen:
        assert e["type"] == "step" and e["max_steps"] == 4
        assert e["epoch"] == pytest.approx(e["step"] / 2)
    assert seen[1]["learning_rate"] == 1e-3 and seen[1]["grad_norm"] == 0.5
    assert seen[0]["eta"] is None and seen[4]["eta"] == 0
    # Best step is tracked on evaluations only.
    assert rec.best_step == 2 and rec.best_loss == 1.5
    assert [e.get("best_step") for e in seen] == [0, None, 2, None, 2]
    assert not rec.stopped


def test_recorder_restores_only_the_best_trainable_parameters():
    model, state = TwoParams(), State(max_steps=3)
    rec = StepRecorder(None, None, steps_per_epoch=1)  # no emit: still records
    assert not rec.restore(model)  # nothing evaluated yet
    _drive(rec, model, state, [(None, 2.0), (1.5, 0.7), (1.2, 0.9), (1.0, 1.1)])
    assert len(rec.history) == 4 and rec.best_step == 1
    assert set(rec.best_state) == {"lora"}
    assert model.lora.tolist() == [3.0] * 4
    assert rec.restore(model)
    assert model.lora.tolist() == [1.0] * 4  # step 1's values
    assert model.base.tolist() == [-3.0] * 4  # a frozen parameter is never touched
    # The stored state is a copy: training on afterwards does not change it.
    with torch.no_grad():
        model.lora.fill_(9.0)
    rec.restore(model)
    assert model.lora.tolist() == [1.0] * 4


def test_should_stop_ends_training_with_a_final_evaluation():
    seen: list[dict] = []
    asked = {"stop": False}
    rec = StepRecorder(seen.append, lambda: asked["stop"], steps_per_epoch=1)
    state, control = State(max_steps=100), Control()
    rec.callback.on_train_begin(None, state, control)
    state.global_step = 1
    rec.callback.on_step_end(None, state, control)
    assert not control.should_training_stop and not rec.stopped
    asked["stop"] = True
    state.global_step = 2
    control.should_evaluate = False  # not an evaluation step by the schedule...
    rec.callback.on_step_end(None, state, control)
    assert control.should_training_stop and rec.stopped
    assert control.should_evaluate  # ...but the last step gets a validation loss too
    rec.callback.on_log(None, state, control, logs={"loss": 0.9}, model=None)
    assert seen == []  # held back until its evaluation arrives
    rec.callback.on_log(None, state, control, logs={"eval_loss": 0.4}, model=None)
    assert len(seen) == 1 and (seen[0]["step"], seen[0]["loss"], seen[0]["eval_loss"]) == (2, 0.9, 0.4)
    assert rec.best_state is None and math.isinf(rec.best_loss)  # no model given: nothing to keep


def test_recorder_is_a_trainer_callback():
    from transformers import TrainerCallback

    rec = StepRecorder(None, None, steps_per_epoch=1)
    assert isinstance(rec.callback, TrainerCallback)


def test_the_best_evaluation_is_at_the_best_step_else_the_last():
    history = [{"step": 0, "eval_loss": 3.0, "eval_loss_by": {"a": 3.1}}, {"step": 1, "loss": 2.0, "eval_loss": None},
               {"step": 2, "eval_loss": 2.5, "eval_loss_by": {"a": 2.4}}, {"step": 4, "eval_loss": 2.7}]
    assert [e["step"] for e in evaluations(history)] == [0, 2, 4]
    assert [e["step"] for e in evaluations(history, "eval_loss_by")] == [0, 2]
    assert best_evaluation(history, 2, "eval_loss_by")["eval_loss_by"] == {"a": 2.4}
    assert best_evaluation(history, 4)["step"] == 4
    assert best_evaluation(history, 4, "eval_loss_by")["step"] == 2  # no per-symbol losses there: the last with them
    assert best_evaluation([{"step": 1, "loss": 2.0}], 1) == {}


def test_stage_events_turn_an_initialization_into_job_events_and_honour_a_stop():
    seen, stop = [], []
    on_event = stage_events(seen.append, lambda: bool(stop))
    on_event({"stage": "embeddings", "message": "Computing rows"})
    on_event({"stage": "optimize", "epoch": 1, "epochs": 3, "val_loss": 0.5})
    assert seen == [{"type": "phase", "phase": "init:embeddings", "message": "Computing rows"},
                    {"type": "init_epoch", "epoch": 1, "epochs": 3, "val_loss": 0.5}]
    stop.append(True)
    with pytest.raises(StopRequested):
        on_event({"stage": "optimize", "epoch": 2, "epochs": 3})
    assert len(seen) == 3  # the event is passed on, then the stop ends the initialization
    stage_events(seen.append)({"stage": "done"})  # without should_stop, never stops
    assert seen[-1]["phase"] == "init:done"
