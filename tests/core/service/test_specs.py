"""Specs for the page: examples, blank specs, checks with and without a tokenizer, uploads, downloads."""


from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.spec.errors import InputError
from core.service import SPEC_FIELDS, Service
from core.spec.fields import LIST_FIELDS
from core.spec.gloss import GlossSpec, builtin_examples
from tests.conftest import tiny_spec_dict



@pytest.fixture(scope="module")
def service(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    return svc


def test_examples_are_the_built_in_specs_and_load_as_dicts():
    svc = Service(tiny=True)
    assert svc.specs.examples() == list(builtin_examples())
    for name in svc.specs.examples():
        spec = svc.specs.example(name)
        assert GlossSpec.from_dict(spec).to_dict() == spec


def test_blank_spec_has_every_field_and_every_missing_list_is_a_problem():
    svc = Service(tiny=True)
    blank = svc.specs.blank()
    assert list(blank) == list(SPEC_FIELDS)
    fields = {p["field"] for p in svc.specs.check(blank, with_tokenizer=False)}
    assert set(LIST_FIELDS) <= fields and "symbol_id" in fields
    assert all(p["fix"] for p in svc.specs.check(blank, with_tokenizer=False))


def test_tokenizer_checks_need_a_loaded_model(service):
    data = tiny_spec_dict()
    assert service.specs.check(data) == []
    data["target_tokens"] = ["wool", "supercalifragilistic"]
    problems = service.specs.check(data)
    assert [p["field"] for p in problems] == ["target_tokens (item 2)"]
    assert service.specs.check(data, with_tokenizer=False) == []
    with pytest.raises(InputError) as err:
        service.specs.spec(data)
    assert err.value.fields == ["target_tokens (item 2)"]


def test_parse_spec_file_valid_malformed_and_partly_wrong():
    svc = Service(tiny=True)
    good = json.dumps(tiny_spec_dict()).encode()
    spec, problems = svc.specs.parse_file(good)
    assert problems == [] and spec["glosses"] == ["wool shop", "yarn shop"]

    spec, problems = svc.specs.parse_file(good[:-20])
    assert spec == {} and problems[0]["field"] == "spec file" and "JSON" in problems[0]["problem"]

    partly = tiny_spec_dict() | {"glosses": "wool shop", "symbol_id": 29111}
    spec, problems = svc.specs.parse_file(json.dumps(partly))
    assert [p["field"] for p in problems] == ["glosses"]
    assert "glosses" not in spec and spec["symbol_id"] == "29111"
    assert spec["positive_contexts"] == partly["positive_contexts"]

    spec, problems = svc.specs.parse_file(b"[1, 2]")
    assert spec == {} and problems[0]["field"] == "spec"


def test_spec_download_round_trips(service):
    path = Path(service.specs.download(tiny_spec_dict()))
    assert path.suffix == ".json" and path.is_relative_to(service.downloads.root)
    assert json.loads(path.read_text(encoding="utf-8")) == GlossSpec.from_dict(tiny_spec_dict()).to_dict()
