"""The service facade: JSON-able in and out, every user mistake an InputError naming its field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.spec.errors import InputError
from core.service import SPEC_FIELDS, Service
from core.spec.gloss import GlossSpec, LIST_FIELDS, builtin_examples
from tests.conftest import tiny_spec_dict

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.load_model(wait=True)["state"] == "ready"
    return svc


def test_importing_the_service_and_the_ui_does_not_import_torch():
    code = ("import sys, core.service, glossui, glossui.page, glossui.plots, glossui.tabs.vocabulary; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_examples_are_the_built_in_specs_and_load_as_dicts():
    svc = Service(tiny=True)
    assert svc.examples() == list(builtin_examples())
    for name in svc.examples():
        spec = svc.example(name)
        assert GlossSpec.from_dict(spec).to_dict() == spec


def test_blank_spec_has_every_field_and_every_missing_list_is_a_problem():
    svc = Service(tiny=True)
    blank = svc.blank_spec()
    assert list(blank) == list(SPEC_FIELDS)
    fields = {p["field"] for p in svc.check_spec(blank, with_tokenizer=False)}
    assert set(LIST_FIELDS) <= fields and "symbol_id" in fields
    assert all(p["fix"] for p in svc.check_spec(blank, with_tokenizer=False))


def test_tokenizer_checks_need_a_loaded_model(service):
    data = tiny_spec_dict()
    assert service.check_spec(data) == []
    data["target_tokens"] = ["wool", "supercalifragilistic"]
    problems = service.check_spec(data)
    assert [p["field"] for p in problems] == ["target_tokens (item 2)"]
    assert service.check_spec(data, with_tokenizer=False) == []
    with pytest.raises(InputError) as err:
        service.spec(data)
    assert err.value.fields == ["target_tokens (item 2)"]


def test_parse_spec_file_valid_malformed_and_partly_wrong():
    svc = Service(tiny=True)
    good = json.dumps(tiny_spec_dict()).encode()
    spec, problems = svc.parse_spec_file(good)
    assert problems == [] and spec["glosses"] == ["wool shop", "yarn shop"]

    spec, problems = svc.parse_spec_file(good[:-20])
    assert spec == {} and problems[0]["field"] == "spec file" and "JSON" in problems[0]["problem"]

    partly = tiny_spec_dict() | {"glosses": "wool shop", "symbol_id": 29111}
    spec, problems = svc.parse_spec_file(json.dumps(partly))
    assert [p["field"] for p in problems] == ["glosses"]
    assert "glosses" not in spec and spec["symbol_id"] == "29111"
    assert spec["positive_contexts"] == partly["positive_contexts"]

    spec, problems = svc.parse_spec_file(b"[1, 2]")
    assert spec == {} and problems[0]["field"] == "spec"


def test_spec_download_round_trips(service):
    path = Path(service.spec_download(tiny_spec_dict()))
    assert path.suffix == ".json" and path.is_relative_to(service.downloads_dir)
    assert json.loads(path.read_text(encoding="utf-8")) == GlossSpec.from_dict(tiny_spec_dict()).to_dict()


def test_a_model_that_is_not_there_fails_readably_and_the_previous_one_stays(service, tmp_path):
    status = service.load_model(str(tmp_path / "nowhere"), wait=True)
    assert status["state"] == "failed"
    assert status["problems"][0]["field"] == "model" and "does not exist" in status["problems"][0]["problem"]
    assert service.model.get().name == "tiny-random"
    status = service.load_model("", wait=True)   # back to the default (tiny here)
    assert status["state"] == "ready" and status["info"]["hidden_size"] == 64


def test_strategies_and_defaults_are_plain_data():
    svc = Service(tiny=True)
    names = [s["name"] for s in svc.strategies()]
    assert {"optimized", "average", "last_token", "random", "random_both"} <= set(names)
    assert [s["name"] for s in svc.strategies() if s["research"]] == \
        ["optimized", "average", "last_token", "random", "random_both"]
    json.dumps(svc.strategies())
    assert svc.init_defaults()["strategy"] == "average"


def test_init_config_accepts_whole_floats_and_names_wrong_fields():
    svc = Service(tiny=True)
    cfg = svc.init_config(svc.init_defaults() | {"seed": 3.0, "opt_epochs": 5.0})
    assert cfg.seed == 3 and isinstance(cfg.seed, int) and cfg.opt_epochs == 5
    with pytest.raises(InputError) as err:
        svc.init_config(svc.init_defaults() | {"seed": 2.5, "opt_lr": -1.0, "strategy": "nope"})
    assert set(err.value.fields) == {"seed", "opt_lr", "strategy"}


def test_initialize_returns_json_without_tensors(service):
    out = service.initialize(tiny_spec_dict(), service.init_defaults() | {"strategy": "last_token"})
    json.dumps(out, allow_nan=False)
    assert out["strategy"] == "last_token" and out["token"] == "[BLISS_29111]"
    spec = tiny_spec_dict()
    assert len(out["testing"]) == len(spec["testing_positive_contexts"]) + len(spec["testing_negative_contexts"])
    assert [g["prompt"] for g in out["generations"]] == spec["generation_prompts"]
    # the shared base model never gains the token
    assert "[BLISS_29111]" not in service.model.get().tokenizer.get_vocab()


def test_initialize_refuses_an_invalid_spec_before_touching_the_model(service):
    bad = tiny_spec_dict() | {"generation_prompts": ["no placeholder here"]}
    with pytest.raises(InputError) as err:
        service.initialize(bad, service.init_defaults())
    assert err.value.fields == ["generation_prompts (item 1)"]


def test_training_starts_from_the_kept_initialization_with_the_same_settings(service):
    init = service.init_defaults() | {"strategy": "first_token"}
    before = service.initialize(tiny_spec_dict(), init)
    assert len(service._inits) >= 1
    ft = {f["name"]: f["default"] for f in service.settings("finetune")} | {"epochs": 1, "batch_size": 4}
    job = service.start_training(tiny_spec_dict(), init, ft)
    assert not any("first_token" in key for key in service._inits)   # handed over to the job
    done = service.runner.wait(job["id"], timeout=300)
    assert done["status"] == "done", done
    result = service.job(job["id"])["result"]
    # the job's "before" evaluation is the kept initialization's, not a new one
    assert result["evaluation_before"]["testing"] == before["testing"]
    assert result["init"]["seconds"] == before["seconds"]


def test_a_queued_job_reports_its_place_and_stopping_it_keeps_it_from_running(service):
    ft = {f["name"]: f["default"] for f in service.settings("finetune")} | {"epochs": 3, "batch_size": 2}
    first = service.start_training(tiny_spec_dict(), service.init_defaults(), ft)
    second = service.start_training(tiny_spec_dict(), service.init_defaults(), ft)
    assert second["status"] == "queued" and second["position"] >= 1
    assert service.stop_job(second["id"])["status"] == "stopped"
    assert service.runner.wait(first["id"], timeout=300)["status"] == "done"
    assert service.latest_job("train")["id"] == second["id"]
    runs = {r["id"]: r for r in service.runs()}
    assert runs[first["id"]]["status"] == "done" and runs[first["id"]]["targets"] == [first["id"]]
    assert runs[second["id"]]["status"] == "stopped" and runs[second["id"]]["targets"] == []



def test_a_vocabulary_is_checked_as_a_whole_before_anything_starts(tmp_path):
    svc = Service(tiny=True, runs_dir=tmp_path / "runs")
    out = svc.vocabulary(["wool_shop", "lowness_shortness"])
    assert [s["token"] for s in out["symbols"]] == ["[BLISS_29111]", "[BLISS_24918]"]
    assert out["source"] == "built-in: wool_shop lowness_shortness"
    with pytest.raises(InputError) as exc:
        svc.start_vocabulary(["no_such"], [], {"strategy": "nope"}, {"epochs": 0})
    fields = {p.field for p in exc.value.problems}
    assert {"built-in specs", "strategy", "epochs"} <= fields
    with pytest.raises(InputError) as exc:   # the fine-tuning settings only count with finetune_too
        svc.start_vocabulary(["no_such"], [], {}, {"epochs": 0}, finetune_too=False)
    assert [p.field for p in exc.value.problems] == ["built-in specs"]
    assert svc.store.list() == []
