"""Members in worker processes: the same numbers as one after another here, adapters written where the
member ran, a stop, a worker that dies, and how many workers ``0`` means."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from core.embedding.strategies import InitConfig
from core.execution import BackendConfig, backend_for
from core.execution.processes import WorkerDied, WorkerProcesses, auto_workers, cpu_cores
from core.experiment.single.compare import CompareConfig, run_comparison, tasks_of
from core.experiment.single.members import CompareMembers, MemberTask, MemberWork, Plan
from core.train.finetune import FinetuneConfig

TIMES = ("time_per_epoch_s", "init_seconds")
ENV_BEFORE = dict(os.environ)


def write_name(member, folder: Path) -> None:
    """An adapter writer a worker process can import: records which process wrote which member."""
    import torch

    (folder / "name.txt").write_text(f"{member.name} {os.getpid()} {torch.get_num_threads()} "
                                     f"{os.environ.get('OMP_NUM_THREADS')} {os.environ.get('TOKENIZERS_PARALLELISM')}")


def die_on_random(member, folder: Path) -> None:
    if member.strategy == "random":
        os._exit(9)
    write_name(member, folder)


@pytest.fixture(scope="module")
def base():
    from core.model.loading import load_model

    return load_model("tiny-random")


def _config(**kw) -> CompareConfig:
    return CompareConfig(strategies=["average", "random"], seeds=2,
                         finetune=FinetuneConfig(epochs=1, batch_size=2, grad_accum=1, learning_rate=1e-2), **kw)


def _on(workers: int):
    return backend_for(BackendConfig(workers=workers))


def test_members_in_two_workers_give_the_numbers_of_one_after_another(base, tiny_spec):
    here = run_comparison(tiny_spec, base, _config(), backend=_on(1))
    kept: list[tuple[str, str]] = []
    events: list[dict] = []
    there = run_comparison(tiny_spec, base, _config(), backend=_on(2), emit=events.append, write_adapter=write_name,
                           keep_adapter=lambda task, folder: kept.append((task.name, (folder / "name.txt").read_text())))
    assert there.workers == 2 and here.workers == 1
    assert [m["name"] for m in there.members] == [m["name"] for m in here.members]
    for a, b in zip(here.members, there.members):
        for key, value in a["row"].items():
            if key in TIMES or not isinstance(value, float):
                assert b["row"][key] == value or key in TIMES, key
            else:
                assert math.isclose(b["row"][key], value, rel_tol=1e-4, abs_tol=1e-5), (a["name"], key)
    # Every adapter was written by a worker process (not this one), and both workers had work.
    assert sorted(n for n, _ in kept) == sorted(m["name"] for m in here.members)
    writers = {text.split()[1] for _, text in kept}
    assert str(os.getpid()) not in writers and len(writers) == 2
    assert all(text.split()[0] == name for name, text in kept)
    # Each worker has its share of the cores, in torch and in the environment its libraries read.
    share = str(max(1, cpu_cores() // 2))
    assert all(text.split()[2:] == [share, share, "false"] for _, text in kept), kept
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TOKENIZERS_PARALLELISM")
    assert {n: os.environ.get(n) for n in names} == {n: ENV_BEFORE.get(n) for n in names}  # ours is as it was
    # Events arrive tagged, and every member reports start and done.
    members = [e for e in events if e["type"] == "member"]
    assert sorted(e["index"] for e in members if e["status"] == "done") == [0, 1, 2, 3]
    steps = [e for e in events if e["type"] == "step"]
    assert {(e["strategy"], e["seed"]) for e in steps} == {("average", 0), ("random", 0), ("average", 1), ("random", 1)}
    assert all(e["symbol"] == tiny_spec.new_token for e in steps)
    assert there.verdict["sentence"] and there.to_dict()["config"]["workers_used"] == 2


def test_a_stop_reaches_the_workers_and_skips_the_rest(base, tiny_spec):
    events: list[dict] = []
    result = run_comparison(tiny_spec, base, _config(), backend=_on(2), emit=events.append,
                            should_stop=lambda: any(e["type"] == "member" and e["status"] == "done" for e in events))
    assert result.stopped
    assert 1 <= len(result.members) <= 2  # the member finished first, perhaps the one beside it


def test_a_worker_that_dies_is_named_and_earlier_members_are_kept(base, tiny_spec):
    kept: list[str] = []
    with pytest.raises(WorkerDied) as err:
        run_comparison(tiny_spec, base, _config(), backend=_on(2), write_adapter=die_on_random,
                       keep_adapter=lambda task, folder: kept.append(task.name))
    assert "random (seed 0)" in str(err.value) or "random (seed 1)" in str(err.value)
    assert "exit code 9" in str(err.value) and "workers = 1" in str(err.value)
    assert all(name.startswith("average") for name in kept)


def test_automatic_workers():
    assert auto_workers(15, 1_000_000) == 1  # a tiny model: start-up outweighs the gain
    assert auto_workers(15, 135_000_000, device="cuda") == 1
    assert auto_workers(1, 135_000_000) == 1
    assert 1 <= auto_workers(15, 135_000_000) <= 4


def test_a_seed_independent_member_waits_for_its_first_seed_elsewhere(tiny_spec):
    plan = Plan((tiny_spec,), InitConfig(), FinetuneConfig(), 8)
    tasks = tasks_of(CompareConfig(strategies=["average", "random"], seeds=2), 1)
    members = CompareMembers(tasks, MemberWork(plan))
    assert [(t.strategy, t.seed) for t in tasks] == [("average", 0), ("random", 0), ("average", 1), ("random", 1)]
    running = [tasks[0]]  # average seed 0 is being initialized by worker 0
    pending = tasks[1:]
    assert members.next_task(pending, running) == tasks[1]
    pending = [tasks[2], tasks[3]]  # average seed 1 would redo seed 0's work: random seed 1 goes first
    assert members.next_task(pending, running) == tasks[3]
    assert members.next_task([tasks[2]], running) == tasks[2]  # nothing else ready: it runs anyway
    assert MemberTask(0, 0, "average", 1).name == "average-s1"


def test_automatic_workers_for_a_tiny_model_mean_this_process(base):
    assert WorkerProcesses(workers=0).place(4, base) == (1, "this process")
    assert WorkerProcesses(workers=3).place(2, base) == (2, "2 worker processes")  # no more workers than members
    assert WorkerProcesses(workers=2).place(1, base) == (1, "this process")


def test_a_vocabulary_comparison_in_two_workers_gives_the_rows_of_one_after_another(base):
    import json

    from core.experiment.vocabulary.compare import compare_vocabulary
    from core.experiment.vocabulary.load import load_vocabulary
    from core.spec.gloss import builtin_examples

    two = [json.loads(builtin_examples()[name].read_text(encoding="utf-8")) for name in ("wool_shop", "to_brush_teeth")]
    vocab = load_vocabulary(two, base.tokenizer)
    config = CompareConfig(strategies=["average", "random_both"], seeds=1, max_new_tokens=3,
                           finetune=FinetuneConfig(epochs=1, batch_size=30, grad_accum=1))
    here = compare_vocabulary(vocab, base, config, backend=_on(1))
    events: list[dict] = []
    there = compare_vocabulary(vocab, base, config, backend=_on(2), emit=events.append)
    assert (here.workers, here.where, there.workers, there.where) == (1, "this process", 2, "2 worker processes")
    assert there.to_dict()["config"]["workers"] == 2 and there.to_dict()["config"]["backend"] == "local"
    compared, gap = 0, 0.0
    for a, b in zip(here.symbols, there.symbols, strict=True):
        assert [m["name"] for m in a.members] == [m["name"] for m in b.members] == ["average-s0", "random_both-s0"]
        for x, y in zip(a.members, b.members):
            for key, value in x["row"].items():
                if key in TIMES + ("seconds",):
                    continue
                if isinstance(value, float):
                    assert math.isclose(y["row"][key], value, rel_tol=1e-4, abs_tol=1e-5), (x["name"], key)
                    compared += 1
                    gap = max(gap, abs(y["row"][key] - value) / max(abs(value), 1e-12))
                else:
                    assert y["row"][key] == value, (x["name"], key)
    print(f"vocabulary comparison, 2 workers vs one after another: {compared} numbers, largest relative gap {gap:.2e}")
    assert compared > 20  # the numbers were there to compare
    # Both members ran in worker processes, their events tagged, each started and finished once.
    members = [e for e in events if e["type"] == "member"]
    assert sorted(e["index"] for e in members if e["status"] == "start") == [0, 1]
    assert sorted(e["index"] for e in members if e["status"] == "done") == [0, 1]
    assert all("on 2 symbols" in e["message"] for e in members if e["status"] == "start")
    steps = [e for e in events if e["type"] == "step"]
    assert {(e["strategy"], e["seed"]) for e in steps} == {("average", 0), ("random_both", 0)}
