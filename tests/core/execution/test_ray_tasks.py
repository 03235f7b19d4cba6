"""core/execution/ray_tasks.py: comparison members as Ray tasks give the rows they give here; a worker that dies
is retried once, then its member is marked failed while the others go on; bad addresses, clusters too
small and workers without the model are refused by name; the default path never imports Ray.

The Ray tests share one local instance with 2 CPUs (``ray2``), ended after the last of them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from core.execution import BackendConfig, backend_for
from core.execution.ray_tasks import RayTasks, _member_task, check_address
from core.experiment.single.compare import CompareConfig, run_comparison
from core.spec.errors import InputError
from core.train.finetune import FinetuneConfig

ROOT = Path(__file__).resolve().parents[3]
TIMES = ("time_per_epoch_s", "init_seconds")
QUICK = dict(epochs=1, batch_size=2, grad_accum=1, learning_rate=1e-2)


def _config(**kw) -> CompareConfig:
    return CompareConfig(strategies=["average", "random"], seeds=2, finetune=FinetuneConfig(**QUICK), **kw)


def write_name(member, folder: Path) -> None:
    """An adapter writer a Ray worker can import: which process wrote which member."""
    (folder / "name.txt").write_text(f"{member.name} {os.getpid()}")


def die(member, folder: Path, marker: str) -> None:
    """average-s0's worker dies the first time (a retry finishes it); random-s1's worker dies every time."""
    if member.name == "average-s0" and not Path(marker).exists():
        Path(marker).write_text("died once")
        os._exit(9)
    if member.name == "random-s1":
        os._exit(9)
    write_name(member, folder)


def test_ray_members_give_the_rows_of_this_process(base, tiny_spec, ray2):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a Ray member uses ray_cpus = 1 thread: the same sums in the same order
    try:
        here = run_comparison(tiny_spec, base, _config(), backend=backend_for(BackendConfig(workers=1)))
    finally:
        torch.set_num_threads(threads)
    events: list[dict] = []
    kept: list[tuple[str, str]] = []
    backend = backend_for(BackendConfig(backend="ray")).connect()
    there = run_comparison(tiny_spec, base, _config(), emit=events.append, backend=backend,
                           write_adapter=write_name,
                           keep_adapter=lambda task, folder: kept.append((task.name, (folder / "name.txt").read_text())))
    assert there.where.startswith("ray: a local Ray instance (1 node, 2 CPUs") and there.workers == 2
    assert here.to_dict()["config"]["where"] == "this process"
    assert [m["name"] for m in there.members] == [m["name"] for m in here.members]
    for a, b in zip(here.members, there.members):
        for key, value in a["row"].items():
            if key in TIMES:
                continue
            if isinstance(value, float):
                assert math.isclose(b["row"][key], value, rel_tol=1e-6, abs_tol=1e-6), (a["name"], key)
            else:
                assert b["row"][key] == value, (a["name"], key)
        curve = [(e["step"], e["loss"], e["eval_loss"]) for e in a["finetune"]["history"]]
        other = [(e["step"], e["loss"], e["eval_loss"]) for e in b["finetune"]["history"]]
        assert len(curve) == len(other) > 1
        for x, y in zip(curve, other):
            assert x[0] == y[0] and all(u == v or math.isclose(u, v, rel_tol=1e-6, abs_tol=1e-6)
                                        for u, v in zip(x[1:], y[1:]))
    for a, b in zip(here.rows, there.rows):
        assert a["strategy"] == b["strategy"] and a["eval_loss"] == pytest.approx(b["eval_loss"], rel=1e-6)
        print(f"{a['strategy']}: eval_loss here {a['eval_loss']} on Ray {b['eval_loss']}; mrr_positive_after "
              f"here {a['mrr_positive_after']} on Ray {b['mrr_positive_after']}")
    # Adapters were written in Ray workers and handed back here; events streamed in, tagged.
    assert sorted(n for n, _ in kept) == sorted(m["name"] for m in here.members)
    assert str(os.getpid()) not in {text.split()[1] for _, text in kept}
    steps = [e for e in events if e["type"] == "step"]
    assert {(e["strategy"], e["seed"]) for e in steps} == {("average", 0), ("random", 0), ("average", 1), ("random", 1)}
    done = [e for e in events if e["type"] == "member" and e["status"] == "done"]
    assert sorted(e["index"] for e in done) == [0, 1, 2, 3]
    for e in done:  # a member's steps all arrive before its "done"
        assert max(i for i, s in enumerate(events) if s["type"] == "step" and s["seed"] == e["seed"]
                   and s["strategy"] == e["strategy"]) < events.index(e)


def test_a_vocabulary_comparison_on_ray_gives_the_rows_of_this_process(base, ray2):
    """vocab compare's members (strategy × seed, each over every symbol) as Ray tasks."""
    import torch

    from core.experiment.vocabulary.compare import compare_vocabulary
    from core.experiment.vocabulary.load import load_vocabulary
    from core.spec.gloss import builtin_examples
    from tests.conftest import short

    two = [short(json.loads(builtin_examples()[name].read_text(encoding="utf-8"))) for name in ("wool_shop", "to_brush_teeth")]
    vocab = load_vocabulary(two, base.tokenizer)
    config = CompareConfig(strategies=["average", "random_both"], seeds=1, max_new_tokens=3,
                           finetune=FinetuneConfig(epochs=1, batch_size=10, grad_accum=1))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a Ray member with ray_cpus = 1
    try:
        here = compare_vocabulary(vocab, base, config, backend=backend_for(BackendConfig(workers=1)))
    finally:
        torch.set_num_threads(threads)
    events: list[dict] = []
    there = compare_vocabulary(vocab, base, config, backend=RayTasks().connect(), emit=events.append)
    assert there.where.startswith("ray: a local Ray instance") and there.workers == 2 and not there.failed
    for a, b in zip(here.symbols, there.symbols, strict=True):
        assert [m["name"] for m in a.members] == [m["name"] for m in b.members] == ["average-s0", "random_both-s0"]
        for x, y in zip(a.members, b.members):
            for key, value in x["row"].items():
                if key in TIMES:
                    continue
                if isinstance(value, float):
                    assert math.isclose(y["row"][key], value, rel_tol=1e-4, abs_tol=1e-5), (x["name"], key)
                else:
                    assert y["row"][key] == value, (x["name"], key)
    done = [e for e in events if e["type"] == "member" and e["status"] == "done"]
    assert sorted(e["index"] for e in done) == [0, 1]
    assert {(e["strategy"], e["seed"]) for e in events if e["type"] == "step"} == {("average", 0), ("random_both", 0)}


def test_a_dead_worker_is_retried_once_then_its_member_fails_and_the_rest_go_on(base, tiny_spec, ray2, tmp_path):
    events: list[dict] = []
    kept: list[str] = []
    backend = RayTasks(cpus=1).connect()
    result = run_comparison(tiny_spec, base, _config(), emit=events.append, backend=backend,
                            write_adapter=partial(die, marker=str(tmp_path / "died")),
                            keep_adapter=lambda task, folder: kept.append(task.name))
    assert (tmp_path / "died").exists()  # average-s0's first worker died …
    assert sorted(kept) == ["average-s0", "average-s1", "random-s0"]  # … and its retry finished it
    assert [f["strategy"] + f"-s{f['seed']}" for f in result.failed] == ["random-s1"]
    assert "died 2 times" in result.failed[0]["reason"]
    assert [m["name"] for m in result.members] == ["average-s0", "random-s0", "average-s1"]
    assert {r["strategy"]: r["seeds"] for r in result.rows} == {"average": 2, "random": 1}
    data = result.to_dict()
    assert data["failed"][0]["symbol"] == tiny_spec.new_token and json.dumps(data)
    assert any(e.get("retry") for e in events if e["type"] == "member" and e["status"] == "start")
    assert any(e["status"] == "failed" for e in events if e["type"] == "member")


def test_a_stop_reaches_every_ray_task(base, tiny_spec, ray2):
    events: list[dict] = []
    result = run_comparison(tiny_spec, base, _config(), emit=events.append,
                            backend=RayTasks().connect(),
                            should_stop=lambda: any(e["type"] == "step" for e in events))
    assert result.stopped and len(result.members) <= 2 and not result.failed


def test_a_cluster_without_the_resources_is_refused_by_setting(ray2):
    with pytest.raises(InputError) as err:
        RayTasks(cpus=3).connect()
    assert err.value.problems[0].field == "ray_cpus" and "2 CPUs" in err.value.problems[0].problem
    with pytest.raises(InputError) as err:
        RayTasks(gpus=1.0).connect()
    assert err.value.problems[0].field == "ray_gpus" and "set ray_gpus to 0" in err.value.problems[0].fix


def test_an_unreachable_address_is_refused_before_anything_starts():
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError) as err:
        check_address(f"127.0.0.1:{port}")
    assert err.value.problems[0].field == "ray_address" and "ray start --head" in err.value.problems[0].fix
    with pytest.raises(InputError) as err:
        check_address("no-port-here")
    assert "host:port" in err.value.problems[0].problem


def test_a_worker_without_the_model_is_an_input_error_naming_model(tiny_spec, tmp_path, monkeypatch):
    from core.embedding.strategies import InitConfig
    from core.experiment.single.members import MemberTask, MemberWork, Plan

    class Hub:  # what the task asks of the event actor, without Ray
        def __getattr__(self, name):
            return type("M", (), {"remote": staticmethod(lambda *a: None)})

    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray, "get", lambda ref: False)  # the stop flag and the last events, without Ray running
    message = _member_task(MemberTask(0, 0, "average", 0), MemberWork(Plan((tiny_spec,), InitConfig(),
                           FinetuneConfig(**QUICK), 8)), str(tmp_path / "gone"), "tiny", None, None, Hub(), 1, "run")
    problems = message.payload
    assert message.kind == "input_error" and problems[0].field == "model" and "backend local" in problems[0].fix


def test_settings_an_address_means_ray_and_the_default_never_imports_ray(monkeypatch):
    assert backend_for(BackendConfig()).label == "local"
    assert BackendConfig(ray_address=" 10.0.0.5:6379 ").backend == "ray"
    monkeypatch.setenv("GLOSSLAB_RAY_ADDRESS", "10.0.0.9:6379")
    assert backend_for(BackendConfig(backend="ray")).address == "10.0.0.9:6379"
    assert backend_for(BackendConfig()).label == "local"
    with pytest.raises(InputError) as err:
        BackendConfig(backend="slurm")
    assert err.value.problems[0].field == "backend"
    code = ("import sys; from core.runs.submit import submit_comparison; from core.execution import backend_for; "
            "from core.execution import BackendConfig; backend_for(BackendConfig()); "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_bad_ray_settings_exit_2_and_leave_the_run_store_as_it_was(capsys, tmp_path, ray2):
    from tests.conftest import tiny_spec_dict
    from tests.core.cli.conftest import run

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(tiny_spec_dict()), encoding="utf-8")
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "keep.txt").write_text("an earlier run")
    common = ["compare", spec, "--model", "tiny-random", "--no-progress", "--runs", runs, "--strategies", "average",
              "--seeds", "1", "--epochs", "1", "--batch-size", "2"]
    code, out, err = run(capsys, *common, "--backend", "ray", "--ray-cpus", "4")  # the test instance has 2 CPUs
    assert code == 2 and "ray_cpus" in err and out == "", err
    ray2.shutdown()  # nothing running: the address below is joined, not the test's instance
    code, out, err = run(capsys, *common, "--ray-address", f"127.0.0.1:{_free_port()}")
    assert code == 2 and "ray_address" in err and "ray start --head" in err, err
    assert sorted(p.name for p in runs.iterdir()) == ["keep.txt"]


def test_the_page_s_door_refuses_an_unreachable_cluster_and_lists_the_ray_settings(tmp_path):
    """The Compare tab's settings come from CompareConfig and BackendConfig: the Ray ones are there, and a bad address
    reaches the page as an InputError naming ray_address, with no run queued."""
    from core.service import Service
    from tests.conftest import tiny_spec_dict

    svc = Service(tiny=True, runs_dir=tmp_path / "runs")
    assert svc.models.load(wait=True)["state"] == "ready"
    names = {f["name"]: f for f in svc.settings.describe("compare")}
    assert names["backend"]["choices"] == ["local", "ray"] and names["ray_address"]["kind"] == "str"
    assert names["ray_cpus"]["min"] == 1 and names["ray_gpus"]["kind"] == "float"
    with pytest.raises(InputError) as err:
        svc.jobs.start_comparison(tiny_spec_dict(), {"strategies": ["average"], "seeds": 1, "backend": "ray",
                                                "ray_address": f"127.0.0.1:{_free_port()}"},
                             {}, {"epochs": 1, "batch_size": 2})
    assert err.value.problems[0].field == "ray_address"
    assert not (tmp_path / "runs").exists() or not any(p.is_dir() for p in (tmp_path / "runs").iterdir())
