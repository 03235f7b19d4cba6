"""Jobs: initializing, starting, queueing, stopping and resuming; every user mistake an InputError naming its
field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.spec.errors import InputError
from core.service import Service
from tests.conftest import tiny_spec_dict



@pytest.fixture(scope="module")
def service(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    return svc


def test_initialize_returns_json_without_tensors(service):
    out = service.jobs.initialize(tiny_spec_dict(), service.settings.init_defaults() | {"strategy": "last_token"})
    json.dumps(out, allow_nan=False)
    assert out["strategy"] == "last_token" and out["token"] == "[BLISS_29111]"
    spec = tiny_spec_dict()
    assert len(out["testing"]) == len(spec["testing_positive_contexts"]) + len(spec["testing_negative_contexts"])
    assert [g["prompt"] for g in out["generations"]] == spec["generation_prompts"]
    # the shared base model never gains the token
    assert "[BLISS_29111]" not in service.models.get().tokenizer.get_vocab()


def test_initialize_refuses_an_invalid_spec_before_touching_the_model(service):
    bad = tiny_spec_dict() | {"generation_prompts": ["no placeholder here"]}
    with pytest.raises(InputError) as err:
        service.jobs.initialize(bad, service.settings.init_defaults())
    assert err.value.fields == ["generation_prompts (item 1)"]


def test_training_starts_from_the_kept_initialization_with_the_same_settings(service):
    init = service.settings.init_defaults() | {"strategy": "first_token"}
    before = service.jobs.initialize(tiny_spec_dict(), init)
    assert len(service.jobs._inits) >= 1
    ft = {f["name"]: f["default"] for f in service.settings.describe("finetune")} | {"epochs": 1, "batch_size": 4}
    job = service.jobs.start_training(tiny_spec_dict(), init, ft)
    assert not any("first_token" in key for key in service.jobs._inits)   # handed over to the job
    done = service.jobs.runner.wait(job["id"], timeout=300)
    assert done["status"] == "done", done
    result = service.jobs.get(job["id"])["result"]
    # the job's "before" evaluation is the kept initialization's, not a new one
    assert result["evaluation_before"]["testing"] == before["testing"]
    assert result["init"]["seconds"] == before["seconds"]


def test_a_queued_job_reports_its_place_and_stopping_it_keeps_it_from_running(service):
    ft = {f["name"]: f["default"] for f in service.settings.describe("finetune")} | {"epochs": 3, "batch_size": 2}
    first = service.jobs.start_training(tiny_spec_dict(), service.settings.init_defaults(), ft)
    second = service.jobs.start_training(tiny_spec_dict(), service.settings.init_defaults(), ft)
    assert second["status"] == "queued" and second["position"] >= 1
    assert service.jobs.stop(second["id"])["status"] == "stopped"
    assert service.jobs.runner.wait(first["id"], timeout=300)["status"] == "done"
    assert service.jobs.latest("train")["id"] == second["id"]
    runs = {r["id"]: r for r in service.results.runs()}
    assert runs[first["id"]]["status"] == "done" and runs[first["id"]]["targets"] == [first["id"]]
    assert runs[second["id"]]["status"] == "stopped" and runs[second["id"]]["targets"] == []


def test_a_vocabulary_is_checked_as_a_whole_before_anything_starts(tmp_path):
    svc = Service(tiny=True, runs_dir=tmp_path / "runs")
    out = svc.jobs.vocabulary(["wool_shop", "lowness_shortness"])
    assert [s["token"] for s in out["symbols"]] == ["[BLISS_29111]", "[BLISS_24918]"]
    assert out["source"] == "built-in: wool_shop lowness_shortness"
    with pytest.raises(InputError) as exc:
        svc.jobs.start_vocabulary(["no_such"], [], {"strategy": "nope"}, {"epochs": 0})
    fields = {p.field for p in exc.value.problems}
    assert {"built-in specs", "strategy", "epochs"} <= fields
    with pytest.raises(InputError) as exc:   # the fine-tuning settings only count with finetune_too
        svc.jobs.start_vocabulary(["no_such"], [], {}, {"epochs": 0}, finetune_too=False)
    assert [p.field for p in exc.value.problems] == ["built-in specs"]
    assert svc.jobs.store.list() == []


def test_a_comparison_s_own_settings_and_where_it_runs_are_checked_together(service):
    with pytest.raises(InputError) as err:
        service.jobs.start_comparison(tiny_spec_dict(), {"strategies": ["average"], "seeds": 0, "workers": -1},
                                      {}, {"epochs": 1, "batch_size": 2})
    assert err.value.fields == ["seeds", "workers"]
    assert not any(j["kind"] == "compare" for j in service.jobs.runner.list())


# -- resuming an interrupted run --------------------------------------------------------------------

def interrupted(store, kind: str, spec: dict, config: dict, title: str = "") -> str:
    """A run whose process is gone (its status says running, its owner a process that does not exist),
    as a SIGKILL leaves it."""
    run_id = store.create(kind, spec, config, title=title, status="running")
    status_file = store.path(run_id) / "status.json"
    data = json.loads(status_file.read_text())
    data["owner"] = {**data["owner"], "pid": 2**22 + 12345, "start_time": "1"}
    status_file.write_text(json.dumps(data))
    assert store.status(run_id)["status"] == "interrupted"
    return run_id


def interrupted_comparison(store, model: str = "tiny-random") -> str:
    """A comparison of one strategy on the tiny spec, killed before its member finished, with the
    config ``submit_comparison`` stores."""
    from core.experiment.single.compare import CompareConfig
    from core.train.finetune import FinetuneConfig

    compare = CompareConfig(strategies=["average"], seeds=1, max_new_tokens=2,
                            finetune=FinetuneConfig(epochs=1, batch_size=2, grad_accum=1))
    return interrupted(store, "compare", tiny_spec_dict(), {"kind": "compare", "model": model, **compare.to_dict()},
                       title="wool shop: average × 1 seed")


def interrupted_vocab_finetune(store, model: str = "tiny-random") -> tuple[str, Path]:
    """A vocabulary's fine-tuning killed after a checkpoint of step 4 (the checkpoint as ``publish`` writes
    one, from a stand-in for the Trainer's folder; resuming it checks, it does not train)."""
    from tests.core.runs.test_resume import FINETUNE, _with_checkpoint

    run_id = interrupted(store, "vocab", {"source": "list", "specs": []}, {**FINETUNE, "model": model},
                         title="3 symbols: average")
    return run_id, _with_checkpoint(store, run_id)


def test_an_interrupted_comparison_resumes_in_its_own_folder_as_a_job(tmp_path):
    svc = Service(tiny=True, runs_dir=tmp_path / "runs")
    assert svc.models.load(wait=True)["state"] == "ready"
    try:
        run_id = interrupted_comparison(svc.jobs.store)
        plan = svc.jobs.resume_plan(run_id)
        assert plan["kind"] == "compare" and plan["members_done"] == [] and plan["members_total"] == 1
        job = svc.jobs.resume(run_id)
        assert job["id"] == run_id and job["kind"] == "compare" and job["status"] in ("queued", "running")
        assert svc.jobs.latest("compare")["id"] == run_id
        assert svc.jobs.runner.wait(run_id, timeout=300)["status"] == "done"
        done = svc.jobs.get(run_id)
        assert [r["strategy"] for r in done["rows"]] == ["average"]
        assert svc.jobs.store.status(run_id)["resumed"] == 1 and svc.jobs.store.adapters(run_id) == ["average-s0"]
        with pytest.raises(InputError) as err:   # once done, it is not interrupted any more
            svc.jobs.resume(run_id)
        assert err.value.fields == ["run"] and "is done, not interrupted" in str(err.value)
    finally:
        svc.shutdown()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_what_cannot_be_resumed_names_the_run_and_writes_nothing(service):
    store = service.jobs.store
    other_model = interrupted_comparison(store, model="someone/else")
    init_only = interrupted(store, "vocab", {"source": "list", "specs": []},
                            {"kind": "vocab", "action": "init", "model": "tiny-random"})
    finetune, _ = interrupted_vocab_finetune(store)
    assert service.jobs.resume_plan(finetune)["checkpoint"]["step"] == 4
    (store.checkpoint_path(finetune) / "optimizer.pt").write_bytes(b"\x01" * 64)
    before = _files(store.root)
    cases = {other_model: "was made with 'someone/else', not 'tiny-random'", init_only: "without training",
             finetune: "is damaged", "no-such-run": "no run 'no-such-run'", "": "no run was chosen"}
    for run_id, words in cases.items():
        with pytest.raises(InputError) as err:
            service.jobs.resume(run_id)
        assert err.value.fields == ["run"] and words in str(err.value), str(err.value)
    assert _files(store.root) == before
    assert service.jobs.resume_plan(other_model)["model"] == "someone/else"   # checked without a model


def test_a_run_of_a_model_not_loaded_asks_for_it(tmp_path):
    svc = Service(tiny=True, runs_dir=tmp_path / "runs")   # nothing loaded
    run_id = interrupted_comparison(svc.jobs.store)
    with pytest.raises(InputError) as err:
        svc.jobs.resume(run_id)
    assert err.value.fields == ["run"] and "load 'tiny-random'" in str(err.value)
    assert svc.jobs.store.status(run_id)["status"] == "interrupted"


LOOSE_DRAFT = {"generate": 2, "batch_symbols": 1, "positive_rank": 50_000, "negative_rank": 1}


def test_a_vocabulary_draft_from_the_lexicon_checks_everything_at_once_then_runs_as_a_job(service):
    before = len(service.jobs.store.list())
    with pytest.raises(InputError) as err:   # every problem of the selection and the settings at once
        service.jobs.start_vocab_draft("all", pos="verb", limit=0.0, settings={"generate": -1, "seed": 1.5})
    assert sorted(err.value.fields) == ["generate", "limit", "pos", "seed"]
    assert all(p.fix for p in err.value.problems)
    cases = [(("ids", " , "), "ids", "is empty"), (("ids", "99999999 x1"), "ids", "selection is empty"),
             (("letters",), "which", "choose ids or a part of the lexicon"),
             (("ids", "16228", None, None, {"nope": 1}), "nope", "not a setting of the drafting settings")]
    for args, field, words in cases:
        with pytest.raises(InputError) as err:
            service.jobs.start_vocab_draft(*args, **({} if len(args) > 2 else {"settings": LOOSE_DRAFT}))
        assert err.value.fields == [field] and words in str(err.value)
    assert len(service.jobs.store.list()) == before
    job = service.jobs.start_vocab_draft("ids", "16228, 99999999\n29111", limit=2.0, settings=LOOSE_DRAFT)
    json.dumps(job)
    assert job["kind"] == "vocab_draft" and job["config"]["unknown_ids"] == ["99999999"]
    assert job["config"]["header"]["selection"] == {"ids": ["16228", "99999999", "29111"], "lexicon": None,
                                                    "pos": None, "limit": 2}
    assert service.jobs.runner.wait(job["id"], timeout=300)["status"] == "done"
    done = service.jobs.get(job["id"])
    assert done["result"]["symbols"] == 2 and done["progress"]["fraction"] == 1.0
    assert service.jobs.latest("vocab_draft")["id"] == job["id"]
    files = service.results.drafted_files(job["id"])
    drafted = [json.loads(line) for line in Path(files["vocabulary"]).read_text().splitlines()]
    assert Path(files["vocabulary"]).name == f"{job['id']}.jsonl" and len(drafted) == done["result"]["drafted"]
    assert service.jobs.vocabulary([], [files["vocabulary"]])["symbols"][0]["token"] == drafted[0]["new_token"]
    assert len(Path(files["report"]).read_text().splitlines()) == 2
    with pytest.raises(InputError) as err:
        service.results.drafted_files(service.jobs.store.create("finetune", {}, {}))
    assert err.value.fields == ["job_id"]
