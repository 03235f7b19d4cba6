"""Jobs: initializing, starting, queueing and stopping; every user mistake an InputError naming its field."""

from __future__ import annotations

import json

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
